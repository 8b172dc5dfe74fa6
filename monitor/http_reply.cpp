#include "monitor/http_reply.hpp"

#include <optional>

namespace courier::monitor {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Go's url.QueryUnescape: `+` is a space, %XX a byte; nullopt for a '%'
/// without two hex digits after it (Go's EscapeError).
std::optional<std::string> decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%') {
      if (i + 2 >= text.size() || hex_value(text[i + 1]) < 0 || hex_value(text[i + 2]) < 0) return std::nullopt;
      out += static_cast<char>(hex_value(text[i + 1]) * 16 + hex_value(text[i + 2]));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace

query_params::query_params(std::string_view target) {
  const auto mark = target.find('?');
  if (mark == std::string_view::npos) return;
  std::string_view rest = target.substr(mark + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    std::string_view pair = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
    // As Go 1.19's url.ParseQuery, whose errors nats-server ignores: a pair
    // holding ';' or a bad escape is left out, the others are kept.
    if (pair.empty() || pair.find(';') != std::string_view::npos) continue;
    const auto eq = pair.find('=');
    auto key = decode(pair.substr(0, eq));
    auto value = eq == std::string_view::npos ? std::optional<std::string>(std::string()) : decode(pair.substr(eq + 1));
    if (!key || !value) continue;
    values_.emplace_back(std::move(*key), std::move(*value));
  }
}

std::string query_params::get(std::string_view name) const {
  for (const auto& [key, value] : values_) {
    if (key == name) return value;
  }
  return {};
}

bool query_params::has(std::string_view name) const {
  for (const auto& entry : values_) {
    if (entry.first == name) return true;
  }
  return false;
}

}  // namespace courier::monitor
