// Small helpers shared by the client and server parsers in parser.hpp: argument
// splitting and number parsing, with nats-server 2.9.10's exact rules. Header-only
// and allocation-free, because they run once per message on the hot path.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
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

/// True for the bytes PUB/HPUB arguments are split on.
constexpr bool is_space_tab(char c) noexcept { return c == ' ' || c == '\t'; }

/// Whether find_space_tab may read 8 bytes at a time: it relies on the first
/// byte in memory being the lowest of a loaded word.
inline constexpr bool word_scan = std::endian::native == std::endian::little;

/// Bit 7 of a byte of the result is set where `word` holds a byte below 0x21
/// (so ' ', '\t', and the other control bytes; never bytes >= 0x80). The lowest
/// flagged byte is always a true one; bytes above it may be flagged falsely (a
/// borrow), so only the lowest may be used.
constexpr std::uint64_t low_bytes(std::uint64_t word) noexcept {
  constexpr std::uint64_t below = 0x2121212121212121;  // each byte '!' (0x21)
  constexpr std::uint64_t highs = 0x8080808080808080;
  return (word - below) & ~word & highs;
}

/// Index of the first ' ' or '\t' in text[from, to), or `to`. text[0, to) must
/// be readable. Reads 8 bytes at a time and looks for any byte below 0x21 (one
/// subtraction per word), then checks the byte found: tokens rarely hold
/// control bytes. A last piece shorter than 8 is read as the word ending at
/// `to` with the bytes before `from` shifted out.
inline std::size_t find_space_tab(const char* text, std::size_t from, std::size_t to) noexcept {
  if constexpr (word_scan) {
    std::uint64_t word;
    while (from < to) {
      std::size_t base = from;  // text[base] is the lowest byte of word
      if (to - from >= 8) {
        std::memcpy(&word, text + from, 8);
      } else if (to >= 8) {
        std::memcpy(&word, text + to - 8, 8);
        word >>= 8 * (8 - (to - from));  // drop the bytes before `from`; zeros become 0x00
        // Shifted-in zero bytes are below 0x21 too: only bytes before `to` count.
      } else {
        break;
      }
      const std::uint64_t hits = low_bytes(word);
      if (hits == 0) {
        from += 8;
        continue;
      }
      const std::size_t at = base + static_cast<std::size_t>(std::countr_zero(hits)) / 8;
      if (at >= to) return to;  // only a shifted-in zero
      if (is_space_tab(text[at])) return at;
      from = at + 1;  // another control byte inside a token: look on from the next one
    }
    if (from >= to) return to;
  }
  while (from < to && !is_space_tab(text[from])) ++from;
  return from;
}

/// Arguments of PUB/HPUB/MSG/HMSG once split and checked.
struct message_args {
  std::string_view subject;
  std::string_view reply;
  std::string_view sid;               ///< MSG/HMSG only
  std::int64_t header_size = -1;      ///< -1: no headers (PUB/MSG)
  std::int64_t total_size = 0;
  std::string_view header_size_text;  ///< the header size argument as sent
  std::string_view total_size_text;   ///< the total size argument as sent
};

/// What split_pub_args found wrong, in nats-server's order of checks.
enum class pub_args_status : std::uint8_t {
  ok,
  bad_arguments,    ///< wrong token count, or total size not a 1-9 digit number
  bad_header_size,  ///< HPUB header size not a 1-9 digit number, or over the total
};

/// Most digits in a client's size (nats-server maxParseSizeLen: "999M").
inline constexpr std::size_t max_size_digits = 9;
/// Most digits in a server's MSG/HMSG size: any 18 digits fit an int64.
inline constexpr std::size_t max_long_size_digits = 18;

/// 1 to max_digits ASCII digits, leading zeros allowed, no sign, as a
/// number; -1 for anything else. max_digits must be at most 18.
constexpr std::int64_t parse_decimal(std::string_view digits, std::size_t max_digits) noexcept {
  if (digits.empty() || digits.size() > max_digits) return -1;
  std::int64_t value = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return -1;
    value = value * 10 + (c - '0');
  }
  return value;
}

