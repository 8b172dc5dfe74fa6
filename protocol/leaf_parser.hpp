// The leafnode protocol between two servers, as nats-server 2.9.10 speaks it
// (both directions are the same language):
//
//   INFO {json}                 CONNECT {json}          PING  PONG  +OK  -ERR 'text'
//   LS+ <subject> [<queue> <weight>]                    interest appears (or a queue's weight changes)
//   LS- <subject> [<queue>]                             interest is gone
//   LMSG <subject> [<reply> | + <reply> <queue>... | | <queue>...] <size>
//   HMSG <subject> [same as LMSG] <header size> <total size>
//
// Queue names in LMSG/HMSG tell the receiver which of its queue groups the
// sender picked it for; a message without them is for plain subscriptions
// only. A reply followed by queues is introduced by "+", queues alone by "|"
// (seen on the wire; nats-server refuses "LMSG s r q 2" with "Bad or Missing
// Reply Indicator").
//
// A resumable parser with no socket: feed() takes bytes, reports whole
// operations to a handler, and keeps an operation split across reads in a
// scratch buffer (nothing is copied when an operation arrives whole). Views
// handed to the handler are valid for the callback only. Each callback
// returns false to stop (the connection is closing). Limits are checked
// before anything is buffered.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/encoder.hpp"
#include "protocol/parser_detail.hpp"

namespace courier::protocol {

/// Why a leaf connection's input was refused.
enum class leaf_parse_error {
  unknown_operation,  ///< a verb the leaf protocol does not have
  max_control_line,   ///< a control line longer than the limit
  max_payload,        ///< a declared size over the limit
  bad_message_args,   ///< LMSG/HMSG arguments malformed (nats-server: "processLeafMsgArgs ...")
  bad_interest_args,  ///< LS+/LS- arguments malformed
  bad_payload_end,    ///< a payload not followed by CRLF
};

/// One LMSG or HMSG.
struct leaf_message {
  std::string_view subject;
  std::string_view reply;
  /// Queue groups the sender chose this side for; empty: plain subscribers only.
  const std::vector<std::string_view>* queues = nullptr;
  std::string_view headers;  ///< header block (HMSG), else empty
  std::string_view payload;
};

/// Parses the leaf protocol; `Handler` has on_info(json), on_connect(json),
/// on_ping(), on_pong(), on_ok(), on_err(text), on_interest_add(subject,
/// queue, weight), on_interest_remove(subject, queue), on_message(const
/// leaf_message&), each returning bool, and on_parse_error(error, snippet).
template <class Handler>
class leaf_parser {
 public:
  leaf_parser(std::size_t max_control_line, std::int64_t max_payload)
      : max_control_line_(max_control_line), max_payload_(max_payload) {}

  /// Consumes `size` bytes (all of them unless a callback stopped or an
  /// error was reported). After an error every feed returns 0.
  std::size_t feed(const char* data, std::size_t size, Handler& handler) {
    if (failed_) return 0;
    if (scratch_.empty()) {
      const std::size_t used = parse(std::string_view(data, size), handler);
      if (!failed_ && !stopped_ && used < size) scratch_.assign(data + used, size - used);
      stopped_ = false;
      return size;
    }
    // The rest of the operation joins the scratch buffer and is parsed there;
    // only what is consumed is erased, so an operation arriving in many
    // small reads is not copied again on each one.
    scratch_.append(data, size);
    const std::size_t used = parse(scratch_, handler);
    if (failed_ || stopped_) {
      scratch_.clear();
    } else {
      scratch_.erase(0, used);
    }
    stopped_ = false;
    return size;
  }

  /// True when no operation is half read.
  bool idle() const { return scratch_.empty(); }
  /// Gives back the scratch buffer's memory when idle.
  void release_memory() {
    if (scratch_.empty()) std::string().swap(scratch_);
  }

