// SMTP reply parsing (RFC 5321 section 4.2): a pure, resumable parser for
// single- and multi-line replies ("250-first", "250-second", "250 last").
// No I/O: the client appends what it reads to a buffer and calls consume().
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace courier::mss {

/// One complete SMTP reply.
struct smtp_reply {
  int code = 0;                     ///< three-digit reply code, e.g. 250
  std::vector<std::string> lines;   ///< text of each line, code and separator stripped

  /// All lines joined with "; " (for error messages and logs).
  std::string text() const;
  /// 2xx: the command succeeded.
  bool positive() const { return code >= 200 && code < 300; }
  /// 3xx: the server waits for more (DATA, AUTH challenges).
  bool intermediate() const { return code >= 300 && code < 400; }
  /// 4xx: transient failure.
  bool transient_failure() const { return code >= 400 && code < 500; }
  /// 5xx: permanent failure.
  bool permanent_failure() const { return code >= 500 && code < 600; }
};

/// Resumable reply parser. Lines end in CRLF (a bare LF is tolerated).
class smtp_reply_parser {
 public:
  /// Result of consume().
  enum class status {
    need_more,  ///< no complete reply yet; read more and call again
    done,       ///< reply() holds a complete reply
    error       ///< malformed reply; error() says why; the parser is failed
  };

  /// Longest accepted reply line. RFC 5321 section 4.5.3.1.5 says 512 octets;
  /// real servers exceed it in EHLO lists, so we allow more but stay bounded.
  static constexpr std::size_t max_line = 4096;
  /// Most lines in one reply (bounds memory against a hostile server).
  static constexpr std::size_t max_lines = 256;

  /// Consumes complete lines from the front of `buffer` (they are erased);
  /// stops after the last line of a reply so that bytes of a following
  /// reply stay in the buffer.
  status consume(std::string& buffer);

  /// The reply completed by the last consume() that returned done.
  const smtp_reply& reply() const { return reply_; }
  /// Why consume() returned error.
  const std::string& error() const { return error_; }
  /// Prepares for the next reply (called automatically after done).
  void reset();

 private:
  status feed_line(std::string_view line);

  smtp_reply reply_;
  smtp_reply pending_;
  std::string error_;
  bool failed_ = false;
};

}  // namespace courier::mss
