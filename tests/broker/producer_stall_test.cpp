// A fast producer and a subscriber that reads slowly, with a small
// max_pending: the producer is stalled again and again in the middle of the
// loop's 1 MiB reads, and what it had sent past the stall point waits in the
// connection (connection::unparsed_) until the subscriber drains. Nothing may be
// lost, reordered or cut off: nats-server 2.9.10 delivers all of it too (the
// same session replayed by hand with a python client: 20,000 of 20,000 in
// order, no slow consumer).
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "broker/server.hpp"

namespace courier::broker {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

/// Connects, sends `hello` and reads until its PONG.
void open_client(asio::ip::tcp::socket& socket, std::uint16_t port, const std::string& hello) {
  socket.connect({asio::ip::make_address("127.0.0.1"), port});
  asio::streambuf buffer;
  asio::read_until(socket, buffer, "\r\n");  // INFO
  asio::write(socket, asio::buffer(hello));
  asio::read_until(socket, buffer, "PONG\r\n");
}

TEST(producer_stall, stalled_mid_read_loses_and_reorders_nothing) {
  conf::server_options options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.threads = 2;
  options.max_pending = 256 * 1024;
  options.max_payload = 4096;
  server broker(options);
  broker.start();

  asio::io_context context;
  asio::ip::tcp::socket subscriber(context);
  asio::ip::tcp::socket publisher(context);
  open_client(subscriber, broker.port(), "CONNECT {\"verbose\":false}\r\nSUB feed 1\r\nPING\r\n");
  // A small receive buffer, so the server's queue for it fills quickly.
  const int small = 64 * 1024;
  ::setsockopt(subscriber.native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  open_client(publisher, broker.port(), "CONNECT {\"verbose\":false}\r\nPING\r\n");

  constexpr int messages = 20000;  // 20 MiB of payload, far over max_pending
  std::string burst;
  for (int i = 0; i < messages; ++i) {
    char sequence[16];
    std::snprintf(sequence, sizeof sequence, "%08d", i);
    burst += "PUB feed 1024\r\n";
    burst += sequence;
    burst.append(1016, 'p');
    burst += "\r\n";
  }
  std::thread writer([&] {
    boost::system::error_code ec;
    asio::write(publisher, asio::buffer(burst), ec);
    EXPECT_FALSE(ec) << ec.message();
  });

  // Read slowly (16 KiB per millisecond at most) and check every sequence number.
  const std::string header = "MSG feed 1 1024\r\n";
  const std::size_t record = header.size() + 1024 + 2;
  std::string carry;
  int next = 0;
  bool in_order = true;
  char chunk[16384];
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (next < messages && std::chrono::steady_clock::now() < deadline) {
    boost::system::error_code ec;
    const std::size_t n = subscriber.read_some(asio::buffer(chunk), ec);
    if (ec) break;  // closed: the count below reports it
    carry.append(chunk, n);
    std::size_t pos = 0;
    for (;;) {
      // The server's first keep-alive PING comes 2 s after CONNECT, within
      // the stream when the machine is loaded and the run takes longer.
      if (carry.compare(pos, 6, "PING\r\n") == 0) {
        pos += 6;
        continue;
      }
      if (carry.size() - pos < record) break;
      if (carry.compare(pos, header.size(), header) != 0 ||
          carry.compare(pos + header.size(), 8, std::to_string(100000000 + next).substr(1)) != 0) {
        in_order = false;
      }
      ++next;
      pos += record;
    }
    carry.erase(0, pos);
    std::this_thread::sleep_for(1ms);
  }
  writer.join();
  EXPECT_EQ(next, messages);
  EXPECT_TRUE(in_order);
  EXPECT_EQ(broker.stats().slow_consumers.load(), 0u);
  broker.shutdown();
}

}  // namespace
}  // namespace courier::broker
