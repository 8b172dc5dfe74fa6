// Publishers on one event loop write straight into receivers owned by another
// loop (connection::flush), racing the receiver's own writes, its
// close, and each other. Run under ThreadSanitizer by tools/test.sh.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>


#include <boost/asio/ip/tcp.hpp>

#include "broker/server.hpp"
#include "tests/broker/raw_socket_client.hpp"

namespace courier::broker {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

/// A blocking raw client that counts the MSGs it receives on its own thread.
class counting_client : public test_support::raw_socket_client {
 public:
  using raw_socket_client::raw_socket_client;
  ~counting_client() {
    shut_down();
    if (reader_.joinable()) reader_.join();
  }

  /// False (and the test fails) if the server closed this connection.
  bool send(const std::string& bytes) {
    const bool sent = raw_socket_client::send(bytes);
    EXPECT_TRUE(sent) << "the server closed the connection";
    return sent;
  }

  /// Counts "MSG " line starts in everything read until the connection ends.
  void start_reading() {
    reader_ = std::thread([this] {
      std::string carry;
      char chunk[16384];
      for (;;) {
        boost::system::error_code ec;
        const std::size_t n = socket_.read_some(asio::buffer(chunk), ec);
        if (ec) return;
        carry.append(chunk, n);
        std::size_t pos = 0;
        std::size_t found;
        while ((found = carry.find("MSG ", pos)) != std::string::npos) {
          received_.fetch_add(1, std::memory_order_relaxed);
          pos = found + 4;
        }
        // Keep a tail that may hold the start of a split "MSG ".
        carry.erase(0, carry.size() > 3 ? carry.size() - 3 : 0);
      }
    });
  }

  std::uint64_t received() const { return received_.load(std::memory_order_relaxed); }

 private:
  std::thread reader_;
  std::atomic<std::uint64_t> received_{0};
};

class cross_loop_write : public ::testing::Test {
 protected:
  void start(std::int64_t max_pending, std::chrono::milliseconds write_deadline = std::chrono::seconds(10)) {
    conf::server_options options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;  // connections alternate between the two loops
    options.max_pending = max_pending;
    options.write_deadline = write_deadline;
    server_ = std::make_unique<server>(options);
    server_->start();
  }
  void TearDown() override {
    if (server_) server_->shutdown();
  }
  std::unique_ptr<server> server_;
};

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

/// Every client in `publishers` sends `pub` `messages` times from its own
/// thread, in writes of a little over `write_bytes`; returns once all are sent.
void publish_concurrently(const std::vector<std::unique_ptr<counting_client>>& publishers, const std::string& pub,
                          int messages, std::size_t write_bytes) {
  std::vector<std::thread> threads;
  for (const auto& publisher : publishers) {
    threads.emplace_back([&pub, messages, write_bytes, client = publisher.get()] {
      std::string batch;
      for (int m = 0; m < messages; ++m) {
        batch += pub;
        if (batch.size() > write_bytes) {
          client->send(batch);
          batch.clear();
        }
      }
      client->send(batch);
    });
  }
  for (auto& thread : threads) thread.join();
}

TEST_F(cross_loop_write, every_client_publishing_to_all_receives_everything) {
  start(64 * 1024 * 1024);
  constexpr int clients = 4;
  constexpr int messages = 10000;
  std::vector<std::unique_ptr<counting_client>> peers;
  for (int i = 0; i < clients; ++i) {
    peers.push_back(std::make_unique<counting_client>(server_->port()));
    peers.back()->send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB all 1\r\n");
    peers.back()->sync();
  }
  for (auto& peer : peers) peer->start_reading();
  publish_concurrently(peers, "PUB all 16\r\n0123456789abcdef\r\n", messages, 4096);
  const std::uint64_t expected = static_cast<std::uint64_t>(clients) * messages;
  for (auto& peer : peers) {
    EXPECT_TRUE(wait_until([&] { return peer->received() >= expected; }))
        << "received " << peer->received() << " of " << expected;
    EXPECT_EQ(peer->received(), expected);
  }
}

// The reader that never reads is closed while publishers on the other loop
// write into its queue. Only it subscribes to the flood, so no healthy reader
// can be cut off for falling 1 MiB behind on a slow machine (under
// ThreadSanitizer, on a busy host, a reading thread can); the publishers must
// stay connected and usable afterwards.
TEST_F(cross_loop_write, max_pending_closes_the_stuck_reader_while_other_loops_write_to_it) {
  start(1024 * 1024);
  counting_client stuck(server_->port());
  stuck.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB flood 1\r\n");
  stuck.sync();
  constexpr int publishers_count = 3;
  std::vector<std::unique_ptr<counting_client>> publishers;
  for (int i = 0; i < publishers_count; ++i) {
    publishers.push_back(std::make_unique<counting_client>(server_->port()));
    publishers.back()->send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB back." + std::to_string(i) +
                            " 1\r\n");
    publishers.back()->sync();
  }
  const std::string payload(1024, 'x');
  constexpr int messages = 3000;  // ~3 MiB per publisher, far over 1 MiB
  publish_concurrently(publishers, "PUB flood 1024\r\n" + payload + "\r\n", messages, 32768);
  EXPECT_TRUE(wait_until([&] { return server_->stats().slow_consumers.load() >= 1; }));
  // Each publisher still works: a message to itself comes back after the flood.
  for (int i = 0; i < publishers_count; ++i) {
    publishers[static_cast<std::size_t>(i)]->start_reading();
    ASSERT_TRUE(publishers[static_cast<std::size_t>(i)]->send("PUB back." + std::to_string(i) + " 2\r\nok\r\n"));
  }
  for (auto& peer : publishers) {
    EXPECT_TRUE(wait_until([&] { return peer->received() >= 1; })) << "a publisher lost its connection";
  }
}

// The stuck reader is closed by the write deadline instead, while the
// publishers receive the whole flood: max_pending (64 MiB) is far above
// everything sent (~9 MiB), so a reader that keeps reading, however slowly,
// cannot be cut off; the deadline is long enough (5 s) that only a reader
// that stops reading for that long is.
TEST_F(cross_loop_write, write_deadline_closes_the_stuck_reader_while_others_receive_everything) {
  start(64 * 1024 * 1024, std::chrono::seconds(5));
  counting_client stuck(server_->port());
  // A small receive buffer, so the server's writes to it stop quickly.
  const int small = 64 * 1024;
  stuck.set_receive_buffer(small);
  stuck.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB all 1\r\n");
  stuck.sync();
  constexpr int publishers_count = 3;
  std::vector<std::unique_ptr<counting_client>> publishers;
  for (int i = 0; i < publishers_count; ++i) {
    publishers.push_back(std::make_unique<counting_client>(server_->port()));
    publishers.back()->send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB all 2\r\n");
    publishers.back()->sync();
    publishers.back()->start_reading();
  }
  const std::string payload(1024, 'x');
  constexpr int messages = 3000;
  publish_concurrently(publishers, "PUB all 1024\r\n" + payload + "\r\n", messages, 32768);
  const std::uint64_t expected = static_cast<std::uint64_t>(publishers_count) * messages;
  for (auto& peer : publishers) {
    EXPECT_TRUE(wait_until([&] { return peer->received() >= expected; }, 60s))
        << "received " << peer->received() << " of " << expected;
  }
  EXPECT_TRUE(wait_until([&] { return server_->stats().slow_consumers.load() >= 1; }));
}

}  // namespace
}  // namespace courier::broker
