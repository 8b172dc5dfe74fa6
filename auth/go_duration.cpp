#include "auth/go_duration.hpp"

#include <cmath>
#include <cstdint>
#include <utility>

namespace courier::auth {

std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view text) {
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text == "0") return std::chrono::nanoseconds(0);
  if (text.empty()) return std::nullopt;

  // Longest unit names first so "ms" is not read as "m".
  static constexpr std::pair<std::string_view, double> units[] = {
      {"ns", 1.0}, {"us", 1e3}, {"\xC2\xB5s", 1e3}, {"\xCE\xBCs", 1e3}, {"ms", 1e6},
      {"s", 1e9},  {"m", 60e9}, {"h", 3600e9},
  };
  long double total = 0;
  while (!text.empty()) {
    std::size_t i = 0;
    long double value = 0;
    bool digits = false;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      value = value * 10 + (text[i] - '0');
      ++i;
      digits = true;
    }
    if (i < text.size() && text[i] == '.') {
      ++i;
      long double scale = 0.1L;
      while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
        value += (text[i] - '0') * scale;
        scale /= 10;
        ++i;
        digits = true;
      }
    }
    if (!digits) return std::nullopt;
    text.remove_prefix(i);
    std::size_t unit_end = 0;
    while (unit_end < text.size() && text[unit_end] != '.' && (text[unit_end] < '0' || text[unit_end] > '9')) {
      ++unit_end;
    }
    auto unit = text.substr(0, unit_end);
    if (unit.empty()) return std::nullopt;  // Go: missing unit
    bool known = false;
    for (const auto& [name, factor] : units) {
      if (unit == name) {
        total += value * factor;
        known = true;
        break;
      }
    }
    if (!known) return std::nullopt;
    text.remove_prefix(unit_end);
  }
  // Go's limit is the int64 range of nanoseconds (about 292 years).
  if (total > 9.2e18L) return std::nullopt;
  auto ns = static_cast<std::int64_t>(std::llround(static_cast<double>(total)));
  return std::chrono::nanoseconds(negative ? -ns : ns);
}

}  // namespace courier::auth
