// A broker running as a child process on a free loopback port, for the
// stock-client tests. Header-only: only *_test.cpp files are compiled into
// test_clients, so the fixture lives here.
//
// The binary is $COURIER_TEST_SERVER when set (so the very same suite can be
// pointed at /usr/sbin/nats-server to validate the tests themselves), else
// the build's courier executable (COURIER_BINARY).
#pragma once

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/free_port.hpp"
#include "tests/spawn.hpp"

namespace courier::test {

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

/// Path of the server under test: $COURIER_TEST_SERVER or the build's courier.
inline std::string server_binary() {
  if (const char* env = std::getenv("COURIER_TEST_SERVER"); env != nullptr && *env != '\0') {
    return env;
  }
  return COURIER_BINARY;
}

/// True when the suite runs against the reference nats-server rather than
/// Courier (used only to label diagnostics, never to change expectations).
inline bool against_reference() {
  return server_binary().find("nats-server") != std::string::npos;
}

/// The server's command line up to its own options: listen on
/// 127.0.0.1:port. Courier runs two event loops whatever the machine (its
/// default is one per two cores), so that these tests, and the
/// ThreadSanitizer server tools/test.sh runs them against, always have
/// publishers on one loop writing into receivers on the other.
inline std::vector<std::string> server_command(int port) {
  std::vector<std::string> args{server_binary(), "-a", "127.0.0.1", "-p", std::to_string(port)};
  if (!against_reference()) {
    args.push_back("--threads");
    args.push_back("2");
  }
  return args;
}

/// A loopback port for a server about to start (tests/free_port.hpp).
inline int pick_free_port() { return courier::test::free_port(); }

/// Connects a blocking TCP socket to 127.0.0.1:port; -1 on failure.
/// receive_buffer > 0 shrinks SO_RCVBUF before connecting (it must be set
/// before the handshake to shrink the advertised window).
inline int connect_loopback(int port, int receive_buffer = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (receive_buffer > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof receive_buffer);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

/// A sanitizer build of the server reports to stderr, which only its log
/// sees: a report there fails the test that ran the server.
inline void expect_no_sanitizer_report(const std::string& log) {
  for (const char* marker : {"ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                             "WARNING: ThreadSanitizer"}) {
    if (log.find(marker) != std::string::npos) {
      ADD_FAILURE() << "sanitizer report from " << server_binary() << ":\n" << log;
      return;
    }
  }
}

/// Starts args[0] with args, its output appended to the file `log`; the
/// child dies with the test binary, so a crashed test leaves no server
/// behind. Returns the child's pid, or -1 if fork failed (errno set).
inline pid_t spawn_logged(std::vector<std::string>& args, const std::string& log) {
  spawn_options options;
  options.log = log;
  return spawn(args, options);
}

/// One server child process. Owns a scratch directory holding the generated
/// config file and the server's combined stdout/stderr log.
class server_process {
 public:
  /// config_text, when not empty, is written to a file passed with -c.
  explicit server_process(std::string config_text = {}) : config_text_(std::move(config_text)) {
    char dir_template[] = "/tmp/courier_clients_XXXXXX";
    if (char* dir = ::mkdtemp(dir_template)) dir_ = dir;
    if (!config_text_.empty()) {
      std::ofstream(config_path()) << config_text_ << '\n';
    }
  }

  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  ~server_process() {
    stop();
    expect_no_sanitizer_report(log_text());
    if (!dir_.empty()) {
      ::unlink(config_path().c_str());
      ::unlink(log_path().c_str());
      ::rmdir(dir_.c_str());
    }
  }

  /// Spawns the server (on the previous port after a stop, so that clients
  /// can reconnect) and waits until it accepts and sends its INFO line.
  testing::AssertionResult start(std::chrono::milliseconds timeout = 10s) {
    if (pid_ > 0) return testing::AssertionFailure() << "server already running";
    if (dir_.empty()) return testing::AssertionFailure() << "mkdtemp failed";
    // A port picked here can be taken by another test's server or client
    // before ours binds it: then pick another (a restart keeps its port).
    const bool fresh_port = port_ <= 0;
    for (int attempt = 1;; ++attempt) {
      if (fresh_port) port_ = pick_free_port();
      if (port_ <= 0) return testing::AssertionFailure() << "no free port";
      auto started = start_on_port(timeout);
      if (started || !fresh_port || attempt == 3 || log_text().find("in use") == std::string::npos) return started;
    }
  }

 private:
  /// One spawn on port_, waiting for its INFO.
  testing::AssertionResult start_on_port(std::chrono::milliseconds timeout) {
    std::vector<std::string> args = server_command(port_);
    const std::string binary = args.front();
    if (!config_text_.empty()) {
      args.push_back("-c");
      args.push_back(config_path());
    }
    const pid_t pid = spawn_logged(args, log_path());
    if (pid < 0) return testing::AssertionFailure() << "fork: " << std::strerror(errno);
    pid_ = pid;

    const auto deadline = steady::now() + timeout;
    while (steady::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return testing::AssertionFailure() << binary << " exited during startup (status " << status
                                           << "); log:\n" << log_text();
      }
      // Ours only once its log says so: if another test's server took the
      // port first, the INFO would be that server's while ours is failing
      // with "address in use" (seen once as a bcrypt test refused by a
      // server with another config).
      if (log_text().find("Server is ready") != std::string::npos && greets_with_info()) {
        return testing::AssertionSuccess();
      }
      std::this_thread::sleep_for(10ms);
    }
    kill();
    return testing::AssertionFailure() << binary << " did not accept on port " << port_ << " within "
                                       << timeout.count() << " ms; log:\n" << log_text();
  }

 public:
  /// Graceful stop: SIGTERM, then SIGKILL if it lingers. Returns the
  /// wait status, or -1 when nothing was running.
  int stop(std::chrono::milliseconds grace = 5s) { return terminate(SIGTERM, grace); }

  /// Abrupt stop, as after a crash.
  int kill() { return terminate(SIGKILL, 5s); }

  /// Stops gracefully and starts again on the same port.
  testing::AssertionResult restart() {
    stop();
    return start();
  }

  /// True while the child has not been reaped.
  bool running() const { return pid_ > 0; }

  /// The TCP port the server listens on.
  int port() const { return port_; }

  /// nats://127.0.0.1:PORT, for libnats.
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

  /// The server's stdout and stderr so far.
  std::string log_text() const {
    std::ifstream in(log_path());
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  std::string config_path() const { return dir_ + "/server.conf"; }
  std::string log_path() const { return dir_ + "/server.log"; }

  /// One probe: connect and see whether the first bytes are "INFO ".
  bool greets_with_info() const {
    int fd = connect_loopback(port_);
    if (fd < 0) return false;
    std::string got;
    const auto deadline = steady::now() + 1s;
    while (got.size() < 5 && steady::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      char buf[256];
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return got.rfind("INFO ", 0) == 0;
  }

  int terminate(int signal_number, std::chrono::milliseconds grace) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, signal_number);
    int status = 0;
    const auto deadline = steady::now() + grace;
    while (steady::now() < deadline) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(5ms);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  std::string config_text_;
  std::string dir_;
  int port_ = -1;
  pid_t pid_ = -1;
};

}  // namespace courier::test
