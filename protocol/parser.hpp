// NATS wire-protocol parsers: a resumable, zero-copy state machine for each
// direction. No I/O here: feed() takes bytes and reports whole operations to a
// handler; an operation split across feeds is completed on a later feed.
//
// INTERFACE CONTRACT (the broker is written against it):
//  * Views passed to handler callbacks point either into the buffer given to
//    feed() or into the parser's own scratch buffer; they are valid only for
//    the duration of the callback. Callers copy what must outlive it.
//  * Each callback returns bool: true = keep parsing, false = stop now
//    (feed() returns at once, e.g. because the connection is closing).
//  * After on_error() the parser is failed: every later feed() returns 0 at once
//    and reports nothing.
//  * Limits (max_control_line, max_payload) are checked before anything is
//    buffered; max_payload < 0 means unlimited.
#pragma once

#include <algorithm>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstring>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/parser_detail.hpp"

namespace courier::protocol {

/// Limits enforced while parsing. Defaults are nats-server 2.9.10's.
struct parser_limits {
  /// Longest control line (the op and its arguments, without CRLF); 4 KiB in nats-server.
  std::size_t max_control_line = 4096;
  /// Largest PUB/HPUB (or MSG/HMSG) total size; 1 MiB in nats-server. <0: no limit.
  std::int64_t max_payload = 1024 * 1024;
};

/// Why parsing failed. Every parse error closes the connection in nats-server
/// 2.9.10; some first send an -ERR (see nats_error_text()). Verified against the
/// running server with raw sockets:
///
/// | error                  | -ERR sent by nats-server            | then          |
/// |------------------------|-------------------------------------|---------------|
/// | unknown_operation      | 'Unknown Protocol Operation'        | close         |
/// | max_control_line       | 'maximum control line exceeded'     | close         |
/// | max_payload            | 'Maximum Payload Violation'         | close         |
/// | bad_pub_arguments      | none                                | close         |
/// | bad_header_size        | none                                | close         |
/// | bad_sub_arguments      | none                                | close         |
/// | bad_unsub_arguments    | none                                | close         |
/// | bad_payload_end        | 'Unknown Protocol Operation'        | close         |
/// | headers_not_supported  | none                                | close         |
/// | auth_violation         | 'Authorization Violation'           | close         |
/// | client_sent_err        | none                                | close         |
///
/// Things nats-server rejects that are NOT parse errors (the broker decides):
/// CONNECT/INFO whose JSON does not parse (close, no -ERR); an invalid SUB
/// subject (-ERR 'Invalid Subject', stays open); with pedantic, an invalid PUB
/// subject (-ERR 'Invalid Publish Subject', message still delivered).
enum class parse_error {
  unknown_operation,   ///< unknown verb, bad byte in a verb, missing space after PUB/SUB/...
  max_control_line,    ///< control line arguments longer than max_control_line
  max_payload,         ///< declared size over max_payload (checked on the arguments, before the payload)
  bad_pub_arguments,   ///< PUB/HPUB/MSG/HMSG argument count wrong or size not a 1-9 digit number
  bad_header_size,     ///< HPUB/HMSG header size not a number, or larger than the total size
  bad_sub_arguments,   ///< SUB argument count not 2 or 3
  bad_unsub_arguments, ///< UNSUB argument count not 1 or 2 (a bad max is NOT an error, see on_unsub)
  bad_payload_end,     ///< payload not followed by CRLF
  headers_not_supported, ///< HPUB while headers are off (client_parser::set_headers_supported)
  auth_violation,      ///< first op not CONNECT while awaiting auth (client_parser::set_awaiting_connect)
  client_sent_err,     ///< a client sent -ERR: nats-server logs it and closes silently
};

/// The text nats-server 2.9.10 sends as `-ERR '<text>'` before closing for this
/// error; empty when it closes without a reply.
constexpr std::string_view nats_error_text(parse_error error) noexcept {
  switch (error) {
    case parse_error::unknown_operation:
    case parse_error::bad_payload_end:
      return "Unknown Protocol Operation";
    case parse_error::max_control_line:
      return "maximum control line exceeded";
    case parse_error::max_payload:
      return "Maximum Payload Violation";
    case parse_error::auth_violation:
      return "Authorization Violation";
    default:
      return {};
  }
}

/// A short stable name for logs and tests.
constexpr std::string_view to_string(parse_error error) noexcept {
  switch (error) {
    case parse_error::unknown_operation: return "unknown_operation";
    case parse_error::max_control_line: return "max_control_line";
    case parse_error::max_payload: return "max_payload";
    case parse_error::bad_pub_arguments: return "bad_pub_arguments";
    case parse_error::bad_header_size: return "bad_header_size";
    case parse_error::bad_sub_arguments: return "bad_sub_arguments";
    case parse_error::bad_unsub_arguments: return "bad_unsub_arguments";
    case parse_error::bad_payload_end: return "bad_payload_end";
    case parse_error::headers_not_supported: return "headers_not_supported";
    case parse_error::auth_violation: return "auth_violation";
    case parse_error::client_sent_err: return "client_sent_err";
  }
  return "unknown";
}

/// Client -> server operations (what a broker reads).
///
/// Wire facts (nats-server 2.9.10, checked against the running server):
///  * verbs are case-insensitive; PUB/HPUB/SUB/UNSUB/-ERR need at least one
///    space or tab after the verb, CONNECT and INFO need none ("CONNECT{}" works);
///  * arguments are split on runs of spaces/tabs; for SUB and UNSUB also on \r
///    and \n (nats-server's splitArg), for PUB/HPUB not (a stray \r stays in a token);
///  * a line ends at \n; if a \r occurs anywhere in the arguments after their
///    first byte, the one byte before the \n is dropped (normally that \r).
///    The first argument byte is taken verbatim, even \r or \n ("CONNECT\r\n"
///    gives the JSON "\r", which then fails to parse);
///  * PING, PONG and +OK ignore everything up to the next \n, without limit;
///  * the control line limit applies to the arguments (after the verb and its
///    spaces, without the line end) of every op that has arguments.
///
/// Where nats-server's own result depends on how TCP cut the stream, this
/// parser always gives the result nats-server gives for an unsplit read, so
/// that the ops never depend on read boundaries. Two such corners exist: a \r
/// in the middle of a control line that is split across reads (nats-server
/// then drops every \r of the buffered part), and "HMSG ...\n\r\n" from a
/// client with the read ending right after the line (nats-server then fails
/// with Unknown Protocol Operation instead of ignoring it).
struct client_ops_handler_archetype {
  bool on_connect(std::string_view json);
  bool on_pub(std::string_view subject, std::string_view reply, std::string_view payload);
  /// headers: the whole header block including its terminating CRLFCRLF.
  bool on_hpub(std::string_view subject, std::string_view reply, std::string_view headers,
               std::string_view payload);
  /// queue is empty for a plain subscription.
  bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid);
  /// max: the auto-unsubscribe count, or nullopt when absent or not a 1-9 digit
  /// decimal number. nats-server unsubscribes at once for nullopt and for 0.
  bool on_unsub(std::string_view sid, std::optional<std::uint64_t> max);
  bool on_ping();
  bool on_pong();
  /// snippet: a bounded excerpt of the offending bytes for the log.
  void on_error(parse_error error, std::string_view snippet);
  // Optional (detected with `requires`, ignored when absent):
  //   bool on_info(std::string_view json);  // a client's INFO; nats-server closes
  //                                         // silently if the JSON does not parse
  //   bool on_ok();                         // a client's +OK; nats-server ignores it
  //   void on_pub_line(std::string_view subject);
  //                                         // a PUB/HPUB line was accepted (size within
  //                                         // max_payload), before its payload is read:
  //                                         // nats-server checks the subject (pedantic)
  //                                         // at this point, whatever the payload does
};

