// A plain TCP client speaking the NATS text protocol by hand, for the cases a
// stock client hides: server-side limit errors, a subscriber that never reads,
// exact per-connection delivery counts.
#pragma once

#include "server_process.hpp"

#include <algorithm>

namespace courier::test {

/// Blocking loopback socket with deadline-bounded reads. Everything read is
/// kept in buffer(), so expectations can look at the whole conversation.
class raw_client {
 public:
  /// Connects to the server on port; receive_buffer > 0 shrinks SO_RCVBUF.
  explicit raw_client(int port, int receive_buffer = 0) : fd_(connect_loopback(port, receive_buffer)) {}
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
    buffer_.append(chunk, static_cast<size_t>(n));
    total_ += static_cast<size_t>(n);
    return true;
  }

  int fd_;
  std::string buffer_;
  size_t total_ = 0;
  bool closed_ = false;
};

}  // namespace courier::test
