// ASCII case folding for configuration keys and keywords, which nats-server
// matches without regard to case.
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

}  // namespace courier::conf