/// Server -> client operations (what a client of a NATS server reads).
struct server_ops_handler_archetype {
  bool on_info(std::string_view json);
  bool on_msg(std::string_view subject, std::string_view sid, std::string_view reply,
              std::string_view payload);
  bool on_hmsg(std::string_view subject, std::string_view sid, std::string_view reply,
               std::string_view headers, std::string_view payload);
  bool on_ok();
  /// text: the error text without the quotes, e.g. Authorization Violation
  bool on_err(std::string_view text);
  bool on_ping();
  bool on_pong();
  void on_error(parse_error error, std::string_view snippet);
};

namespace detail {

/// Which side's operations a parser reads.
enum class direction : std::uint8_t { client_to_server, server_to_client };

/// The state machine shared by client_parser and server_parser. Verbs are
/// matched a byte at a time (so a verb may be split anywhere); arguments are
/// found with memchr and kept as views into the fed buffer; payloads are
/// skipped by their declared size. Only an op split across feeds is copied,
/// into scratch_. On the client side, a PUB/HPUB that is wholly in the fed
/// buffer skips the state machine (try_whole_pubs): same result, fewer steps.
template <class Handler, direction Dir>
class basic_parser {
 public:
  /// Creates an idle parser enforcing `limits`.
  explicit basic_parser(parser_limits limits = {}) noexcept : limits_(limits) {}

  /// Changes the limits; they apply from the next control line on (an op whose
  /// arguments were already accepted keeps going).
  void set_limits(parser_limits limits) noexcept { limits_ = limits; }
  /// The limits in force.
  const parser_limits& limits() const noexcept { return limits_; }

  /// Parses `size` bytes, calling `handler` for each complete operation.
  /// Returns the bytes consumed: `size`, unless a callback returned false (then
  /// the offset just past that op, so the caller may feed the rest later) or
  /// parsing failed (then the offset where the error was found).
  std::size_t feed(const char* data, std::size_t size, Handler& handler);