 private:
  /// Parses whole operations from `input`; returns the bytes they used.
  std::size_t parse(std::string_view input, Handler& handler) {
    std::size_t at = 0;
    while (at < input.size()) {
      const std::size_t newline = input.find('\n', at);
      if (newline == std::string_view::npos) {
        if (input.size() - at > max_control_line_ + 2) return fail(handler, leaf_parse_error::max_control_line, input.substr(at));
        return at;
      }
      std::string_view line = input.substr(at, newline - at);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.size() > max_control_line_) return fail(handler, leaf_parse_error::max_control_line, line);
      std::size_t next = newline + 1;
      const auto space = line.find_first_of(" \t");
      const std::string_view verb = line.substr(0, space);
      const std::string_view args = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
      bool keep_going = true;
      if (equal(verb, "LMSG") || equal(verb, "HMSG")) {
        const bool with_headers = equal(verb, "HMSG");
        std::size_t payload_size = 0, header_size = 0;
        if (!message_args(args, with_headers, header_size, payload_size)) {
          return fail(handler, leaf_parse_error::bad_message_args, line);
        }
        if (max_payload_ >= 0 && static_cast<std::int64_t>(payload_size) > max_payload_) {
          return fail(handler, leaf_parse_error::max_payload, line);
        }
        if (input.size() - next < payload_size + 2) return at;  // wait for the rest
        const std::string_view body = input.substr(next, payload_size);
        const std::string_view end = input.substr(next + payload_size, 2);
        if (end != "\r\n") return fail(handler, leaf_parse_error::bad_payload_end, line);
        message_.headers = body.substr(0, header_size);
        message_.payload = body.substr(header_size);
        message_.queues = &queues_;
        next += payload_size + 2;
        keep_going = handler.on_message(message_);
      } else if (equal(verb, "LS+")) {
        std::string_view parts[4];
        const auto count = detail::split_args<detail::separators::space_tab_cr_lf>(args, parts, 4);
        if (count == 1) {
          keep_going = handler.on_interest_add(parts[0], {}, 0);
        } else if (count == 3) {
          const auto weight = detail::parse_decimal(parts[2], detail::max_size_digits);
          if (weight < 0) return fail(handler, leaf_parse_error::bad_interest_args, line);
          keep_going = handler.on_interest_add(parts[0], parts[1], static_cast<std::int32_t>(weight));
        } else if (count == 2) {
          // nats-server takes a queue without a weight as weight 1.
          keep_going = handler.on_interest_add(parts[0], parts[1], 1);
        } else {
          return fail(handler, leaf_parse_error::bad_interest_args, line);
        }
      } else if (equal(verb, "LS-")) {
        std::string_view parts[3];
        const auto count = detail::split_args<detail::separators::space_tab_cr_lf>(args, parts, 3);
        if (count < 1 || count > 2) return fail(handler, leaf_parse_error::bad_interest_args, line);
        keep_going = handler.on_interest_remove(parts[0], count == 2 ? parts[1] : std::string_view());
      } else if (equal(verb, "PING")) {
        keep_going = handler.on_ping();
      } else if (equal(verb, "PONG")) {
        keep_going = handler.on_pong();
      } else if (equal(verb, "INFO")) {
        keep_going = handler.on_info(args);
      } else if (equal(verb, "CONNECT")) {
        keep_going = handler.on_connect(args);
      } else if (equal(verb, "+OK")) {
        keep_going = handler.on_ok();
      } else if (equal(verb, "-ERR")) {
        std::string_view text = args;
        if (text.size() >= 2 && text.front() == '\'' && text.back() == '\'') text = text.substr(1, text.size() - 2);
        keep_going = handler.on_err(text);
      } else if (line.empty()) {
        // A lone CRLF: nats-server skips it.
      } else {
        return fail(handler, leaf_parse_error::unknown_operation, line);
      }
      at = next;
      if (!keep_going) {
        stopped_ = true;
        return at;
      }
    }
    return at;
  }

