// A streaming producer's socket wakes its loop only once
// server_options::stream_low_water bytes wait, for stream_low_water_hold at
// most. The server runs in this process, so the test reads the mark off
// the server's own socket (the one whose peer is the publisher) and checks
// that a stream's last bytes, below the mark, are still read: the hold's
// end must make the kernel report them.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "broker/server.hpp"
#include "tests/broker/raw_socket_client.hpp"

namespace courier::broker {
namespace {

using namespace std::chrono_literals;

/// The raw client, plus reading with a deadline and its own address.
class low_water_client : public test_support::raw_socket_client {
 public:
  using raw_socket_client::raw_socket_client;

  /// Reads until `count` bytes (beyond what was read before) arrived or
  /// `limit` passed; returns the bytes read, less the server's own PINGs
  /// (the first comes a couple of seconds after CONNECT).
  std::string read_bytes(std::size_t count, std::chrono::milliseconds limit) {
    std::string got(static_cast<std::size_t>(buffer_.size()), '\0');
    buffer_.sgetn(got.data(), static_cast<std::streamsize>(got.size()));
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char chunk[65536];
    while (got.size() < count) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd ready{socket_.native_handle(), POLLIN, 0};
      if (::poll(&ready, 1, static_cast<int>(left.count())) <= 0) break;
      const ssize_t n = ::recv(socket_.native_handle(), chunk, sizeof chunk, 0);
      if (n <= 0) break;
      got.append(chunk, static_cast<std::size_t>(n));
      for (std::size_t at; (at = got.find("PING\r\n")) != std::string::npos;) got.erase(at, 6);
    }
    return got;
  }

  std::uint16_t local_port() const { return socket_.local_endpoint().port(); }
};

/// The descriptor of this process's socket whose peer is 127.0.0.1:`port`
/// (the server's end of that client's connection), or -1.
int server_end_of(std::uint16_t port) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    int fd = -1;
    try {
      fd = std::stoi(entry.path().filename().string());
    } catch (const std::exception&) {
      continue;
    }
    sockaddr_in peer{};
    socklen_t size = sizeof peer;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size) != 0 || peer.sin_family != AF_INET) continue;
    if (ntohs(peer.sin_port) == port && peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) return fd;
  }
  return -1;
}

int receive_low_water(int fd) {
  int value = -1;
  socklen_t size = sizeof value;
  if (::getsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &value, &size) != 0) return -1;
  return value;
}

class read_low_water : public ::testing::Test {
 protected:
  void start(int low_water, std::chrono::microseconds hold) {
    conf::server_options options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 1;
    options.stream_low_water = low_water;
    options.stream_low_water_hold = hold;
    server_ = std::make_unique<server>(options);
    server_->start();
    subscriber_ = std::make_unique<low_water_client>(server_->port());
    subscriber_->send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB stream 1\r\n");
    subscriber_->sync();
    publisher_ = std::make_unique<low_water_client>(server_->port());
    publisher_->send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
    publisher_->sync();
  }
  void TearDown() override {
    subscriber_.reset();
    publisher_.reset();
    if (server_) server_->shutdown();
  }

  /// 2 MiB of messages, 16 KiB each, and a PING, in one write, while a
  /// thread samples the mark on the server's end every millisecond; checks
  /// that every message and the PONG come back. Returns the highest mark seen.
  int stream_two_mebibytes_and_ping() {
    const int fd = server_end_of(publisher_->local_port());
    EXPECT_GE(fd, 0);
    std::atomic<bool> done{false};
    std::atomic<int> highest{0};
    std::thread sampler([&] {
      while (!done.load()) {
        highest.store(std::max(highest.load(), receive_low_water(fd)));
        std::this_thread::sleep_for(1ms);
      }
    });
    const std::string payload(16384, 's');
    std::string batch;
    for (int i = 0; i < 128; ++i) batch += "PUB stream 16384\r\n" + payload + "\r\n";
    batch += "PING\r\n";
    EXPECT_TRUE(publisher_->send(batch));
    const std::size_t each = std::string("MSG stream 1 16384\r\n").size() + payload.size() + 2;
    EXPECT_EQ(subscriber_->read_bytes(128 * each, 30s).size(), 128 * each);
    // The PING came last, below any mark: it is read once the hold ends
    // and the mark drops back, which must make the kernel report it.
    EXPECT_EQ(publisher_->read_bytes(6, 30s), "PONG\r\n");
    done.store(true);
    sampler.join();
    return highest.load();
  }

  std::unique_ptr<server> server_;
  std::unique_ptr<low_water_client> subscriber_;
  std::unique_ptr<low_water_client> publisher_;
};

TEST_F(read_low_water, a_stream_raises_the_mark_and_its_end_is_read_when_the_hold_ends) {
  start(256 * 1024, 1500ms);
  const int fd = server_end_of(publisher_->local_port());
  ASSERT_GE(fd, 0);
  EXPECT_EQ(receive_low_water(fd), 1);  // small reads so far (CONNECT, PING)
  EXPECT_EQ(stream_two_mebibytes_and_ping(), 256 * 1024);
  // Small reads from now on: the hold ends and the mark stays down.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (receive_low_water(fd) != 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(receive_low_water(fd), 1);
}

TEST_F(read_low_water, zero_keeps_every_byte_reported) {
  start(0, 1500ms);
  EXPECT_EQ(stream_two_mebibytes_and_ping(), 1);
}

}  // namespace
}  // namespace courier::broker