  /// True after on_error(): every later feed() returns 0 until reset().
  bool failed() const noexcept { return state_ == state::failed; }
  /// True when no partially parsed operation is held.
  bool idle() const noexcept { return state_ == state::op_start; }
  /// Back to a fresh, idle parser (keeps limits, settings and scratch capacity).
  void reset() noexcept {
    state_ = state::op_start;
    arg_in_scratch_ = false;
    scratch_.clear();
  }
  /// Frees the scratch buffer if idle (or failed), so an idle connection holds
  /// no parser memory beyond the object itself.
  void release_memory() noexcept {
    if (state_ == state::op_start || state_ == state::failed) {
      std::vector<char>().swap(scratch_);
      arg_in_scratch_ = false;
    }
  }
  /// During on_pub/on_hpub/on_msg/on_hmsg only: the total size argument exactly
  /// as sent. nats-server echoes it verbatim in the MSG/HMSG it delivers, so
  /// "PUB a 002" reaches subscribers as "MSG a <sid> 002". Empty otherwise.
  std::string_view size_text() const noexcept { return size_text_; }
  /// Like size_text(), for the header size of HPUB/HMSG.
  std::string_view header_size_text() const noexcept { return header_size_text_; }

  /// Bytes of scratch capacity held (for tests and memory accounting).
  std::size_t scratch_capacity() const noexcept { return scratch_.capacity(); }

 protected:
  enum class state : std::uint8_t {
    op_start,    ///< expecting the first byte of a verb
    op_p,        ///< seen P: PUB, PING or PONG
    op_h,        ///< seen H: HPUB or HMSG
    verb,        ///< matching the rest of verb_text(op_)
    verb_space,  ///< verb done, a space or tab must follow
    arg_start,   ///< skipping spaces before the arguments
    arg,         ///< inside the arguments, looking for \n
    skip_line,   ///< PING/PONG/+OK: ignoring bytes up to \n
    payload,     ///< copying a split payload into scratch_
    payload_cr,  ///< payload done, expecting \r
    payload_lf,  ///< expecting \n
    failed,
  };
  enum class op : std::uint8_t { connect, info, pub, hpub, sub, unsub, msg, hmsg, ping, pong, ok, err };

  using message_args = detail::message_args;

  /// What try_whole_pubs did.
  enum class fast_result : std::uint8_t {
    not_taken,  ///< nothing consumed or reported: parse with the state machine
    delivered,  ///< whole PUB/HPUBs were reported and consumed; p is at an op start
    stopped,    ///< the last one's callback returned false; p is just past it
  };

  static constexpr bool client_side = Dir == direction::client_to_server;

  /// Verbs in lower case, indexed by op; the first byte is matched in op_start/op_p/op_h.
  static constexpr std::string_view verb_text(op o) noexcept {
    constexpr std::string_view texts[] = {"connect", "info", "pub",  "hpub", "sub", "unsub",
                                          "msg",     "hmsg", "ping", "pong", "+ok", "-err"};
    return texts[static_cast<std::size_t>(o)];
  }

  static constexpr bool is_space(char c) noexcept { return c == ' ' || c == '\t'; }

  /// Four bytes as std::memcpy loads them from memory holding a, b, c, d.
  static constexpr std::uint32_t text_word(char a, char b, char c, char d) noexcept {
    const auto byte = [](char x) { return static_cast<std::uint32_t>(static_cast<unsigned char>(x)); };
    if constexpr (std::endian::native == std::endian::little) {
      return byte(a) | byte(b) << 8 | byte(c) << 16 | byte(d) << 24;
    } else {
      return byte(a) << 24 | byte(b) << 16 | byte(c) << 8 | byte(d);
    }
  }

  void begin_verb(op o, std::uint8_t matched) noexcept {
    op_ = o;
    verb_pos_ = matched;
    state_ = state::verb;
  }

  void fail(parse_error error, std::string_view snippet, Handler& handler) {
    state_ = state::failed;
    handler.on_error(error, snippet);
  }

  /// A PUB/HPUB line was accepted: tells a handler that wants to know.
  void pub_line(std::string_view subject, Handler& handler) {
    if constexpr (client_side && requires(Handler& h, std::string_view s) { h.on_pub_line(s); }) {
      handler.on_pub_line(subject);
    }
  }

  static std::string_view here(const char* p, const char* end) noexcept {
    return detail::snippet(std::string_view(p, static_cast<std::size_t>(end - p)),
                           proto_snippet_size);
  }

