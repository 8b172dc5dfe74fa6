// libFuzzer target: a whole client connection. One server runs for the whole
// campaign (in this process, on a loopback port) with two accounts, a user
// confined by permissions, and watchers. Its event loop runs on the fuzzing
// thread (server::start_driven): the harness polls it between its own steps,
// so no step waits for another thread to be woken, and every input costs
// only the work it causes. Each input is one TCP connection: an optional
// CONNECT chosen by the first bytes, then the input's bytes as the client
// sends them, then end of input (the client shuts its sending side).
// Checked for every input:
//  - the server closes the connection after the client's end of input (no
//    hang), and everything it sent parses as the server side of the protocol;
//  - no message is delivered where permissions forbid it: the confined user
//    (publish pub.>, subscribe sub.>) only ever receives sub.> messages, and
//    a watcher of its account subscribed to '>' only ever sees pub.> from it;
//  - nothing crosses into another account (a watcher there sees nothing);
//  - the watchers' connections still answer, and every 32 inputs a fresh
//    client connects and gets PONG for PING.
// Crashes, leaks and undefined behaviour anywhere in the server are found by
// the sanitizers the target is built with.
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broker/logger.hpp"
#include "broker/server.hpp"
#include "conf/config_loader.hpp"
#include "protocol/parser.hpp"

namespace {

// The watchers' passwords are long and random: the fuzzer cannot log in as
// them (they are compared in constant time, so no comparison leaks a byte).
constexpr const char* config = R"(
accounts {
  A {
    users = [
      { user: limited, password: lp,
        permissions: { publish: { allow: ["pub.>"] }, subscribe: { allow: ["sub.>"] } } }
      { user: watch, password: "Zq3vT9xW2mK8pL5nR7cY1bH4" }
    ]
  }
  C {
    users = [ { user: cwatch, password: "Jd8sF2kP9wQ4zX7mN3vB6tL1" } ]
  }
}
max_connections: 10000
)";

[[noreturn]] void fail(const std::string& what, std::string_view detail = {}) {
  std::fprintf(stderr, "connection fuzz: %s\n%.*s\n", what.c_str(), static_cast<int>(std::min<std::size_t>(detail.size(), 4000)),
               detail.data());
  std::abort();
}

/// The server, driven from this thread: poll() runs what is ready.
courier::broker::server* the_server = nullptr;

/// A loopback client socket, non-blocking once connected. What the server
/// sends collects in pending() as the harness polls the server.
class raw_socket {
 public:
  explicit raw_socket(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    if (fd_ < 0) fail("socket() failed");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Completes from the listen backlog; the server accepts when polled.
    // libFuzzer's timer signal can interrupt it (EINTR): the connection
    // then completes on its own, and is waited for.
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      if (errno != EINTR) fail("connect() failed: " + std::string(std::strerror(errno)));
      pollfd writable{fd_, POLLOUT, 0};
      int error = 0;
      socklen_t length = sizeof error;
      while (::poll(&writable, 1, 10000) < 0 && errno == EINTR) {
      }
      if (::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0 || !(writable.revents & POLLOUT))
        fail("connect() failed after an interruption: " + std::string(std::strerror(error)));
    }
    ::fcntl(fd_, F_SETFL, O_NONBLOCK);
    sockets().push_back(this);
  }
  ~raw_socket() {
    auto& all = sockets();
    all.erase(std::find(all.begin(), all.end(), this));
    ::close(fd_);
  }
  raw_socket(const raw_socket&) = delete;
  raw_socket& operator=(const raw_socket&) = delete;

  /// Sends all of `bytes`, polling the server while the socket is full;
  /// false when the server has closed (EPIPE/ECONNRESET).
  bool send(std::string_view bytes) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EPIPE || errno == ECONNRESET) return false;
        if (errno != EAGAIN) fail("send() failed: " + std::string(std::strerror(errno)));
        if (std::chrono::steady_clock::now() > deadline) fail("the server stopped reading a client", pending_);
        step();
        continue;
      }
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void shutdown_sending() { ::shutdown(fd_, SHUT_WR); }

  /// Polls the server until it has closed this connection; everything it
  /// sent. Taking longer than `patience` is a hang.
  std::string read_to_end() {
    run_until([this] { return ended_; }, "the server to close the connection after the client's end of input");
    return std::move(pending_);
  }

  /// Bytes received and not consumed yet.
  std::string& pending() { return pending_; }
  bool ended() const { return ended_; }

  /// Polls the server until a round changes nothing.
  static void settle() {
    while (step()) {
    }
  }

  /// Polls the server until `done`; a wait longer than `patience` fails
  /// (the server does nothing between polls, so nothing is ever missed by
  /// looking too rarely, and a busy machine only makes each step slower).
  template <typename Done>
  static void run_until(Done&& done, std::string_view waiting_for) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    for (;;) {
      const bool progress = step();
      if (done()) return;
      if (!progress) {
        if (std::chrono::steady_clock::now() > deadline) fail("timed out waiting for " + std::string(waiting_for));
        // Nothing ready: wait (briefly) for the server's sockets, e.g. for
        // bytes the kernel has not handed over yet.
        the_server->poll(std::chrono::milliseconds(1));
      }
    }
  }

 private:
  /// 10 s: generous on a busy machine; a hang is not.
  static constexpr auto patience = std::chrono::seconds(10);

  static std::vector<raw_socket*>& sockets() {
    static std::vector<raw_socket*> all;
    return all;
  }
  /// One round: the server runs what is ready, then every client reads what
  /// arrived. True when anything happened.
  static bool step() {
    bool progress = the_server->poll() > 0;
    for (raw_socket* s : sockets()) progress = s->read_available() || progress;
    return progress;
  }
  bool read_available() {
    if (ended_) return false;
    bool got = false;
    char buffer[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n > 0) {
        pending_.append(buffer, static_cast<std::size_t>(n));
        got = true;
        continue;
      }
      if (n == 0 || errno == ECONNRESET) {
        ended_ = true;
        return true;
      }
      if (errno == EINTR) continue;
      return got;  // EAGAIN: nothing more now
    }
  }

  int fd_;
  std::string pending_;
  bool ended_ = false;
};

