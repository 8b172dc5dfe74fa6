// NATS wire-protocol encoders: each appends one operation to a byte buffer
// (std::string, std::vector<char> or anything with size/resize/data of chars),
// growing it once per call and writing in place, so nothing is allocated when
// the buffer already has capacity. Numbers are formatted by hand (no snprintf).
//
// Server -> client: INFO, MSG, HMSG, +OK, -ERR, PING, PONG.
// Client -> server: CONNECT, PUB, HPUB, SUB, UNSUB, PING, PONG.
// The formats are nats-server 2.9.10's byte for byte, e.g. INFO ends with
// " \r\n" and an absent reply is left out (not written as an empty field).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

namespace courier::protocol {

/// A contiguous, resizable buffer of bytes.
template <class Buffer>
concept byte_buffer = requires(Buffer& buffer, std::size_t n) {
  { buffer.size() } -> std::convertible_to<std::size_t>;
  buffer.resize(n);
  { buffer.data() };
} && sizeof(*std::declval<Buffer&>().data()) == 1;

inline constexpr std::string_view ping_line = "PING\r\n";
inline constexpr std::string_view pong_line = "PONG\r\n";
inline constexpr std::string_view ok_line = "+OK\r\n";

namespace encoder_detail {

/// Number of decimal digits of `value` (1 for 0).
constexpr std::size_t decimal_digits(std::uint64_t value) noexcept {
  std::size_t digits = 1;
  while (value >= 10000) {
    value /= 10000;
    digits += 4;
  }
  if (value >= 1000) return digits + 3;
  if (value >= 100) return digits + 2;
  if (value >= 10) return digits + 1;
  return digits;
}

/// Writes exactly `digits` decimal digits of `value` ending at dest + digits.
inline char* write_decimal(char* dest, std::uint64_t value, std::size_t digits) noexcept {
  static constexpr char pairs[] =
      "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
      "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
      "8081828384858687888990919293949596979899";
  char* end = dest + digits;
  char* p = end;
  while (value >= 100) {
    const auto pair = static_cast<std::size_t>(value % 100) * 2;
    value /= 100;
    *--p = pairs[pair + 1];
    *--p = pairs[pair];
  }
  if (value >= 10) {
    const auto pair = static_cast<std::size_t>(value) * 2;
    *--p = pairs[pair + 1];
    *--p = pairs[pair];
  } else {
    *--p = static_cast<char>('0' + value);
  }
  return end;
}

[[gnu::always_inline]] inline char* put(char* dest, std::string_view text) noexcept {
  // Subjects, sids and small payloads are short: copy up to 32 bytes inline
  // with two fixed-size (possibly overlapping) moves instead of a call to
  // memcpy, which costs more than the copy itself at these sizes. Never
  // reads or writes outside [text) and [dest, dest + size).
  const std::size_t n = text.size();
  const char* src = text.data();
  if (n >= 16 && n <= 32) {
    char head[16];
    char tail[16];
    std::memcpy(head, src, 16);
    std::memcpy(tail, src + n - 16, 16);
    std::memcpy(dest, head, 16);
    std::memcpy(dest + n - 16, tail, 16);
  } else if (n >= 8 && n < 16) {
    std::uint64_t head;
    std::uint64_t tail;
    std::memcpy(&head, src, 8);
    std::memcpy(&tail, src + n - 8, 8);
    std::memcpy(dest, &head, 8);
    std::memcpy(dest + n - 8, &tail, 8);
  } else if (n >= 4 && n < 8) {
    std::uint32_t head;
    std::uint32_t tail;
    std::memcpy(&head, src, 4);
    std::memcpy(&tail, src + n - 4, 4);
    std::memcpy(dest, &head, 4);
    std::memcpy(dest + n - 4, &tail, 4);
  } else if (n > 0 && n < 4) {
    // 1 to 3 bytes: first, middle and last cover them all.
    const char first = src[0];
    const char middle = src[n / 2];
    const char last = src[n - 1];
    dest[0] = first;
    dest[n / 2] = middle;
    dest[n - 1] = last;
  } else if (n > 32) {
    std::memcpy(dest, src, n);
  }
  // n == 0: nothing (memcpy with a null source is undefined even for 0 bytes).
  return dest + n;
}

inline char* put(char* dest, char c) noexcept {
  *dest = c;
  return dest + 1;
}

/// Grows `out` by `n` bytes and returns where they start.
template <byte_buffer Buffer>
char* grow(Buffer& out, std::size_t n) {
  const std::size_t old = out.size();
  out.resize(old + n);
  return reinterpret_cast<char*>(out.data()) + old;
}

template <byte_buffer Buffer>
void append_text(Buffer& out, std::string_view text) {
  put(grow(out, text.size()), text);
}

/// `value` in decimal, in a small buffer that a string_view can point into.
struct decimal_text {
  explicit decimal_text(std::uint64_t value) noexcept : size(decimal_digits(value)) {
    write_decimal(digits, value, size);
  }
  std::string_view view() const noexcept { return {digits, size}; }
  // 20 digits at most; 32 bytes because GCC cannot see that put()'s long-copy
  // branch (more than 32 bytes) is never taken for these and warns
  // (-Warray-bounds) about reading past a smaller array.
  char digits[32];
  std::size_t size;
};

}  // namespace encoder_detail

/// Length of the MSG/HMSG control line (with CRLF) that format_msg_prefix writes.
/// header_size < 0 means MSG, otherwise HMSG.
constexpr std::size_t msg_prefix_size(std::string_view subject, std::string_view sid,
                                      std::string_view reply, std::int64_t header_size,
                                      std::size_t payload_size) noexcept {
  const bool headers = header_size >= 0;
  const std::size_t total = payload_size + (headers ? static_cast<std::size_t>(header_size) : 0);
  std::size_t size = (headers ? 5 : 4) + subject.size() + 1 + sid.size() + 1;  // "HMSG " / "MSG "
  if (!reply.empty()) size += reply.size() + 1;
  if (headers) size += encoder_detail::decimal_digits(static_cast<std::uint64_t>(header_size)) + 1;
  return size + encoder_detail::decimal_digits(total) + 2;
}

/// Like msg_prefix_size but with the sizes given as text (header_size_text
/// empty: MSG, else HMSG).
constexpr std::size_t msg_prefix_size_text(std::string_view subject, std::string_view sid,
                                           std::string_view reply, std::string_view header_size_text,
                                           std::string_view total_size_text) noexcept {
  std::size_t size = (header_size_text.empty() ? 4 : 5) + subject.size() + 1 + sid.size() + 1;
  if (!reply.empty()) size += reply.size() + 1;
  if (!header_size_text.empty()) size += header_size_text.size() + 1;
  return size + total_size_text.size() + 2;
}

/// Writes a MSG/HMSG line with the sizes copied as text, for echoing a
/// publisher's size arguments verbatim as nats-server does ("PUB a 002" is
/// delivered as "MSG a <sid> 002"; see basic_parser::size_text()). `dest`
/// must hold msg_prefix_size_text(...) bytes. Returns the end.
[[gnu::always_inline]] inline char* format_msg_prefix_text(char* dest, std::string_view subject, std::string_view sid,
                                    std::string_view reply, std::string_view header_size_text,
                                    std::string_view total_size_text) noexcept {
  using namespace encoder_detail;
  char* p = put(dest, header_size_text.empty() ? std::string_view("MSG ") : std::string_view("HMSG "));
  p = put(p, subject);
  p = put(p, ' ');
  p = put(p, sid);
  p = put(p, ' ');
  if (!reply.empty()) {
    p = put(p, reply);
    p = put(p, ' ');
  }
  if (!header_size_text.empty()) {
    p = put(p, header_size_text);
    p = put(p, ' ');
  }
  p = put(p, total_size_text);
  return put(p, std::string_view("\r\n"));
}

/// Writes the control line of a delivery ("MSG <subject> <sid> [reply] <size>\r\n",
/// or with header_size >= 0 "HMSG <subject> <sid> [reply] <hdr> <hdr+payload>\r\n")
/// to `dest`, which must hold msg_prefix_size(...) bytes. Returns the end.
/// Use it to put the line in a stack buffer and send the shared payload next
/// to it (gather write) without copying the payload.
inline char* format_msg_prefix(char* dest, std::string_view subject, std::string_view sid,
                               std::string_view reply, std::int64_t header_size,
                               std::size_t payload_size) noexcept {
  const bool headers = header_size >= 0;
  const auto header_bytes = headers ? static_cast<std::uint64_t>(header_size) : 0;
  const encoder_detail::decimal_text header_text(header_bytes);
  const encoder_detail::decimal_text total_text(header_bytes + payload_size);
  return format_msg_prefix_text(dest, subject, sid, reply, headers ? header_text.view() : std::string_view(),
                                total_text.view());
}

/// Appends "MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n" with the
/// size written as `size_text` (the publisher's own digits: nats-server echoes
/// them verbatim, "PUB a 002" is delivered as "MSG a <sid> 002"). One growth of
/// the buffer, then straight copies: this runs once per delivery.
template <byte_buffer Buffer>
[[gnu::always_inline]] inline void append_msg_sized(Buffer& out, std::string_view subject, std::string_view sid,
                                                    std::string_view reply, std::string_view size_text,
                                                    std::string_view payload) {
  using encoder_detail::put;
  char* p = encoder_detail::grow(out, msg_prefix_size_text(subject, sid, reply, {}, size_text) + payload.size() + 2);
  p = format_msg_prefix_text(p, subject, sid, reply, {}, size_text);
  p = put(p, payload);
  put(p, std::string_view("\r\n"));
}

/// Appends "HMSG <subject> <sid> [reply] <hdr> <total>\r\n<headers><payload>\r\n"
/// with both sizes given as text (see append_msg_sized).
template <byte_buffer Buffer>
[[gnu::always_inline]] inline void append_hmsg_sized(Buffer& out, std::string_view subject, std::string_view sid,
                                                     std::string_view reply, std::string_view header_size_text,
                                                     std::string_view total_size_text, std::string_view headers,
                                                     std::string_view payload) {
  using encoder_detail::put;
  char* p = encoder_detail::grow(out, msg_prefix_size_text(subject, sid, reply, header_size_text, total_size_text) +
                                          headers.size() + payload.size() + 2);
  p = format_msg_prefix_text(p, subject, sid, reply, header_size_text, total_size_text);
  p = put(p, headers);
  p = put(p, payload);
  put(p, std::string_view("\r\n"));
}

/// Appends "MSG <subject> <sid> [reply] <size>\r\n<payload>\r\n".
template <byte_buffer Buffer>
void append_msg(Buffer& out, std::string_view subject, std::string_view sid,
                std::string_view reply, std::string_view payload) {
  const encoder_detail::decimal_text size(payload.size());
  append_msg_sized(out, subject, sid, reply, size.view(), payload);
}

/// Appends "HMSG <subject> <sid> [reply] <hdr_size> <total_size>\r\n<headers><payload>\r\n".
template <byte_buffer Buffer>
void append_hmsg(Buffer& out, std::string_view subject, std::string_view sid,
                 std::string_view reply, std::string_view headers, std::string_view payload) {
  const encoder_detail::decimal_text header_size(headers.size());
  const encoder_detail::decimal_text total_size(headers.size() + payload.size());
  append_hmsg_sized(out, subject, sid, reply, header_size.view(), total_size.view(), headers, payload);
}

/// Appends "INFO <json> \r\n" (nats-server puts a space before the CRLF).
template <byte_buffer Buffer>
void append_info(Buffer& out, std::string_view json) {
  char* p = encoder_detail::grow(out, 5 + json.size() + 3);
  p = encoder_detail::put(p, std::string_view("INFO "));
  p = encoder_detail::put(p, json);
  encoder_detail::put(p, std::string_view(" \r\n"));
}

/// Appends "-ERR '<text>'\r\n". The text is sent as is (nats-server does not
/// escape quotes either); CR and LF in it are replaced by spaces so the reply
/// stays one line.
template <byte_buffer Buffer>
void append_err(Buffer& out, std::string_view text) {
  char* p = encoder_detail::grow(out, 6 + text.size() + 3);
  p = encoder_detail::put(p, std::string_view("-ERR '"));
  for (char c : text) *p++ = (c == '\r' || c == '\n') ? ' ' : c;
  encoder_detail::put(p, std::string_view("'\r\n"));
}

/// Appends "+OK\r\n".
template <byte_buffer Buffer>
void append_ok(Buffer& out) {
  encoder_detail::append_text(out, ok_line);
}

/// Appends "PING\r\n".
template <byte_buffer Buffer>
void append_ping(Buffer& out) {
  encoder_detail::append_text(out, ping_line);
}

/// Appends "PONG\r\n".
template <byte_buffer Buffer>
void append_pong(Buffer& out) {
  encoder_detail::append_text(out, pong_line);
}

// ---- client -> server ------------------------------------------------------

/// Appends "CONNECT <json>\r\n".
template <byte_buffer Buffer>
void append_connect(Buffer& out, std::string_view json) {
  char* p = encoder_detail::grow(out, 8 + json.size() + 2);
  p = encoder_detail::put(p, std::string_view("CONNECT "));
  p = encoder_detail::put(p, json);
  encoder_detail::put(p, std::string_view("\r\n"));
}

/// Appends "PUB <subject> [reply] <size>\r\n<payload>\r\n".
template <byte_buffer Buffer>
void append_pub(Buffer& out, std::string_view subject, std::string_view reply,
                std::string_view payload) {
  using namespace encoder_detail;
  const std::size_t digits = decimal_digits(payload.size());
  const std::size_t line = 4 + subject.size() + 1 + (reply.empty() ? 0 : reply.size() + 1) + digits + 2;
  char* p = grow(out, line + payload.size() + 2);
  p = put(p, std::string_view("PUB "));
  p = put(p, subject);
  p = put(p, ' ');
  if (!reply.empty()) {
    p = put(p, reply);
    p = put(p, ' ');
  }
  p = write_decimal(p, payload.size(), digits);
  p = put(p, std::string_view("\r\n"));
  p = put(p, payload);
  put(p, std::string_view("\r\n"));
}

/// Appends "HPUB <subject> [reply] <hdr_size> <total_size>\r\n<headers><payload>\r\n".
template <byte_buffer Buffer>
void append_hpub(Buffer& out, std::string_view subject, std::string_view reply,
                 std::string_view headers, std::string_view payload) {
  using namespace encoder_detail;
  const std::size_t total = headers.size() + payload.size();
  const std::size_t header_digits = decimal_digits(headers.size());
  const std::size_t total_digits = decimal_digits(total);
  const std::size_t line = 5 + subject.size() + 1 + (reply.empty() ? 0 : reply.size() + 1) +
                           header_digits + 1 + total_digits + 2;
  char* p = grow(out, line + total + 2);
  p = put(p, std::string_view("HPUB "));
  p = put(p, subject);
  p = put(p, ' ');
  if (!reply.empty()) {
    p = put(p, reply);
    p = put(p, ' ');
  }
  p = write_decimal(p, headers.size(), header_digits);
  p = put(p, ' ');
  p = write_decimal(p, total, total_digits);
  p = put(p, std::string_view("\r\n"));
  p = put(p, headers);
  p = put(p, payload);
  put(p, std::string_view("\r\n"));
}

/// Appends "SUB <subject> [queue] <sid>\r\n".
template <byte_buffer Buffer>
void append_sub(Buffer& out, std::string_view subject, std::string_view queue, std::string_view sid) {
  using namespace encoder_detail;
  char* p = grow(out, 4 + subject.size() + 1 + (queue.empty() ? 0 : queue.size() + 1) + sid.size() + 2);
  p = put(p, std::string_view("SUB "));
  p = put(p, subject);
  p = put(p, ' ');
  if (!queue.empty()) {
    p = put(p, queue);
    p = put(p, ' ');
  }
  p = put(p, sid);
  put(p, std::string_view("\r\n"));
}

/// Appends "UNSUB <sid>[ <max>]\r\n".
template <byte_buffer Buffer>
void append_unsub(Buffer& out, std::string_view sid, std::optional<std::uint64_t> max = std::nullopt) {
  using namespace encoder_detail;
  const std::size_t digits = max ? decimal_digits(*max) : 0;
  char* p = grow(out, 6 + sid.size() + (max ? digits + 1 : 0) + 2);
  p = put(p, std::string_view("UNSUB "));
  p = put(p, sid);
  if (max) {
    p = put(p, ' ');
    p = write_decimal(p, *max, digits);
  }
  put(p, std::string_view("\r\n"));
}

/// Decimal text of `value` in a std::string-free way: writes into `dest`
/// (at least 20 bytes) and returns the end. Handy for sids.
char* format_decimal(char* dest, std::uint64_t value) noexcept;

}  // namespace courier::protocol