  fast_result try_whole_pubs(const char*& p, const char* end, Handler& handler);
  std::optional<parse_error> split_message_args(std::string_view arg, message_args& out) const noexcept;
  bool process_line(std::string_view arg, Handler& handler, const char*& p, const char* end);
  bool start_payload(const message_args& args, std::string_view arg, Handler& handler,
                     const char*& p, const char* end);
  bool deliver(const message_args& args, std::string_view payload, Handler& handler);
  void done_with_scratch() noexcept {
    arg_in_scratch_ = false;
    // A big split payload leaves a big buffer; do not keep it per connection.
    if (scratch_.capacity() > scratch_keep_capacity) std::vector<char>().swap(scratch_);
  }

  /// Scratch capacity kept for reuse after a split op (bigger buffers are freed).
  static constexpr std::size_t scratch_keep_capacity = 16 * 1024;

  parser_limits limits_;
  state state_ = state::op_start;
  op op_ = op::ping;
  std::uint8_t verb_pos_ = 0;
  bool saw_cr_ = false;          ///< a \r was seen in the arguments after their first byte
  bool arg_in_scratch_ = false;  ///< the arguments so far are in scratch_, not the fed buffer
  bool awaiting_connect_ = false;
  bool headers_supported_ = true;
  const char* arg_begin_ = nullptr;  ///< start of the arguments in the current buffer
  std::size_t arg_size_ = 0;         ///< arguments length at the front of scratch_ (split payload)
  std::size_t payload_size_ = 0;     ///< declared total size of the payload being copied
  std::size_t payload_have_ = 0;     ///< bytes of it copied so far
  std::vector<char> scratch_;
  std::string_view size_text_;         ///< set only while a message callback runs
  std::string_view header_size_text_;  ///< likewise
};

template <class Handler, direction Dir>
std::size_t basic_parser<Handler, Dir>::feed(const char* data, std::size_t size, Handler& handler) {
  if (state_ == state::failed) return 0;
  const char* p = data;
  const char* const end = data + size;
  while (p < end) {
    switch (state_) {
      case state::op_start: {
        const char c = *p;
        if constexpr (client_side) {
          // nats-server checks this on the very first byte of each op (parser.go OP_START).
          if (awaiting_connect_ && c != 'C' && c != 'c') {
            fail(parse_error::auth_violation, here(p, end), handler);
            return static_cast<std::size_t>(p - data);
          }
          // Most client traffic is whole PUB/HPUB messages: take them in one go.
          if ((c | 0x20) == 'p' || (c | 0x20) == 'h') {
            const fast_result result = try_whole_pubs(p, end, handler);
            if (result == fast_result::delivered) break;
            if (result == fast_result::stopped) return static_cast<std::size_t>(p - data);
          }
        }
        switch (c) {
          case 'P': case 'p': state_ = state::op_p; break;
          case 'H': case 'h': state_ = state::op_h; break;
          case 'I': case 'i': begin_verb(op::info, 1); break;
          case '+': begin_verb(op::ok, 1); break;
          case '-': begin_verb(op::err, 1); break;
          case 'C': case 'c':
            if (!client_side) goto unknown;
            begin_verb(op::connect, 1);
            break;
          case 'S': case 's':
            if (!client_side) goto unknown;
            begin_verb(op::sub, 1);
            break;
          case 'U': case 'u':
            if (!client_side) goto unknown;
            begin_verb(op::unsub, 1);
            break;
          case 'M': case 'm':
            if (client_side) goto unknown;
            begin_verb(op::msg, 1);
            break;
          default:
            goto unknown;
        }
        ++p;
        break;
      }
      case state::op_p:
        switch (*p) {
          case 'U': case 'u':
            if (!client_side) goto unknown;
            begin_verb(op::pub, 2);
            break;
          case 'I': case 'i': begin_verb(op::ping, 2); break;
          case 'O': case 'o': begin_verb(op::pong, 2); break;
          default: goto unknown;
        }
        ++p;
        break;
      case state::op_h:
        switch (*p) {
          case 'P': case 'p':
            if (!client_side) goto unknown;
            begin_verb(op::hpub, 2);
            break;
          // Client side too: nats-server accepts "HMSG <anything>\n\r\n" from a
          // client and ignores it (see process_line).
          case 'M': case 'm': begin_verb(op::hmsg, 2); break;
          default: goto unknown;
        }
        ++p;
        break;
      case state::verb: {
        const std::string_view text = verb_text(op_);
        while (p < end && verb_pos_ < text.size()) {
          // c | 0x20 equals a lower-case letter only for that letter in either case.
          if (static_cast<char>(*p | 0x20) != text[verb_pos_]) goto unknown;
          ++verb_pos_;
          ++p;
        }
        if (verb_pos_ == text.size()) {
          switch (op_) {
            case op::ping: case op::pong: case op::ok: state_ = state::skip_line; break;
            case op::connect: case op::info: state_ = state::arg_start; break;
            default: state_ = state::verb_space; break;
          }
        }
        break;
      }
      case state::verb_space:
        if (!is_space(*p)) goto unknown;
        ++p;
        state_ = state::arg_start;
        break;
      case state::arg_start:
        while (p < end && is_space(*p)) ++p;
        if (p == end) break;
        // The first argument byte is taken as is, even \r or \n (nats-server's
        // *_SPC states do not look at it).
        arg_begin_ = p;
        arg_in_scratch_ = false;
        saw_cr_ = false;
        ++p;
        state_ = state::arg;
        [[fallthrough]];
      case state::arg: {
        const char* chunk = arg_in_scratch_ ? data : arg_begin_;
        const char* newline =
            p < end ? static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)))
                    : nullptr;
        const char* stop = newline ? newline : end;
        if (!saw_cr_ && stop > p &&
            (stop[-1] == '\r' || std::memchr(p, '\r', static_cast<std::size_t>(stop - p)))) {
          saw_cr_ = true;
        }
        const std::size_t held = arg_in_scratch_ ? scratch_.size() : 0;
        const std::size_t total = held + static_cast<std::size_t>(stop - chunk);
        // Checked before anything is buffered, so scratch_ never holds more
        // than max_control_line + 1 bytes of arguments.
        if (total - (saw_cr_ ? 1 : 0) > limits_.max_control_line) {
          const std::string_view excerpt = arg_in_scratch_
              ? std::string_view(scratch_.data(), scratch_.size())
              : std::string_view(chunk, static_cast<std::size_t>(stop - chunk));
          fail(parse_error::max_control_line, detail::snippet(excerpt, control_line_snippet_size),
               handler);
          return static_cast<std::size_t>(p - data);
        }
        if (!newline) {
          if (!arg_in_scratch_) scratch_.clear();
          scratch_.insert(scratch_.end(), chunk, end);
          arg_in_scratch_ = true;
          p = end;
          break;
        }
        std::string_view arg;
        if (arg_in_scratch_) {
          scratch_.insert(scratch_.end(), chunk, newline);
          arg = std::string_view(scratch_.data(), scratch_.size() - (saw_cr_ ? 1 : 0));
        } else {
          arg = std::string_view(chunk, static_cast<std::size_t>(newline - chunk) - (saw_cr_ ? 1 : 0));
        }
        p = newline + 1;
        if (!process_line(arg, handler, p, end)) return static_cast<std::size_t>(p - data);
        break;
      }
      case state::skip_line: {
        const char* newline =
            static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
        if (!newline) {
          p = end;
          break;
        }
        p = newline + 1;
        state_ = state::op_start;
        bool keep_going = true;
        if (op_ == op::ping) {
          keep_going = handler.on_ping();
        } else if (op_ == op::pong) {
          keep_going = handler.on_pong();
        } else if constexpr (client_side) {
          if constexpr (requires(Handler& h) { { h.on_ok() } -> std::convertible_to<bool>; }) {
            keep_going = handler.on_ok();
          }
        } else {
          keep_going = handler.on_ok();
        }
        if (!keep_going) return static_cast<std::size_t>(p - data);
        break;
      }
      case state::payload: {
        const std::size_t take =
            std::min(payload_size_ - payload_have_, static_cast<std::size_t>(end - p));
        scratch_.insert(scratch_.end(), p, p + take);
        p += take;
        payload_have_ += take;
        if (payload_have_ == payload_size_) state_ = state::payload_cr;
        break;
      }
      case state::payload_cr:
        if (*p != '\r') {
          fail(parse_error::bad_payload_end, here(p, end), handler);
          return static_cast<std::size_t>(p - data);
        }
        ++p;
        state_ = state::payload_lf;
        break;
      case state::payload_lf: {
        if (*p != '\n') {
          fail(parse_error::bad_payload_end, here(p, end), handler);
          return static_cast<std::size_t>(p - data);
        }
        ++p;
        state_ = state::op_start;
        bool keep_going = true;
        if (!(client_side && op_ == op::hmsg)) {
          const std::string_view arg(scratch_.data(), arg_size_);
          message_args args;
          // Cannot fail: the same bytes passed this check when the line arrived.
          (void)split_message_args(arg, args);
          keep_going = deliver(args, std::string_view(scratch_.data() + arg_size_, payload_size_),
                               handler);
        }
        if (state_ == state::op_start) done_with_scratch();
        if (!keep_going) return static_cast<std::size_t>(p - data);
        break;
      }
      case state::failed:
        return static_cast<std::size_t>(p - data);
    }
  }
  return size;