  /// Splits LMSG/HMSG arguments into message_ and queues_.
  bool message_args(std::string_view args, bool with_headers, std::size_t& header_size, std::size_t& total_size) {
    tokens_.clear();
    std::size_t i = 0;
    while (i < args.size()) {
      while (i < args.size() && (args[i] == ' ' || args[i] == '\t')) ++i;
      if (i == args.size()) break;
      const std::size_t start = i;
      while (i < args.size() && args[i] != ' ' && args[i] != '\t') ++i;
      tokens_.push_back(args.substr(start, i - start));
    }
    const std::size_t sizes = with_headers ? 2 : 1;
    if (tokens_.size() < 1 + sizes) return false;
    const auto total = detail::parse_size(tokens_.back());
    if (total < 0) return false;
    total_size = static_cast<std::size_t>(total);
    header_size = 0;
    if (with_headers) {
      const auto headers = detail::parse_size(tokens_[tokens_.size() - 2]);
      if (headers < 0 || headers > total) return false;
      header_size = static_cast<std::size_t>(headers);
    }
    message_.subject = tokens_[0];
    message_.reply = {};
    queues_.clear();
    const std::size_t middle_end = tokens_.size() - sizes;
    if (middle_end == 2) {
      // One token between subject and sizes is the reply, whatever it is:
      // "LMSG s | 3" carries reply "|" (nats-server reads it so).
      message_.reply = tokens_[1];
    } else if (middle_end > 2) {
      const auto marker = tokens_[1];
      if (marker == "+") {
        message_.reply = tokens_[2];
        queues_.assign(tokens_.begin() + 3, tokens_.begin() + static_cast<std::ptrdiff_t>(middle_end));
      } else if (marker == "|") {
        queues_.assign(tokens_.begin() + 2, tokens_.begin() + static_cast<std::ptrdiff_t>(middle_end));
      } else {
        return false;  // "Bad or Missing Reply Indicator"
      }
    }
    return true;
  }

  static bool equal(std::string_view verb, std::string_view expected) {
    if (verb.size() != expected.size()) return false;
    for (std::size_t i = 0; i < verb.size(); ++i) {
      char c = verb[i];
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (c != expected[i]) return false;
    }
    return true;
  }

  std::size_t fail(Handler& handler, leaf_parse_error error, std::string_view snippet) {
    failed_ = true;
    handler.on_parse_error(error, detail::snippet(snippet, detail::control_line_snippet_size));
    return 0;
  }

  const std::size_t max_control_line_;
  const std::int64_t max_payload_;
  std::string scratch_;  ///< an operation split across reads
  bool failed_ = false;
  bool stopped_ = false;
  leaf_message message_;
  std::vector<std::string_view> tokens_;  ///< reused: no allocation once warm
  std::vector<std::string_view> queues_;
};

/// Appends LMSG (or HMSG when `headers` is not empty) for `queues`: the
/// size worked out first, the buffer grown once, then written in place (no
/// temporary line per message).
template <class Buffer>
void append_leaf_message(Buffer& out, std::string_view subject, std::string_view reply,
                         const std::vector<std::string_view>& queues, std::string_view headers,
                         std::string_view payload) {
  using namespace encoder_detail;
  const std::size_t total = headers.size() + payload.size();
  const std::size_t total_digits = decimal_digits(total);
  const std::size_t header_digits = headers.empty() ? 0 : decimal_digits(headers.size());
  std::size_t line = 5 + subject.size();  // "LMSG " or "HMSG "
  if (!queues.empty()) {
    line += reply.empty() ? 2 : 3 + reply.size();  // " |" or " + <reply>"
    for (const auto& queue : queues) line += 1 + queue.size();
  } else if (!reply.empty()) {
    line += 1 + reply.size();
  }
  if (!headers.empty()) line += 1 + header_digits;
  line += 1 + total_digits + 2;
  char* p = grow(out, line + total + 2);
  p = put(p, headers.empty() ? std::string_view("LMSG ") : std::string_view("HMSG "));
  p = put(p, subject);
  if (!queues.empty()) {
    if (!reply.empty()) {
      p = put(p, std::string_view(" + "));
      p = put(p, reply);
    } else {
      p = put(p, std::string_view(" |"));
    }
    for (const auto& queue : queues) {
      p = put(p, ' ');
      p = put(p, queue);
    }
  } else if (!reply.empty()) {
    p = put(p, ' ');
    p = put(p, reply);
  }
  if (!headers.empty()) {
    p = put(p, ' ');
    p = write_decimal(p, headers.size(), header_digits);
  }
  p = put(p, ' ');
  p = write_decimal(p, total, total_digits);
  p = put(p, std::string_view("\r\n"));
  p = put(p, headers);
  p = put(p, payload);
  put(p, std::string_view("\r\n"));
}

}  // namespace courier::protocol
