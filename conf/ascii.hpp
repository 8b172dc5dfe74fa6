// ASCII helpers for the config language: case folding for keys and
// keywords (nats-server matches them without regard to case) and digits.
#pragma once

#include <string>
#include <string_view>

namespace courier::conf {

/// text with A-Z folded to a-z; every other byte as it is.
inline std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

/// '0'-'9' only (std::isdigit depends on the locale and wants an int).
constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace courier::conf
