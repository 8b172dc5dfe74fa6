// A connection's own concerns seen from outside: keep-alive (RTT, stale
// peers), the slow-consumer cut-off, and the close reason each leaves in the
// registry.
#include "broker/connection.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "broker/in_process.hpp"
#include "broker/server.hpp"

namespace courier::broker {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

/// A raw client that connects, sends `hello` and reads lines. It answers the
/// server's PINGs unless a keepalive test asks to see them (keep_pings).
class peer {
 public:
  enum class pings { answer, keep };
  peer(std::uint16_t port, const std::string& hello, pings server_pings = pings::answer)
      : socket_(context_), answer_pings_(server_pings == pings::answer) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    read_line();  // INFO
    asio::write(socket_, asio::buffer(hello));
  }
  std::string read_line() {
    // The server's own keepalive PING (its first comes a second or two after
    // CONNECT, mid-exchange on a slow machine) is answered as a client would.
    for (;;) {
      asio::read_until(socket_, buffer_, "\r\n");
      std::istream in(&buffer_);
      std::string line;
      std::getline(in, line);
      if (line == "PING\r" && answer_pings_) {
        send("PONG\r\n");
        continue;
      }
      return line + "\n";
    }
  }
  void send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }

 private:
  asio::io_context context_;
  asio::ip::tcp::socket socket_;
  asio::streambuf buffer_;
  bool answer_pings_;
};

std::unique_ptr<server> start_server(const std::function<void(conf::server_options&)>& adjust) {
  conf::server_options options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.threads = 1;
  adjust(options);
  auto broker = std::make_unique<server>(options);
  broker->start();
  return broker;
}

/// Waits until one connection has closed; its snapshot, or nothing.
std::optional<connection_info> wait_closed(const server& broker, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto closed = broker.connections().closed_info();
    if (!closed.empty()) return closed.front();
    std::this_thread::sleep_for(10ms);
  }
  return std::nullopt;
}

TEST(connection, answered_pings_measure_the_round_trip) {
  auto broker = start_server([](auto& options) { options.ping_interval = 100ms; });
  peer client(broker->port(), "CONNECT {\"verbose\":false}\r\n", peer::pings::keep);
  EXPECT_EQ(client.read_line(), "PING\r\n");  // the first one comes after min(2 s, ping_interval)
  client.send("PONG\r\n");
  EXPECT_EQ(client.read_line(), "PING\r\n");
  auto open = broker->connections().open_info();
  ASSERT_EQ(open.size(), 1u);
  EXPECT_GT(open.front().rtt.count(), 0);
  broker->shutdown();
}

TEST(connection, unanswered_pings_close_a_stale_peer) {
  auto broker = start_server([](auto& options) {
    options.ping_interval = 50ms;
    options.ping_max = 1;
  });
  peer client(broker->port(), "CONNECT {\"verbose\":false}\r\n", peer::pings::keep);
  EXPECT_EQ(client.read_line(), "PING\r\n");
  EXPECT_EQ(client.read_line(), "-ERR 'Stale Connection'\r\n");
  auto closed = wait_closed(*broker);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->reason, close_reason::stale_connection);
  broker->shutdown();
}

TEST(connection, slow_consumer_is_cut_off_and_its_reason_kept) {
  auto broker = start_server([](auto& options) { options.max_pending = 64 * 1024; });
  // Subscribes and then never reads: its socket buffers fill, then max_pending.
  peer reader(broker->port(), "CONNECT {\"verbose\":false}\r\nSUB flood 1\r\nPING\r\n");
  EXPECT_EQ(reader.read_line(), "PONG\r\n");
  auto publisher = broker->connect();
  const std::string payload(16 * 1024, 'x');
  for (int i = 0; i < 2000 && broker->connections().closed_info().empty(); ++i) publisher->publish("flood", payload);
  auto closed = wait_closed(*broker);
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->reason, close_reason::slow_consumer_pending_bytes);
  EXPECT_GT(closed->msgs_out, 0u);
  EXPECT_EQ(broker->stats().slow_consumers.load(), 1u);
  publisher->close();
  broker->shutdown();
}

}  // namespace
}  // namespace courier::broker
