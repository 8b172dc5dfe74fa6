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

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace courier::protocol {

/// Limits enforced while parsing. Defaults are nats-server 2.9.10's.
struct parser_limits {
  /// Longest control line (the op and its arguments, without CRLF); 4 KiB in nats-server.
  std::size_t max_control_line = 4096;
  /// Largest PUB/HPUB (or MSG/HMSG) total size; 1 MiB in nats-server. <0: no limit.
  std::int64_t max_payload = 1024 * 1024;
};

/// Why parsing failed. The broker maps each to nats-server's -ERR text.
enum class parse_error {
  unknown_operation,   ///< unknown verb or bad byte: -ERR 'Unknown Protocol Operation'
  max_control_line,    ///< control line too long: -ERR 'maximum control line exceeded'
  max_payload,         ///< declared size over max_payload: -ERR 'Maximum Payload Violation'
  bad_pub_arguments,   ///< PUB/HPUB/MSG/HMSG argument count or number syntax wrong
  bad_header_size,     ///< HPUB/HMSG header size larger than total size
  bad_sub_arguments,   ///< SUB argument count wrong
  bad_unsub_arguments, ///< UNSUB argument count or max syntax wrong
  bad_payload_end,     ///< payload not followed by CRLF
};

/// Client -> server operations (what a broker reads).
struct client_ops_handler_archetype {
  bool on_connect(std::string_view json);
  bool on_pub(std::string_view subject, std::string_view reply, std::string_view payload);
  /// headers: the whole header block including its terminating CRLFCRLF.
  bool on_hpub(std::string_view subject, std::string_view reply, std::string_view headers,
               std::string_view payload);
  bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid);
  bool on_unsub(std::string_view sid, std::optional<std::uint64_t> max);
  bool on_ping();
  bool on_pong();
  /// snippet: a bounded excerpt of the offending bytes for the log.
  void on_error(parse_error error, std::string_view snippet);
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

}  // namespace courier::protocol
