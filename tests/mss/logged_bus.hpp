// A tcp_bus (client/tcp_bus) whose log lines a test can read and wait for:
// reconnects come quickly (200 ms at most apart) and a connection attempt
// may take 10 s (CI is a busy machine running sanitizer builds).
#pragma once

#include <algorithm>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client/tcp_bus.hpp"
#include "test_support.hpp"

namespace courier::mss::test {

class logged_bus {
 public:
  explicit logged_bus(tcp_bus_options options) {
    using namespace std::chrono_literals;
    options.reconnect_max_delay = 200ms;
    options.connect_timeout = 10s;
    options.log = [this](const std::string& line) {
      std::lock_guard lock(mutex_);
      lines_.push_back(line);
    };
    bus_ = std::make_unique<tcp_bus>(std::move(options));
  }

  tcp_bus& operator*() { return *bus_; }
  tcp_bus* operator->() { return bus_.get(); }

  /// The first line containing `text`, or "".
  std::string line_with(const std::string& text) {
    std::lock_guard lock(mutex_);
    for (const auto& line : lines_)
      if (line.find(text) != std::string::npos) return line;
    return {};
  }
  /// Waits until a line contains `text`; false after `timeout`.
  bool wait_logged(const std::string& text, std::chrono::milliseconds timeout) {
    return wait_until([&] { return !line_with(text).empty(); }, timeout);
  }
  /// True when `line` was logged exactly.
  bool logged_exactly(const std::string& line) {
    std::lock_guard lock(mutex_);
    return std::find(lines_.begin(), lines_.end(), line) != lines_.end();
  }
  /// How many lines start with `prefix`.
  std::size_t count_starting(const std::string& prefix) {
    std::lock_guard lock(mutex_);
    return static_cast<std::size_t>(std::count_if(
        lines_.begin(), lines_.end(), [&](const std::string& line) { return line.rfind(prefix, 0) == 0; }));
  }
  /// Every line, for a failure's message.
  std::string text() {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& line : lines_) out += line + "\n";
    return out;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> lines_;
  std::unique_ptr<tcp_bus> bus_;
};

}  // namespace courier::mss::test