/// Checks what the server sent: protocol only, and only the allowed subjects.
struct output_checker {
  std::string_view allowed_prefix;
  std::string_view context;
  std::string_view bytes;
  std::size_t messages = 0;
  std::size_t pings = 0;  ///< the server's keepalive PINGs
  bool stop_at_pong = false;
  bool pong = false;

  /// Subjects must start with allowed_prefix and go on; an empty prefix
  /// allows no message at all.
  void subject(std::string_view s) {
    ++messages;
    if (allowed_prefix.empty() || s.size() <= allowed_prefix.size() ||
        s.substr(0, allowed_prefix.size()) != allowed_prefix) {
      fail(std::string(context) + " received a message on " + std::string(s), bytes);
    }
  }
  bool on_info(std::string_view) { return true; }
  bool on_msg(std::string_view s, std::string_view, std::string_view, std::string_view) {
    subject(s);
    return true;
  }
  bool on_hmsg(std::string_view s, std::string_view, std::string_view, std::string_view, std::string_view) {
    subject(s);
    return true;
  }
  bool on_ok() { return true; }
  bool on_err(std::string_view) { return true; }
  bool on_ping() {
    ++pings;
    return true;
  }
  bool on_pong() {
    pong = true;
    return !stop_at_pong;
  }
  void on_error(courier::protocol::parse_error error, std::string_view) {
    fail(std::string(context) + ": the server sent something that is not protocol (" +
             std::string(courier::protocol::to_string(error)) + ")",
         bytes);
  }
};

/// What scan_output found.
struct scan_result {
  std::size_t consumed = 0;  ///< bytes of whole operations (through the PONG when stopping there)
  std::size_t pings = 0;
  bool pong = false;
};

/// Parses `bytes` as server output, checking it. A trailing partial
/// operation is fine (the server may close mid-way, e.g. cutting off a slow
/// consumer, or the rest has not arrived yet).
scan_result scan_output(std::string_view bytes, std::string_view allowed_prefix, std::string_view context,
                        bool stop_at_pong = false) {
  courier::protocol::parser_limits limits;
  limits.max_control_line = 1 << 20;  // INFO lines are long
  limits.max_payload = -1;
  courier::protocol::server_parser<output_checker> parser(limits);
  output_checker checker{allowed_prefix, context, bytes};
  checker.stop_at_pong = stop_at_pong;
  std::size_t at = 0;
  while (at < bytes.size() && !(stop_at_pong && checker.pong)) {
    const std::size_t used = parser.feed(bytes.data() + at, bytes.size() - at, checker);
    if (used == 0) break;
    at += used;
  }
  return {at, checker.pings, checker.pong};
}

struct harness {
  std::unique_ptr<courier::broker::server> server;
  std::unique_ptr<raw_socket> watch;   // account A, subscribed to '>', no echo
  std::unique_ptr<raw_socket> cwatch;  // account C, subscribed to '>'
  std::size_t inputs = 0;

  harness() {
    courier::conf::server_options options;
    courier::conf::load_config_string(config, options);
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 1;
    courier::broker::log().open("/dev/null");  // one authorization error per input otherwise
    server = std::make_unique<courier::broker::server>(options);
    server->start_driven();
    the_server = server.get();
    watch = login("watch", "Zq3vT9xW2mK8pL5nR7cY1bH4", "SUB > 1\r\n");
    cwatch = login("cwatch", "Jd8sF2kP9wQ4zX7mN3vB6tL1", "SUB > 1\r\n");
  }
  ~harness() {
    watch.reset();
    cwatch.reset();
    server->shutdown();
  }

