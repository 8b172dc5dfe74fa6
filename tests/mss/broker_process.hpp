// A NATS server process for the mss tests: the reference nats-server
// (Debian's /usr/sbin/nats-server, 2.9.10) or the courier binary, started on
// a free loopback port and stopped (SIGTERM, then SIGKILL) on destruction.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace courier::mss::test {

/// Path of the reference server (COURIER_NATS_SERVER overrides).
inline std::string nats_server_binary() {
  if (const char* env = std::getenv("COURIER_NATS_SERVER")) return env;
  return "/usr/sbin/nats-server";
}

/// The courier binary built with the tests (COURIER_TEST_BINARY overrides,
/// to run the end-to-end tests against another build).
inline std::string courier_binary() {
  if (const char* env = std::getenv("COURIER_TEST_BINARY")) return env;
  return COURIER_BINARY;
}

/// True when something accepts TCP connections on 127.0.0.1:port.
inline bool port_open(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return ok;
}

/// A server process; see the file comment.
class broker_process {
 public:
  broker_process() = default;
  broker_process(const broker_process&) = delete;
  broker_process& operator=(const broker_process&) = delete;
  ~broker_process() {
    stop();
    if (own_log_) std::remove(log_file_.c_str());
  }

  /// Starts `binary` with `args` plus "-a 127.0.0.1 -p <port>" (port 0 =
  /// pick a free one) and waits until it is up: its own log says "Server is
  /// ready" (nats-server and courier both log it) and the port accepts
  /// connections. The port alone is not enough: another test's server may
  /// hold it while ours fails with "address in use". Output goes to
  /// `log_file` (or a private file removed at destruction). A port picked
  /// here that a process outside the tests took first ("already in use" in
  /// the log) is replaced by another, up to four tries. False when it did
  /// not come up.
  bool start(const std::string& binary, std::vector<std::string> args, int port = 0,
             const std::string& log_file = "") {
    port_ = port > 0 ? port : unused_port();
    binary_ = binary;
    args_ = args;
    if (log_file.empty()) {
      static std::atomic<int> serial{0};
      log_file_ = "/tmp/courier-broker-process-" + std::to_string(::getpid()) + "-" + std::to_string(serial++) + ".log";
      own_log_ = true;
    } else {
      log_file_ = log_file;
    }
    for (int attempt = 1;; ++attempt) {
      const std::size_t log_start = log_since(0).size();
      if (launch()) return true;
      if (port > 0 || attempt == 4 || !courier::test::port_taken(log_since(log_start))) return false;
      stop();
      port_ = unused_port();
    }
  }

  /// Starts again with the same binary, arguments and port (after stop()).
  bool restart() { return launch(); }

  /// SIGTERM (or `signal`), wait up to 5 s, then SIGKILL.
  void stop(int signal = SIGTERM) {
    if (pid_ <= 0) return;
    ::kill(pid_, signal);
    int status = 0;
    for (int i = 0; i < 250; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }

 private:
  /// What the log holds past `from` bytes.
  std::string log_since(std::size_t from) const {
    std::ifstream in(log_file_, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return from < text.size() ? text.substr(from) : std::string();
  }

  bool launch() {
    const std::size_t log_start = log_since(0).size();  // a restart appends to the same log
    std::vector<std::string> argv{binary_};
    argv.insert(argv.end(), args_.begin(), args_.end());
    for (std::string extra : {std::string("-a"), std::string("127.0.0.1"), std::string("-p"), std::to_string(port_)})
      argv.push_back(extra);
    courier::test::spawn_options options;
    options.log = log_file_;
    options.die_with_parent = false;
    pid_ = courier::test::spawn(argv, options);
    if (pid_ < 0) return false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (std::chrono::steady_clock::now() < deadline) {
      if (log_since(log_start).find("Server is ready") != std::string::npos && port_open(port_)) return true;
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::string binary_;
  std::vector<std::string> args_;
  std::string log_file_;
  bool own_log_ = false;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace courier::mss::test