unknown:
  fail(parse_error::unknown_operation, here(p, end), handler);
  return static_cast<std::size_t>(p - data);
}

template <class Handler, direction Dir>
auto basic_parser<Handler, Dir>::try_whole_pubs(const char*& p, const char* end, Handler& handler)
    -> fast_result {
  // For each PUB/HPUB whose line and payload are all in this buffer, the same
  // steps the states verb .. arg, process_line, start_payload and deliver take,
  // in one pass and with no state stored. Anything else (another verb, a tab
  // after the verb, a line without \r\n or over the limit, bad arguments, a
  // payload not all here or not followed by \r\n) is left to the state
  // machine, which reports the error or buffers the op: so the result never
  // depends on which path ran, and errors are produced in one place only.
  static_assert(client_side);
  constexpr std::size_t shortest = 11;  // "PUB a 0\r\n\r\n"
  fast_result result = fast_result::not_taken;
  while (static_cast<std::size_t>(end - p) >= shortest) {
    std::uint32_t word;
    std::memcpy(&word, p, 4);
    bool headers;
    const char* arg;
    // Letters compare case-insensitively with | 0x20 (only 'P' and 'p' give 'p').
    if ((word | text_word(0x20, 0x20, 0x20, 0)) == text_word('p', 'u', 'b', ' ')) {
      headers = false;
      arg = p + 4;
    } else if ((word | text_word(0x20, 0x20, 0x20, 0x20)) == text_word('h', 'p', 'u', 'b') &&
               p[4] == ' ' && headers_supported_) {
      headers = true;
      arg = p + 5;
    } else {
      break;
    }
    while (arg < end && is_space(*arg)) ++arg;
    // As in state arg: the first argument byte is never the line end.
    if (end - arg < 2) break;
    const char* const newline =
        static_cast<const char*>(std::memchr(arg + 1, '\n', static_cast<std::size_t>(end - arg - 1)));
    // A \r right before the \n (not as the first argument byte) is dropped;
    // the rare line without one is left to state arg, which looks for a \r
    // elsewhere in the line.
    if (!newline || newline[-1] != '\r' || newline - 1 == arg) break;
    const auto arg_size = static_cast<std::size_t>(newline - 1 - arg);
    if (arg_size > limits_.max_control_line) break;
    const std::string_view args_text(arg, arg_size);
    message_args args;
    const pub_args_status status = headers ? split_pub_args<true>(args_text, args)
                                           : split_pub_args<false>(args_text, args);
    if (status != pub_args_status::ok) break;
    if (limits_.max_payload >= 0 && args.total_size > limits_.max_payload) break;
    const char* const payload = newline + 1;
    const auto size = static_cast<std::size_t>(args.total_size);
    if (static_cast<std::size_t>(end - payload) < size + 2 || payload[size] != '\r' ||
        payload[size + 1] != '\n') {
      break;
    }
    p = payload + size + 2;
    pub_line(args.subject, handler);
    // deliver(), without the unused fields.
    size_text_ = args.total_size_text;
    header_size_text_ = args.header_size_text;
    bool keep_going;
    if (headers) {
      const auto header_size = static_cast<std::size_t>(args.header_size);
      keep_going = handler.on_hpub(args.subject, args.reply, std::string_view(payload, header_size),
                                   std::string_view(payload + header_size, size - header_size));
    } else {
      keep_going = handler.on_pub(args.subject, args.reply, std::string_view(payload, size));
    }
    size_text_ = {};
    header_size_text_ = {};
    if (!keep_going) return fast_result::stopped;
    result = fast_result::delivered;
    // The callback may have asked for CONNECT first: op_start checks that.
    if (awaiting_connect_) break;
  }
  return result;
}

