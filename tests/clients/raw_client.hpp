// A plain TCP client speaking the NATS text protocol by hand, for the cases a
// stock client hides: server-side limit errors, a subscriber that never reads,
// exact per-connection delivery counts.
#pragma once

#include "server_process.hpp"

#include <algorithm>
#include <cstdlib>
#include <string_view>

namespace courier::test {

/// Blocking loopback socket with deadline-bounded reads. Everything read is
/// kept in buffer(), so expectations can look at the whole conversation.
///
/// Like every NATS client, it answers the PINGs the server sends on its own
/// (the first one comes a second or two after CONNECT, to measure the round
/// trip; on a slow machine it lands in the middle of a test's exchange) with
/// PONG and keeps them out of buffer(). A test about keepalive itself asks for
/// server_pings::keep to see them and answer by hand.
class raw_client {
 public:
  /// What happens to the PINGs the server sends.
  enum class server_pings { answer, keep };

  /// Connects to the server on port; receive_buffer > 0 shrinks SO_RCVBUF.
  explicit raw_client(int port, int receive_buffer = 0, server_pings pings = server_pings::answer)
      : fd_(connect_loopback(port, receive_buffer)), answer_pings_(pings == server_pings::answer) {}
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;
  ~raw_client() {
    if (fd_ >= 0) ::close(fd_);
  }

  /// True when the TCP connection was established.
  bool connected() const { return fd_ >= 0; }

  /// Writes all of text; false if the peer has gone (no SIGPIPE).
  bool send(std::string_view text) {
    while (!text.empty()) {
      ssize_t n = ::send(fd_, text.data(), text.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      text.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  /// Reads until needle appears in the buffer at or after from, the peer
  /// closes, or the timeout passes. Returns whether the needle was seen.
  bool read_until(std::string_view needle, std::chrono::milliseconds timeout = 5s, size_t from = 0) {
    const auto deadline = steady::now() + timeout;
    while (buffer_.find(needle, from) == std::string::npos) {
      if (!read_some(deadline)) return buffer_.find(needle, from) != std::string::npos;
    }
    return true;
  }

  /// Reads (and keeps) everything until the peer closes the connection.
  /// Returns true on EOF or reset, false if still open at the timeout.
  bool wait_closed(std::chrono::milliseconds timeout = 5s) {
    const auto deadline = steady::now() + timeout;
    while (!closed_) {
      if (!read_some(deadline) && !closed_) return false;
    }
    return true;
  }

  /// Reads until the server's INFO line is complete.
  bool read_info(std::chrono::milliseconds timeout = 5s) { return read_until("\r\n", timeout); }

  /// Everything received so far.
  const std::string& buffer() const { return buffer_; }

  /// Total bytes received so far (also counts bytes dropped by clear()).
  size_t bytes_received() const { return total_; }

  /// Forgets what was received, so later expectations see only new bytes.
  void clear() { buffer_.clear(); }

  /// Number of non-overlapping occurrences of needle in buffer().
  size_t count(std::string_view needle) const {
    size_t n = 0;
    for (size_t at = buffer_.find(needle); at != std::string::npos; at = buffer_.find(needle, at + needle.size())) ++n;
    return n;
  }

  /// True after the peer closed (EOF or reset).
  bool closed() const { return closed_; }

  /// Server PINGs answered (and kept out of buffer()) so far.
  size_t pings_answered() const { return pings_answered_; }

 private:
  /// One poll+recv; false on timeout or close.
  bool read_some(steady::time_point deadline) {
    if (closed_ || fd_ < 0) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
    if (left <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<long long>(left, 100))) <= 0) return true;
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) {
      closed_ = true;
      return false;
    }
    total_ += static_cast<size_t>(n);
    if (!answer_pings_) {
      buffer_.append(chunk, static_cast<size_t>(n));
      return true;
    }
    unsplit_.append(chunk, static_cast<size_t>(n));
    take_records();
    return true;
  }

  /// Moves the complete server records of unsplit_ to buffer_, answering and
  /// dropping PINGs. A MSG/HMSG record ends after its payload, so a payload
  /// that reads "PING" is never taken for one. Bytes that are not the NATS
  /// protocol (a TLS record, say) switch the filtering off for good.
  void take_records() {
    size_t pos = 0;
    while (pos < unsplit_.size()) {
      const std::string_view rest = std::string_view(unsplit_).substr(pos);
      const size_t line_end = rest.find("\r\n");
      if (line_end == std::string_view::npos) {
        if (!could_be_protocol(rest)) return pass_through(pos);
        break;
      }
      const std::string_view line = rest.substr(0, line_end);
      if (!could_be_protocol(line)) return pass_through(pos);
      size_t record = line_end + 2;
      if (line.starts_with("MSG ") || line.starts_with("HMSG ")) {
        const size_t last_space = line.rfind(' ');
        record += std::strtoull(std::string(line.substr(last_space + 1)).c_str(), nullptr, 10) + 2;
        if (rest.size() < record) break;  // the payload is still coming
      }
      if (line == "PING") {
        send("PONG\r\n");
        ++pings_answered_;
      } else {
        buffer_.append(rest.substr(0, record));
      }
      pos += record;
    }
    unsplit_.erase(0, pos);
  }

  /// True if text is, or starts like, a line the server sends.
  static bool could_be_protocol(std::string_view text) {
    for (std::string_view verb : {"MSG ", "HMSG ", "PING", "PONG", "+OK", "-ERR ", "INFO "}) {
      const size_t n = std::min(text.size(), verb.size());
      if (text.substr(0, n) == verb.substr(0, n)) return true;
    }
    return false;
  }

  void pass_through(size_t from) {
    buffer_.append(unsplit_, from);
    unsplit_.clear();
    answer_pings_ = false;
  }

  int fd_;
  bool answer_pings_;
  std::string unsplit_;  // received, not yet a whole record (answering PINGs only)
  size_t pings_answered_ = 0;
  std::string buffer_;
  size_t total_ = 0;
  bool closed_ = false;
};

}  // namespace courier::test