  std::unique_ptr<raw_socket> login(const char* user, const char* password, const char* then) {
    auto socket = std::make_unique<raw_socket>(server->port());
    auto& in = socket->pending();
    raw_socket::run_until([&] { return in.find("\r\n") != std::string::npos; }, "INFO");
    in.erase(0, in.find("\r\n") + 2);
    socket->send(std::string("CONNECT {\"verbose\":false,\"echo\":false,\"headers\":true,\"user\":\"") + user + "\",\"pass\":\"" +
                 password + "\"}\r\n" + then + "PING\r\n");
    // Only for exchanges where no message can arrive (logging in).
    raw_socket::run_until([&] { return in.find("PONG\r\n") != std::string::npos || socket->ended(); }, "PONG");
    if (in != "PONG\r\n") fail(std::string("login of ") + user + " answered", in);
    in.clear();
    return socket;
  }

  /// PING a watcher; everything before the PONG must be allowed for it.
  void sync(raw_socket& socket, std::string_view allowed_prefix, const char* who) {
    if (!socket.send("PING\r\n")) fail(std::string(who) + "'s connection was closed");
    // Parsed, not searched: a message's payload may hold "PONG\r\n" too.
    scan_result scan;
    raw_socket::run_until(
        [&] {
          if (socket.ended()) fail(std::string(who) + "'s connection ended", socket.pending());
          scan = scan_output(socket.pending(), allowed_prefix, who, true);
          return scan.pong;
        },
        std::string(who) + "'s PONG");
    socket.pending().erase(0, scan.consumed);
    // The server's own keepalive PINGs (every 2 minutes) are answered, or a
    // long campaign would see the watchers closed as stale.
    for (std::size_t i = 0; i < scan.pings; ++i) socket.send("PONG\r\n");
  }
};

harness& the_harness() {
  static harness instance;
  return instance;
}

std::string connect_line(std::uint8_t choice, std::uint8_t flags) {
  auto flag = [&](int bit) { return (flags >> bit) & 1 ? "true" : "false"; };
  std::string options = std::string("\"verbose\":") + flag(0) + ",\"pedantic\":" + flag(1) + ",\"headers\":" +
                        flag(2) + ",\"echo\":" + flag(3) + ",\"protocol\":1";
  switch (choice % 5) {
    case 0: return "CONNECT {" + options + ",\"user\":\"limited\",\"pass\":\"lp\"}\r\n";
    case 1: return "CONNECT {" + options + ",\"user\":\"limited\",\"pass\":\"wrong\"}\r\n";
    case 2: return "CONNECT {" + options + ",\"user\":\"cwatch\",\"pass\":\"lp\"}\r\n";
    case 3: return "CONNECT {" + options + "}\r\n";
    default: return {};  // the input's own bytes from the start
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  harness& h = the_harness();
  std::string input(reinterpret_cast<const char*>(data + 2), size - 2);
  // A CR not followed by LF becomes a blank. Inside a PUB line it would end
  // up in the reply subject, which the server relays in MSG lines exactly as
  // nats-server 2.9.10 does ("PUB a 2\rb 2" gives "MSG a 1 2\rb 2"), and which
  // no client parser (nor the check here) reads. The parsers' own targets and
  // tests/diff cover CR handling.
  for (std::size_t i = 0; i < input.size(); ++i) {
    if (input[i] == '\r' && (i + 1 == input.size() || input[i + 1] != '\n')) input[i] = ' ';
  }
  {
    raw_socket client(h.server->port());
    const bool open = client.send(connect_line(data[0], data[1])) && client.send(input);
    // The server accepts the client and handles what it sent, as far as it
    // goes without the client's end.
    raw_socket::settle();
    // While the client is connected: the watcher publishes on both sides of
    // the confined user's subscribe permission.
    if (open && !h.watch->send("PUB sub.x 1\r\nS\r\nPUB deny.x 1\r\nD\r\nHPUB deny.h 12 13\r\nNATS/1.0\r\n\r\nH\r\n")) {
      fail("the watcher's connection was closed");
    }
    h.sync(*h.watch, "pub.", "account A's watcher");
    client.shutdown_sending();
    const std::string output = client.read_to_end();
    scan_output(output, "sub.", "the fuzzed client");
  }
  // Everything the client published was routed before the server closed it.
  h.sync(*h.watch, "pub.", "account A's watcher");
  h.sync(*h.cwatch, "", "account C's watcher");
  if (++h.inputs % 32 == 0) {
    h.login("watch", "Zq3vT9xW2mK8pL5nR7cY1bH4", "");  // a fresh client is served
  }
  return 0;
}