template <class Handler, direction Dir>
std::optional<parse_error> basic_parser<Handler, Dir>::split_message_args(
    std::string_view arg, message_args& out) const noexcept {
  std::string_view tokens[5];
  switch (op_) {
    case op::pub:    // PUB <subject> [reply] <size>
    case op::hpub: {  // HPUB <subject> [reply] <header size> <total size>
      const pub_args_status status = op_ == op::hpub ? split_pub_args<true>(arg, out)
                                                     : split_pub_args<false>(arg, out);
      switch (status) {
        case pub_args_status::ok: return std::nullopt;
        case pub_args_status::bad_arguments: return parse_error::bad_pub_arguments;
        case pub_args_status::bad_header_size: return parse_error::bad_header_size;
      }
      return parse_error::bad_pub_arguments;
    }
    case op::msg: {  // MSG <subject> <sid> [reply] <size>
      const std::size_t n = split_args<separators::space_tab_cr_lf>(arg, tokens, 4);
      if (n != 3 && n != 4) return parse_error::bad_pub_arguments;
      out.subject = tokens[0];
      out.sid = tokens[1];
      out.reply = n == 4 ? tokens[2] : std::string_view();
      out.total_size_text = tokens[n - 1];
      out.total_size = parse_long_size(tokens[n - 1]);
      if (out.total_size < 0) return parse_error::bad_pub_arguments;
      return std::nullopt;
    }
    case op::hmsg: {  // HMSG <subject> <sid> [reply] <header size> <total size>
      const std::size_t n = split_args<separators::space_tab_cr_lf>(arg, tokens, 5);
      if (n != 4 && n != 5) return parse_error::bad_pub_arguments;
      out.subject = tokens[0];
      out.sid = tokens[1];
      out.reply = n == 5 ? tokens[2] : std::string_view();
      out.header_size_text = tokens[n - 2];
      out.total_size_text = tokens[n - 1];
      out.header_size = parse_long_size(tokens[n - 2]);
      out.total_size = parse_long_size(tokens[n - 1]);
      if (out.header_size < 0) return parse_error::bad_header_size;
      if (out.total_size < 0) return parse_error::bad_pub_arguments;
      if (out.header_size > out.total_size) return parse_error::bad_header_size;
      return std::nullopt;
    }
    default:
      return parse_error::unknown_operation;
  }
}

