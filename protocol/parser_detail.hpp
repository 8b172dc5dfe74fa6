// Small helpers shared by the client and server parsers in parser.hpp: argument
// splitting and number parsing, with nats-server 2.9.10's exact rules. Header-only
// and allocation-free, because they run once per message on the hot path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace courier::protocol::detail {

/// Which bytes separate arguments. nats-server uses two different sets:
/// processPub/processHeaderPub split on space and tab only (so a stray \r stays
/// inside a token), while splitArg (SUB, UNSUB) also splits on \r and \n.
enum class separators : std::uint8_t {
  space_tab,         ///< ' ' and '\t' (PUB, HPUB)
  space_tab_cr_lf,   ///< ' ', '\t', '\r', '\n' (SUB, UNSUB, and server->client ops)
};

template <separators Sep>
constexpr bool is_separator(char c) noexcept {
  if constexpr (Sep == separators::space_tab) {
    return c == ' ' || c == '\t';
  } else {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  }
}

/// Splits `arg` into runs of non-separator bytes. Stores at most `capacity`
/// tokens in `out` but returns the total count, so a caller can tell "too many"
/// from "just right" without a bigger array.
template <separators Sep>
constexpr std::size_t split_args(std::string_view arg, std::string_view* out,
                                 std::size_t capacity) noexcept {
  std::size_t count = 0;
  std::size_t i = 0;
  const std::size_t n = arg.size();
  while (i < n) {
    while (i < n && is_separator<Sep>(arg[i])) ++i;
    if (i == n) break;
    const std::size_t start = i;
    while (i < n && !is_separator<Sep>(arg[i])) ++i;
    if (count < capacity) out[count] = arg.substr(start, i - start);
    ++count;
  }
  return count;
}

/// nats-server's parseSize: 1 to 9 ASCII digits (so at most 999,999,999),
/// leading zeros allowed, no sign. Returns -1 for anything else.
constexpr std::int64_t parse_size(std::string_view digits) noexcept {
  constexpr std::size_t max_digits = 9;  // nats-server: maxParseSizeLen, "999M"
  if (digits.empty() || digits.size() > max_digits) return -1;
  std::int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

/// Like parse_size but accepts up to 18 digits (always fits an int64). Used when
/// reading a server's MSG/HMSG sizes, where the 9-digit cap is not part of the
/// protocol, only an implementation detail of nats-server's own reader.
constexpr std::int64_t parse_long_size(std::string_view digits) noexcept {
  constexpr std::size_t max_digits = 18;
  if (digits.empty() || digits.size() > max_digits) return -1;
  std::int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

/// A bounded excerpt for logs, like nats-server's protoSnippet.
constexpr std::string_view snippet(std::string_view bytes, std::size_t max) noexcept {
  return bytes.substr(0, bytes.size() < max ? bytes.size() : max);
}

/// nats-server PROTO_SNIPPET_SIZE: how much of the offending input an error logs.
inline constexpr std::size_t proto_snippet_size = 32;
/// nats-server MAX_CONTROL_LINE_SNIPPET_SIZE: excerpt size for an over-long line.
inline constexpr std::size_t control_line_snippet_size = 128;

}  // namespace courier::protocol::detail
