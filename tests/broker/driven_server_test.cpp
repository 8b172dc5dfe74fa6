// A server whose event loop runs on the caller's thread (start_driven and
// poll): nothing happens between polls, clients are served through poll, and
// shutdown completes from the caller with clients still connected.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "broker/server.hpp"

namespace courier::broker {
namespace {

using namespace std::chrono_literals;

/// A loopback client socket, non-blocking once connected; what it receives
/// collects in `received`.
struct client_socket {
  int fd = -1;
  std::string received;
  bool ended = false;

  explicit client_socket(int port) {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Completes from the listen backlog: the server need not run for it.
    EXPECT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ::fcntl(fd, F_SETFL, O_NONBLOCK);
  }
  ~client_socket() { ::close(fd); }
  void send(const std::string& bytes) { ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size())); }
  void read_available() {
    char buffer[4096];
    for (;;) {
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        received.append(buffer, static_cast<std::size_t>(n));
      } else {
        if (n == 0) ended = true;
        return;
      }
    }
  }
};


conf::server_options driven_options() {
  conf::server_options options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.threads = 1;
  return options;
}

/// Polls the server until `done` holds (reading the clients in between);
/// false after `timeout`.
bool pump(server& s, std::vector<client_socket*> clients, const std::function<bool()>& done,
          std::chrono::milliseconds timeout = 30s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    s.poll(1ms);
    for (auto* c : clients) c->read_available();
    if (done()) return true;
  }
  return false;
}

TEST(driven_server, serves_clients_only_through_poll) {
  server s(driven_options());
  s.start_driven();
  ASSERT_GT(s.port(), 0);
  client_socket subscriber(s.port());
  client_socket publisher(s.port());
  // No thread runs the server: no INFO arrives until it is polled.
  pollfd waiting{subscriber.fd, POLLIN, 0};
  EXPECT_EQ(::poll(&waiting, 1, 300), 0) << "INFO arrived with nobody polling";

  ASSERT_TRUE(pump(s, {&subscriber, &publisher}, [&] {
    return subscriber.received.find("\r\n") != std::string::npos && publisher.received.find("\r\n") != std::string::npos;
  }));
  EXPECT_EQ(subscriber.received.rfind("INFO {", 0), 0u) << subscriber.received;
  subscriber.received.clear();
  publisher.received.clear();

  subscriber.send("CONNECT {\"verbose\":false}\r\nSUB a.* 7\r\nPING\r\n");
  ASSERT_TRUE(pump(s, {&subscriber}, [&] { return subscriber.received.find("PONG\r\n") != std::string::npos; }))
      << subscriber.received;
  publisher.send("CONNECT {\"verbose\":false}\r\nPUB a.b 5\r\nhello\r\nPING\r\n");
  ASSERT_TRUE(pump(s, {&subscriber, &publisher}, [&] {
    return subscriber.received.find("hello\r\n") != std::string::npos && publisher.received == "PONG\r\n";
  })) << subscriber.received << "|" << publisher.received;
  EXPECT_EQ(subscriber.received, "PONG\r\nMSG a.b 7 5\r\nhello\r\n");

  // A client's end is seen, and it is closed, on a poll.
  publisher.send("PING\r\n");
  ::shutdown(publisher.fd, SHUT_WR);
  ASSERT_TRUE(pump(s, {&publisher}, [&] { return publisher.ended; })) << publisher.received;

  // shutdown() runs the loop itself: the subscriber is closed, nothing hangs.
  s.shutdown();
  subscriber.read_available();
  pollfd closed{subscriber.fd, POLLIN, 0};
  ASSERT_EQ(::poll(&closed, 1, 10000), 1);
  subscriber.read_available();
  EXPECT_TRUE(subscriber.ended);
}

TEST(driven_server, has_exactly_one_loop) {
  auto options = driven_options();
  options.threads = 2;
  server s(options);
  EXPECT_THROW(s.start_driven(), std::logic_error);
}

}  // namespace
}  // namespace courier::broker