template <class Handler, direction Dir>
bool basic_parser<Handler, Dir>::process_line(std::string_view arg, Handler& handler,
                                              const char*& p, const char* end) {
  // The callback's views may point into scratch_: release it only afterwards.
  const auto line_done = [this] { state_ = state::op_start; };
  const auto finish = [this](bool keep_going) {
    if (arg_in_scratch_ && state_ == state::op_start) done_with_scratch();
    return keep_going;
  };
  switch (op_) {
    case op::connect:
      if constexpr (client_side) {  // 'C' is unknown on the server side
        line_done();
        return finish(handler.on_connect(arg));
      }
      break;
    case op::info: {
      line_done();
      if constexpr (client_side) {
        if constexpr (requires(Handler& h, std::string_view s) { { h.on_info(s) } -> std::convertible_to<bool>; }) {
          return finish(handler.on_info(arg));
        }
        return finish(true);
      } else {
        return finish(handler.on_info(arg));
      }
    }
    case op::err: {
      if constexpr (client_side) {
        fail(parse_error::client_sent_err, detail::snippet(arg, proto_snippet_size), handler);
        return false;
      } else {
        // Strip spaces then quotes, like the Go client's normalizeErr.
        std::string_view text = arg;
        while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
        while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
        while (!text.empty() && text.front() == '\'') text.remove_prefix(1);
        while (!text.empty() && text.back() == '\'') text.remove_suffix(1);
        line_done();
        return finish(handler.on_err(text));
      }
    }
    case op::sub:  // SUB <subject> [queue] <sid>
      if constexpr (client_side) {
        std::string_view tokens[3];
        const std::size_t n = split_args<separators::space_tab_cr_lf>(arg, tokens, 3);
        if (n != 2 && n != 3) {
          fail(parse_error::bad_sub_arguments, detail::snippet(arg, proto_snippet_size), handler);
          return false;
        }
        line_done();
        return finish(handler.on_sub(tokens[0], n == 3 ? tokens[1] : std::string_view(), tokens[n - 1]));
      }
      break;
    case op::unsub:  // UNSUB <sid> [max]
      if constexpr (client_side) {
        std::string_view tokens[2];
        const std::size_t n = split_args<separators::space_tab_cr_lf>(arg, tokens, 2);
        if (n != 1 && n != 2) {
          fail(parse_error::bad_unsub_arguments, detail::snippet(arg, proto_snippet_size), handler);
          return false;
        }
        std::optional<std::uint64_t> max;
        if (n == 2) {
          const std::int64_t value = parse_size(tokens[1]);
          if (value >= 0) max = static_cast<std::uint64_t>(value);
        }
        line_done();
        return finish(handler.on_unsub(tokens[0], max));
      }
      break;
    case op::hmsg:
      if constexpr (client_side) {
        // nats-server quirk: from a client, HMSG's arguments are not parsed and
        // the parser then expects an empty payload ("\r\n") which it ignores.
        arg_in_scratch_ = true;
        scratch_.clear();
        arg_size_ = 0;
        payload_size_ = 0;
        payload_have_ = 0;
        state_ = state::payload_cr;
        return true;
      }
      [[fallthrough]];
    case op::pub:
    case op::hpub:
    case op::msg: {
      if constexpr (client_side) {
        if (op_ == op::hpub && !headers_supported_) {
          fail(parse_error::headers_not_supported, detail::snippet(arg, proto_snippet_size), handler);
          return false;
        }
      }
      message_args args;
      if (const auto error = split_message_args(arg, args)) {
        fail(*error, detail::snippet(arg, proto_snippet_size), handler);
        return false;
      }
      if (limits_.max_payload >= 0 && args.total_size > limits_.max_payload) {
        fail(parse_error::max_payload, detail::snippet(arg, proto_snippet_size), handler);
        return false;
      }
      if (op_ == op::pub || op_ == op::hpub) pub_line(args.subject, handler);
      return start_payload(args, arg, handler, p, end);
    }
    default:
      break;
  }
  fail(parse_error::unknown_operation, detail::snippet(arg, proto_snippet_size), handler);
  return false;
}

