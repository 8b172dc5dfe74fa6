#include "conf/duration.hpp"

#include <cstdint>
#include <limits>

#include "conf/ascii.hpp"

namespace courier::conf {

namespace {

/// Nanoseconds per unit, as Go's time package defines them.
std::optional<std::uint64_t> unit_nanoseconds(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\xC2\xB5s" /* µs, U+00B5 */ || unit == "\xCE\xBCs" /* μs, U+03BC */) return 1000;
  if (unit == "ms") return 1000 * 1000;
  if (unit == "s") return 1000ULL * 1000 * 1000;
  if (unit == "m") return 60ULL * 1000 * 1000 * 1000;
  if (unit == "h") return 3600ULL * 1000 * 1000 * 1000;
  return std::nullopt;
}


/// value with `precision` decimal digits after the point, trailing zeros
/// (and a bare point) dropped: (1500, 3) -> "1.5".
std::string with_fraction(std::uint64_t value, int precision) {
  std::uint64_t scale = 1;
  for (int i = 0; i < precision; ++i) scale *= 10;
  std::string out = std::to_string(value / scale);
  std::string fraction = std::to_string(value % scale);
  fraction.insert(0, static_cast<std::size_t>(precision) - fraction.size(), '0');
  while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  if (!fraction.empty()) out += "." + fraction;
  return out;
}

}  // namespace

std::optional<std::chrono::nanoseconds> parse_go_duration(std::string_view text, std::string& error) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  auto invalid = [&] {
    error = "time: invalid duration " + quoted;
    return std::nullopt;
  };
  std::string_view rest = text;
  bool negative = false;
  if (!rest.empty() && (rest[0] == '-' || rest[0] == '+')) {
    negative = rest[0] == '-';
    rest.remove_prefix(1);
  }
  if (rest == "0") return std::chrono::nanoseconds(0);
  if (rest.empty()) return invalid();

  // Accumulate in unsigned nanoseconds; Go allows up to 1<<63 for a
  // negative duration and 1<<63 - 1 for a positive one.
  const std::uint64_t limit = negative ? (1ULL << 63) : (1ULL << 63) - 1;
  std::uint64_t total = 0;
  while (!rest.empty()) {
    // The number: digits, optionally '.', digits; at least one digit.
    std::uint64_t whole = 0;
    bool whole_overflow = false;
    std::size_t i = 0;
    while (i < rest.size() && is_digit(rest[i])) {
      if (whole > (std::numeric_limits<std::uint64_t>::max() - 9) / 10) whole_overflow = true;
      whole = whole * 10 + static_cast<std::uint64_t>(rest[i] - '0');
      ++i;
    }
    const bool had_whole = i > 0;
    std::string_view fraction;
    if (i < rest.size() && rest[i] == '.') {
      const std::size_t start = ++i;
      while (i < rest.size() && is_digit(rest[i])) ++i;
      fraction = rest.substr(start, i - start);
    }
    if (!had_whole && fraction.empty()) return invalid();
    if (whole_overflow) return invalid();
    rest.remove_prefix(i);

    std::size_t unit_end = 0;
    while (unit_end < rest.size() && rest[unit_end] != '.' && !is_digit(rest[unit_end])) ++unit_end;
    if (unit_end == 0) {
      error = "time: missing unit in duration " + quoted;
      return std::nullopt;
    }
    const std::string_view unit_text = rest.substr(0, unit_end);
    const auto unit = unit_nanoseconds(unit_text);
    if (!unit) {
      error = "time: unknown unit \"" + std::string(unit_text) + "\" in duration " + quoted;
      return std::nullopt;
    }
    rest.remove_prefix(unit_end);

    if (whole > limit / *unit) return invalid();
    std::uint64_t value = whole * *unit;
    // The fraction, digit by digit, truncated like Go's.
    std::uint64_t scale = *unit;
    for (char digit : fraction) {
      scale /= 10;
      if (scale == 0) break;
      value += static_cast<std::uint64_t>(digit - '0') * scale;
    }
    if (value > limit || total > limit - value) return invalid();
    total += value;
  }
  if (negative) return std::chrono::nanoseconds(static_cast<std::int64_t>(0 - total));
  return std::chrono::nanoseconds(static_cast<std::int64_t>(total));
}

std::string format_go_duration(std::chrono::nanoseconds duration) {
  const std::int64_t count = duration.count();
  if (count == 0) return "0s";
  const bool negative = count < 0;
  const std::uint64_t magnitude =
      negative ? 0 - static_cast<std::uint64_t>(count) : static_cast<std::uint64_t>(count);
  std::string out;
  constexpr std::uint64_t second = 1000ULL * 1000 * 1000;
  if (magnitude < second) {
    if (magnitude < 1000) out = std::to_string(magnitude) + "ns";
    else if (magnitude < 1000 * 1000) out = with_fraction(magnitude, 3) + "\xC2\xB5s";
    else out = with_fraction(magnitude, 6) + "ms";
  } else {
    const std::uint64_t seconds = magnitude / second;
    out = with_fraction((seconds % 60) * second + magnitude % second, 9) + "s";
    const std::uint64_t minutes = seconds / 60;
    if (minutes > 0) {
      out = std::to_string(minutes % 60) + "m" + out;
      const std::uint64_t hours = minutes / 60;
      if (hours > 0) out = std::to_string(hours) + "h" + out;
    }
  }
  return negative ? "-" + out : out;
}

}  // namespace courier::conf