/// nats-server's parseSize: 1 to 9 ASCII digits (so at most 999,999,999),
/// leading zeros allowed, no sign. Returns -1 for anything else.
constexpr std::int64_t parse_size(std::string_view digits) noexcept {
  return parse_decimal(digits, max_size_digits);
}

/// The last space/tab-separated token of text[0, end): sets `token` to it,
/// moves `end` to its first byte, and returns its value by parse_size's rules
/// (-1 unless 1 to 9 digits), parsed during the same backward scan.
inline std::int64_t last_size_token(const char* text, std::size_t& end,
                                    std::string_view& token) noexcept {
  std::size_t stop = end;
  while (stop > 0 && is_space_tab(text[stop - 1])) --stop;
  std::size_t begin = stop;
  std::uint64_t value = 0;  // wraps harmlessly for long tokens, which are rejected
  std::uint64_t scale = 1;
  bool digits = true;
  while (begin > 0) {
    const char c = text[begin - 1];
    const auto digit = static_cast<std::uint64_t>(static_cast<unsigned char>(c)) - '0';
    if (digit <= 9) {
      value += digit * scale;
      scale *= 10;
    } else if (is_space_tab(c)) {
      break;
    } else {
      digits = false;
    }
    --begin;
  }
  token = std::string_view(text + begin, stop - begin);
  end = begin;
  if (!digits || token.empty() || token.size() > max_size_digits) return -1;
  return static_cast<std::int64_t>(value);
}

/// Splits the arguments of PUB (`PUB <subject> [reply] <size>`) or, with
/// Headers, HPUB (`HPUB <subject> [reply] <header size> <total size>`) on runs
/// of spaces and tabs, with the result of split_args<space_tab> followed by
/// nats-server's checks (processPub / processHeaderPub), in fewer passes: the
/// sizes are the last tokens, found by scanning back from the end; the subject
/// is the first token; the reply is whatever single token lies between. Each
/// byte is looked at about once.
template <bool Headers>
[[gnu::always_inline]] inline pub_args_status split_pub_args(std::string_view arg,
                                                            message_args& out) noexcept {
  const char* const text = arg.data();
  std::size_t begin = arg.size();
  out.total_size = last_size_token(text, begin, out.total_size_text);
  if constexpr (Headers) {
    out.header_size = last_size_token(text, begin, out.header_size_text);
  } else {
    out.header_size = -1;
    out.header_size_text = std::string_view();
  }
  // [0, begin) holds the subject and the optional reply; unless empty, it ends
  // with a separator, so every scan below stops before `begin`.
  std::size_t at = 0;
  while (at < begin && is_space_tab(text[at])) ++at;
  if (at == begin) return pub_args_status::bad_arguments;  // too few tokens
  std::size_t token_end = find_space_tab(text, at, begin);
  out.subject = std::string_view(text + at, token_end - at);
  at = token_end + 1;
  while (at < begin && is_space_tab(text[at])) ++at;
  if (at == begin) {
    out.reply = std::string_view();
  } else {
    token_end = find_space_tab(text, at, begin);
    out.reply = std::string_view(text + at, token_end - at);
    at = token_end + 1;
    while (at < begin && is_space_tab(text[at])) ++at;
    if (at != begin) return pub_args_status::bad_arguments;  // too many tokens
  }
  // nats-server's order: header size, then total size, then their relation.
  if constexpr (Headers) {
    if (out.header_size < 0) return pub_args_status::bad_header_size;
    if (out.total_size < 0) return pub_args_status::bad_arguments;
    if (out.header_size > out.total_size) return pub_args_status::bad_header_size;
  } else {
    if (out.total_size < 0) return pub_args_status::bad_arguments;
  }
  return pub_args_status::ok;
}

/// Like parse_size but accepts up to 18 digits (always fits an int64). Used when
/// reading a server's MSG/HMSG sizes, where the 9-digit cap is not part of the
/// protocol, only an implementation detail of nats-server's own reader.
constexpr std::int64_t parse_long_size(std::string_view digits) noexcept {
  return parse_decimal(digits, max_long_size_digits);
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
