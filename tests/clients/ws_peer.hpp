// A nats.ws client in a child process (tests/browser/ws_peer.mjs, in Node or
// in headless Chromium), driven by JSON commands over its stdin; its events
// come back as JSON lines on its stdout. Node and Chromium are required
// peers: a missing one fails the test, never skips it.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <picojson.h>

#include "tests/spawn.hpp"

namespace courier::test {

/// One nats.ws peer. Waits poll for events with generous deadlines.
class ws_peer {
 public:
  /// Starts `node ws_peer.mjs` (with --chromium PATH when `chromium` is set)
  /// and waits for its "ready".
  /// `extra_env` ("NAME=value") is added to the peer's environment.
  explicit ws_peer(const std::string& chromium = {}, std::vector<std::string> extra_env = {})
      : ws_peer(peer_args(chromium), "the nats.ws peer", std::move(extra_env)) {}

  /// Starts `node tests/browser/<script> <args...>`, another driver speaking
  /// the same line protocol (events with "ev", "ready" first, "fatal").
  ws_peer(const std::string& script, const std::vector<std::string>& args, const std::string& what)
      : ws_peer(script_args(script, args), what, {}) {}

 private:
  static std::vector<std::string> peer_args(const std::string& chromium) {
    return chromium.empty() ? script_args("ws_peer.mjs", {}) : script_args("ws_peer.mjs", {"--chromium", chromium});
  }
  static std::vector<std::string> script_args(const std::string& script, const std::vector<std::string>& args) {
    std::vector<std::string> out = {COURIER_NODE, std::string(COURIER_SOURCE_DIR) + "/tests/browser/" + script};
    out.insert(out.end(), args.begin(), args.end());
    return out;
  }

  ws_peer(const std::vector<std::string>& args, const std::string& what, std::vector<std::string> extra_env)
      : what_(what) {
    int in[2], out[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe failed";
      return;
    }
    spawn_options options;
    options.stdin_fd = in[0];
    options.stdout_fd = out[1];
    options.extra_env = std::move(extra_env);
    pid_ = spawn(args, options);
    ::close(in[0]);
    ::close(out[1]);
    to_peer_ = in[1];
    from_peer_ = out[0];
    // Chromium starts slowly on a busy machine.
    ready_ = !wait_for("ready", std::chrono::seconds(180)).is<picojson::null>();
    EXPECT_TRUE(ready_) << what_ << " did not start (node or chromium missing, or no npm ci in tests/browser?)";
  }

 public:

  ~ws_peer() {
    if (to_peer_ >= 0) ::close(to_peer_);
    if (pid_ > 0) {
      // Closing stdin ends it; Chromium needs a moment to shut down.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      int status = 0;
      while (::waitpid(pid_, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
          ::kill(pid_, SIGKILL);
          ::waitpid(pid_, &status, 0);
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    if (from_peer_ >= 0) ::close(from_peer_);
  }

  bool ready() const { return ready_; }

  /// Sends one command (a JSON object).
  void send(const picojson::object& command) {
    const std::string line = picojson::value(command).serialize() + "\n";
    ASSERT_EQ(::write(to_peer_, line.data(), line.size()), static_cast<ssize_t>(line.size()));
  }

  /// The next event named `ev` that `accept` takes (earlier other events are
  /// kept for later waits); null after the deadline, with a test failure.
  picojson::value wait_for(const std::string& ev, std::chrono::milliseconds timeout = std::chrono::seconds(60),
                           const std::function<bool(const picojson::object&)>& accept = nullptr) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      for (auto it = backlog_.begin(); it != backlog_.end(); ++it) {
        const auto& object = it->get<picojson::object>();
        if (field(object, "ev") == ev && (!accept || accept(object))) {
          picojson::value found = *it;
          backlog_.erase(it);
          return found;
        }
        if (field(object, "ev") == "fatal") {
          ADD_FAILURE() << what_ << ": " << field(object, "message");
          return {};
        }
      }
      if (std::chrono::steady_clock::now() > deadline || !read_lines(deadline)) {
        ADD_FAILURE() << "no \"" << ev << "\" event from " << what_ << "; seen: " << seen_;
        return {};
      }
    }
  }

  /// Events named `ev` received so far and not yet waited for (taken).
  std::vector<picojson::object> take_all(const std::string& ev) {
    std::vector<picojson::object> out;
    for (auto it = backlog_.begin(); it != backlog_.end();) {
      if (field(it->get<picojson::object>(), "ev") == ev) {
        out.push_back(it->get<picojson::object>());
        it = backlog_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

  /// Reads what the peer printed within `timeout` into the backlog.
  void drain(std::chrono::milliseconds timeout) { read_lines(std::chrono::steady_clock::now() + timeout, true); }

  static std::string field(const picojson::object& object, const std::string& key) {
    auto it = object.find(key);
    if (it == object.end()) return {};
    return it->second.is<std::string>() ? it->second.get<std::string>() : it->second.serialize();
  }

 private:
  /// Reads lines until one arrives (or, with `all`, until the deadline).
  bool read_lines(std::chrono::steady_clock::time_point deadline, bool all = false) {
    bool got = false;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{from_peer_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(1, std::min<std::int64_t>(left.count(), 200)))) <= 0) {
        continue;
      }
      char buffer[65536];
      const ssize_t n = ::read(from_peer_, buffer, sizeof buffer);
      if (n <= 0) return got;  // the peer exited
      partial_.append(buffer, static_cast<std::size_t>(n));
      for (auto newline = partial_.find('\n'); newline != std::string::npos; newline = partial_.find('\n')) {
        const std::string line = partial_.substr(0, newline);
        partial_.erase(0, newline + 1);
        if (seen_.size() < 4000) seen_ += line + "\n";
        picojson::value value;
        if (picojson::parse(value, line).empty() && value.is<picojson::object>()) {
          backlog_.push_back(value);
          got = true;
        }
      }
      if (got && !all) return true;
    }
    return got;
  }

  pid_t pid_ = -1;
  int to_peer_ = -1;
  int from_peer_ = -1;
  bool ready_ = false;
  std::string partial_;
  std::string seen_;
  std::string what_;
  std::deque<picojson::value> backlog_;
};

/// A JSON command from key/value pairs.
inline picojson::object command(std::initializer_list<std::pair<const std::string, picojson::value>> fields) {
  return picojson::object(fields);
}

}  // namespace courier::test
