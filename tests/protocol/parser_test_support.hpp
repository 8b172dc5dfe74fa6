// Recording handlers and feeding helpers shared by the parser tests and the
// fuzz targets: every op becomes one line of text, so two runs can be compared.
#pragma once

#include "protocol/parser.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace courier::protocol::testing {

/// Printable form of bytes: \r \n \t and non-ASCII escaped.
inline std::string escape(std::string_view bytes) {
  std::string out;
  static constexpr char hex[] = "0123456789abcdef";
  for (unsigned char c : bytes) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else if (c == '\t') out += "\\t";
    else if (c == '\\') out += "\\\\";
    else if (c < 0x20 || c >= 0x7f) { out += "\\x"; out += hex[c >> 4]; out += hex[c & 15]; }
    else out += static_cast<char>(c);
  }
  return out;
}

/// Records client->server ops as "VERB|arg|arg...".
struct client_recorder {
  std::vector<std::string> ops;
  /// When set, the callback for op number stop_after returns false.
  std::optional<std::size_t> stop_after;
  /// Records the optional INFO / +OK callbacks too.
  bool ok_and_info = true;

  bool record(std::string op) {
    ops.push_back(std::move(op));
    return !(stop_after && ops.size() == *stop_after + 1);
  }
  bool on_connect(std::string_view json) { return record("CONNECT|" + escape(json)); }
  bool on_pub(std::string_view subject, std::string_view reply, std::string_view payload) {
    return record("PUB|" + escape(subject) + "|" + escape(reply) + "|" + escape(payload));
  }
  bool on_hpub(std::string_view subject, std::string_view reply, std::string_view headers,
               std::string_view payload) {
    return record("HPUB|" + escape(subject) + "|" + escape(reply) + "|" + escape(headers) + "|" +
                  escape(payload));
  }
  bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid) {
    return record("SUB|" + escape(subject) + "|" + escape(queue) + "|" + escape(sid));
  }
  bool on_unsub(std::string_view sid, std::optional<std::uint64_t> max) {
    return record("UNSUB|" + escape(sid) + "|" + (max ? std::to_string(*max) : std::string("-")));
  }
  bool on_ping() { return record("PING"); }
  bool on_pong() { return record("PONG"); }
  bool on_info(std::string_view json) { return record("INFO|" + escape(json)); }
  bool on_ok() { return record("+OK"); }
  void on_error(parse_error error, std::string_view snippet) {
    ops.push_back("ERROR|" + std::string(to_string(error)));
    last_snippet = std::string(snippet);
  }
  std::string last_snippet;
};

/// A handler with only the required client callbacks (no on_info / on_ok).
struct minimal_client_handler {
  std::size_t count = 0;
  bool on_connect(std::string_view) { return ++count, true; }
  bool on_pub(std::string_view, std::string_view, std::string_view) { return ++count, true; }
  bool on_hpub(std::string_view, std::string_view, std::string_view, std::string_view) {
    return ++count, true;
  }
  bool on_sub(std::string_view, std::string_view, std::string_view) { return ++count, true; }
  bool on_unsub(std::string_view, std::optional<std::uint64_t>) { return ++count, true; }
  bool on_ping() { return ++count, true; }
  bool on_pong() { return ++count, true; }
  void on_error(parse_error, std::string_view) {}
};

/// Records server->client ops.
struct server_recorder {
  std::vector<std::string> ops;
  std::optional<std::size_t> stop_after;

  bool record(std::string op) {
    ops.push_back(std::move(op));
    return !(stop_after && ops.size() == *stop_after + 1);
  }
  bool on_info(std::string_view json) { return record("INFO|" + escape(json)); }
  bool on_msg(std::string_view subject, std::string_view sid, std::string_view reply,
              std::string_view payload) {
    return record("MSG|" + escape(subject) + "|" + escape(sid) + "|" + escape(reply) + "|" +
                  escape(payload));
  }
  bool on_hmsg(std::string_view subject, std::string_view sid, std::string_view reply,
               std::string_view headers, std::string_view payload) {
    return record("HMSG|" + escape(subject) + "|" + escape(sid) + "|" + escape(reply) + "|" +
                  escape(headers) + "|" + escape(payload));
  }
  bool on_ok() { return record("+OK"); }
  bool on_err(std::string_view text) { return record("-ERR|" + escape(text)); }
  bool on_ping() { return record("PING"); }
  bool on_pong() { return record("PONG"); }
  void on_error(parse_error error, std::string_view) {
    ops.push_back("ERROR|" + std::string(to_string(error)));
  }
};

/// Feeds `input` cut at the given offsets (ascending), resuming after a
/// callback that returned false, and returns the recorded ops.
template <template <class> class Parser, class Recorder>
std::vector<std::string> parse_pieces(std::string_view input, const std::vector<std::size_t>& cuts,
                                      parser_limits limits = {}) {
  Parser<Recorder> parser(limits);
  Recorder recorder;
  std::size_t from = 0;
  auto feed_range = [&](std::size_t to) {
    // Copy each piece into its own buffer so a view kept past its feed would
    // read freed memory under ASan.
    std::vector<char> piece(input.begin() + static_cast<std::ptrdiff_t>(from),
                            input.begin() + static_cast<std::ptrdiff_t>(to));
    std::size_t offset = 0;
    while (offset < piece.size() && !parser.failed()) {
      offset += parser.feed(piece.data() + offset, piece.size() - offset, recorder);
    }
    from = to;
  };
  for (std::size_t cut : cuts) feed_range(cut);
  feed_range(input.size());
  return recorder.ops;
}

}  // namespace courier::protocol::testing