template <class Handler, direction Dir>
bool basic_parser<Handler, Dir>::start_payload(const message_args& args, std::string_view arg,
                                               Handler& handler, const char*& p, const char* end) {
  const auto size = static_cast<std::size_t>(args.total_size);
  const auto available = static_cast<std::size_t>(end - p);
  if (available >= size + 2) {
    // Common case: the whole payload is in this buffer; jump over it.
    if (p[size] != '\r') {
      fail(parse_error::bad_payload_end, here(p + size, end), handler);
      return false;
    }
    if (p[size + 1] != '\n') {
      fail(parse_error::bad_payload_end, here(p + size + 1, end), handler);
      return false;
    }
    const std::string_view payload(p, size);
    p += size + 2;
    state_ = state::op_start;
    const bool keep_going = deliver(args, payload, handler);
    if (arg_in_scratch_ && state_ == state::op_start) done_with_scratch();
    return keep_going;
  }
  // Split payload: keep the arguments (re-split on completion) and the payload
  // bytes in scratch_. The size was checked against max_payload already.
  if (arg_in_scratch_) {
    scratch_.resize(arg.size());  // arg is a prefix of scratch_ (minus a dropped byte)
  } else {
    scratch_.assign(arg.begin(), arg.end());
    arg_in_scratch_ = true;
  }
  arg_size_ = arg.size();
  payload_size_ = size;
  // Reserve up to 1 MiB now; a bigger (unlimited max_payload) message grows
  // as its bytes arrive, so a huge declared size alone cannot claim memory.
  scratch_.reserve(arg_size_ + std::min<std::size_t>(size, std::size_t{1} << 20));
  const std::size_t take = std::min(size, available);
  scratch_.insert(scratch_.end(), p, p + take);
  p += take;
  payload_have_ = take;
  state_ = payload_have_ == payload_size_ ? state::payload_cr : state::payload;
  return true;
}

template <class Handler, direction Dir>
bool basic_parser<Handler, Dir>::deliver(const message_args& args, std::string_view payload,
                                         Handler& handler) {
  const bool has_headers = args.header_size >= 0;
  const auto header_size = has_headers ? static_cast<std::size_t>(args.header_size) : 0;
  size_text_ = args.total_size_text;
  header_size_text_ = args.header_size_text;
  bool keep_going;
  if constexpr (client_side) {
    if (has_headers) {
      keep_going = handler.on_hpub(args.subject, args.reply, payload.substr(0, header_size),
                                   payload.substr(header_size));
    } else {
      keep_going = handler.on_pub(args.subject, args.reply, payload);
    }
  } else {
    if (has_headers) {
      keep_going = handler.on_hmsg(args.subject, args.sid, args.reply, payload.substr(0, header_size),
                                   payload.substr(header_size));
    } else {
      keep_going = handler.on_msg(args.subject, args.sid, args.reply, payload);
    }
  }
  size_text_ = {};
  header_size_text_ = {};
  return keep_going;
}

}  // namespace detail

/// Parses what a client sends to a server: CONNECT PUB HPUB SUB UNSUB PING
/// PONG (plus INFO, +OK, -ERR and HMSG, which nats-server also accepts from a
/// client, see client_ops_handler_archetype). Handler models
/// client_ops_handler_archetype. Not thread-safe: one per connection.
template <class Handler>
class client_parser : public detail::basic_parser<Handler, detail::direction::client_to_server> {
  using base = detail::basic_parser<Handler, detail::direction::client_to_server>;

 public:
  /// Creates an idle parser enforcing `limits`.
  explicit client_parser(parser_limits limits = {}) noexcept : base(limits) {}

  /// While true, any op not starting with C/c fails with auth_violation at its
  /// first byte, as nats-server does when auth is required and CONNECT has not
  /// been accepted yet. Call set_awaiting_connect(false) from on_connect once
  /// authentication succeeds; the parser reads it after the callback returns.
  void set_awaiting_connect(bool awaiting) noexcept { this->awaiting_connect_ = awaiting; }

  /// nats-server rejects HPUB (silent close) unless the client's CONNECT said
  /// "headers":true; a connection starts with headers off. Default here: on,
  /// so a broker that never calls this accepts HPUB. For exact nats-server
  /// behaviour call set_headers_supported(false) at connection start and set it
  /// from CONNECT.
  void set_headers_supported(bool supported) noexcept { this->headers_supported_ = supported; }
};

/// Parses what a server sends to a client: INFO MSG HMSG +OK -ERR PING PONG.
/// Handler models server_ops_handler_archetype. The same control line limit
/// applies to every op with arguments (raise max_control_line for servers with
/// large INFO). MSG/HMSG sizes may have up to 18 digits.
template <class Handler>
class server_parser : public detail::basic_parser<Handler, detail::direction::server_to_client> {
  using base = detail::basic_parser<Handler, detail::direction::server_to_client>;

 public:
  /// Creates an idle parser enforcing `limits`.
  explicit server_parser(parser_limits limits = {}) noexcept : base(limits) {}
};

}  // namespace courier::protocol
