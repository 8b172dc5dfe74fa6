// Big payloads go out as references to the publishing loop's read slab
// (outbound_buffer::append_reference, broker/read_slab.hpp) instead of
// copies. These tests check the bytes a reader gets, in order, when the
// reader keeps up, when it falls behind (its deliveries wait while the loop
// reads into other slabs), and when it is cut off with references queued.
// Run under AddressSanitizer and ThreadSanitizer by tools/test.sh.
#include <gtest/gtest.h>

#include <sys/uio.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "broker/outbound_buffer.hpp"
#include "broker/read_slab.hpp"
#include "broker/server.hpp"
#include "tests/broker/raw_socket_client.hpp"

namespace courier::broker {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

/// A slab released at the end of the test (the test is its loop).
struct slab_holder {
  read_slab* slab = read_slab::make();
  ~slab_holder() { slab->release(); }
};

TEST(outbound_buffer_references, gather_copy_and_materialize_give_the_bytes_in_order) {
  slab_holder held;
  read_slab& slab = *held.slab;
  const std::string first(5000, 'a');
  const std::string second(3000, 'b');
  std::memcpy(slab.data(), first.data(), first.size());
  std::memcpy(slab.data() + 10000, second.data(), second.size());

  outbound_buffer buffer;
  buffer.append("MSG x 1 5000\r\n");
  buffer.append_reference({slab.data(), first.size()}, slab);
  buffer.append("\r\nMSG y 2 3000\r\n");
  buffer.append_reference({slab.data() + 10000, second.size()}, slab);
  buffer.append("\r\n");
  const std::string expected = "MSG x 1 5000\r\n" + first + "\r\nMSG y 2 3000\r\n" + second + "\r\n";

  EXPECT_TRUE(buffer.has_references());
  EXPECT_FALSE(slab.sole_holder());
  EXPECT_EQ(buffer.total(), expected.size());
  EXPECT_LT(buffer.size(), expected.size());
  // From every kind of offset: inside own bytes, at a reference's start, inside one.
  for (std::size_t from : {std::size_t{0}, std::size_t{7}, std::size_t{14}, std::size_t{2000}, std::size_t{5014},
                           std::size_t{5020}, expected.size() - 1, expected.size()}) {
    std::string copied;
    buffer.copy_to(copied, from);
    EXPECT_EQ(copied, expected.substr(from)) << "from " << from;
    iovec pieces[2];  // fewer than there are: gather stops at max
    const std::size_t count = buffer.gather(from, pieces, 2);
    std::string gathered;
    for (std::size_t i = 0; i < count; ++i) gathered.append(static_cast<char*>(pieces[i].iov_base), pieces[i].iov_len);
    EXPECT_EQ(gathered, expected.substr(from, gathered.size())) << "from " << from;
  }

  buffer.materialize();
  EXPECT_FALSE(buffer.has_references());
  EXPECT_TRUE(slab.sole_holder());  // materialize lets the slab go
  EXPECT_EQ(buffer.view(), expected);
  EXPECT_EQ(buffer.total(), expected.size());
}

TEST(outbound_buffer_references, clear_swap_and_destruction_let_the_slab_go) {
  slab_holder held;
  read_slab& slab = *held.slab;
  {
    outbound_buffer a;
    outbound_buffer b;
    a.append_reference({slab.data(), 4096}, slab);
    a.append_reference({slab.data() + 4096, 4096}, slab);
    EXPECT_FALSE(a.empty());
    a.swap(b);
    EXPECT_TRUE(a.empty());
    EXPECT_EQ(b.total(), 8192u);
    b.clear();
    EXPECT_TRUE(slab.sole_holder());
    b.append_reference({slab.data(), 100}, slab);
    EXPECT_FALSE(slab.sole_holder());
  }  // b destroyed with a reference
  EXPECT_TRUE(slab.sole_holder());
}

/// A raw client whose reader thread parses every MSG and checks its payload.
class checking_client : public test_support::raw_socket_client {
 public:
  using raw_socket_client::raw_socket_client;
  ~checking_client() {
    shut_down();
    if (reader_.joinable()) reader_.join();
  }

  /// Reads until the connection ends, after `delay`. `check(subject,
  /// payload)` returns an error text, empty when the message is right.
  void start_reading(std::chrono::milliseconds delay,
                     std::function<std::string(const std::string&, const std::string&)> check) {
    reader_ = std::thread([this, delay, check = std::move(check)] {
      std::this_thread::sleep_for(delay);
      std::string data;
      char chunk[65536];
      for (;;) {
        boost::system::error_code ec;
        const std::size_t n = socket_.read_some(asio::buffer(chunk), ec);
        if (ec) return;
        data.append(chunk, n);
        std::size_t at = 0;
        for (;;) {
          const std::size_t line_end = data.find("\r\n", at);
          if (line_end == std::string::npos) break;
          const std::string line = data.substr(at, line_end - at);
          if (line == "PING") {
            at = line_end + 2;
            send("PONG\r\n");
            continue;
          }
          if (line.rfind("MSG ", 0) != 0) {
            record_error("unexpected line: " + line.substr(0, 80));
            at = line_end + 2;
            continue;
          }
          // MSG <subject> <sid> <size>
          const std::size_t subject_end = line.find(' ', 4);
          const std::size_t size_start = line.rfind(' ') + 1;
          const std::size_t size = std::stoul(line.substr(size_start));
          if (data.size() < line_end + 2 + size + 2) break;  // the payload is not all here yet
          const std::string subject = line.substr(4, subject_end - 4);
          const std::string payload = data.substr(line_end + 2, size);
          if (data.compare(line_end + 2 + size, 2, "\r\n") != 0) record_error("payload not followed by CRLF");
          if (auto error = check(subject, payload); !error.empty()) record_error(error);
          received_.fetch_add(1, std::memory_order_relaxed);
          at = line_end + 2 + size + 2;
        }
        data.erase(0, at);
      }
    });
  }

  std::uint64_t received() const { return received_.load(std::memory_order_relaxed); }
  std::string first_error() const {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  void record_error(const std::string& error) {
    std::lock_guard lock(mutex_);
    if (error_.empty()) error_ = error;
  }

  std::thread reader_;
  std::atomic<std::uint64_t> received_{0};
  mutable std::mutex mutex_;
  std::string error_;
};

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 60s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

/// Message `seq` of publisher `publisher`: its size varies around the
/// reference threshold (below it the payload is copied), its bytes say who
/// and which.
std::string payload_of(int publisher, int seq) {
  const std::size_t size = 1500 + static_cast<std::size_t>((seq * 977) % 9000);
  std::string payload = "p" + std::to_string(publisher) + " s" + std::to_string(seq) + " ";
  while (payload.size() < size) payload += static_cast<char>('a' + (payload.size() + static_cast<std::size_t>(seq)) % 26);
  payload.resize(size);
  return payload;
}

/// Checks each publisher's messages arrive complete and in order.
class order_check {
 public:
  explicit order_check(int publishers) : next_(static_cast<std::size_t>(publishers), 0) {}
  std::string operator()(const std::string& subject, const std::string& payload) {
    const int publisher = payload[1] - '0';
    if (subject != "big" || publisher < 0 || publisher >= static_cast<int>(next_.size())) {
      return "bad message on " + subject + ": " + payload.substr(0, 20);
    }
    const int seq = next_[static_cast<std::size_t>(publisher)]++;
    if (payload != payload_of(publisher, seq)) {
      return "publisher " + std::to_string(publisher) + " message " + std::to_string(seq) +
             " differs: " + payload.substr(0, 20);
    }
    return {};
  }

 private:
  std::vector<int> next_;
};

class referenced_payload : public ::testing::Test {
 protected:
  void start(std::int64_t max_pending, std::chrono::milliseconds write_deadline = 10s) {
    conf::server_options options;
    options.write_deadline = write_deadline;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;  // publishers and readers on both loops
    options.max_pending = max_pending;
    server_ = std::make_unique<server>(options);
    server_->start();
  }
  void TearDown() override {
    if (server_) server_->shutdown();
  }

  std::unique_ptr<checking_client> subscribe(const std::string& subject) {
    auto client = std::make_unique<checking_client>(server_->port());
    client->send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB " + subject + " 1\r\n");
    client->sync();
    return client;
  }

  /// Each publisher sends `messages` big messages from its own thread, in
  /// writes of about 100 KB (several messages per read, some split).
  void publish(int publishers, int messages) {
    std::vector<std::unique_ptr<checking_client>> clients;
    for (int p = 0; p < publishers; ++p) {
      clients.push_back(std::make_unique<checking_client>(server_->port()));
      clients.back()->send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
      clients.back()->sync();
    }
    std::vector<std::thread> threads;
    for (int p = 0; p < publishers; ++p) {
      threads.emplace_back([p, messages, client = clients[static_cast<std::size_t>(p)].get()] {
        std::string batch;
        for (int seq = 0; seq < messages; ++seq) {
          const std::string payload = payload_of(p, seq);
          batch += "PUB big " + std::to_string(payload.size()) + "\r\n" + payload + "\r\n";
          if (batch.size() > 100000) {
            EXPECT_TRUE(client->send(batch));
            batch.clear();
          }
        }
        EXPECT_TRUE(client->send(batch));
        client->sync();
      });
    }
    for (auto& thread : threads) thread.join();
  }

  std::unique_ptr<server> server_;
};

TEST_F(referenced_payload, fast_and_late_readers_get_every_byte_in_order) {
  start(256 * 1024 * 1024);
  constexpr int publishers = 2;
  constexpr int messages = 3000;  // about 17 MB per publisher
  auto fast = subscribe("big");
  auto late = subscribe("big");
  late->set_receive_buffer(16384);
  auto fast_check = std::make_shared<order_check>(publishers);
  auto late_check = std::make_shared<order_check>(publishers);
  fast->start_reading(0ms, [fast_check](const std::string& s, const std::string& p) { return (*fast_check)(s, p); });
  // The late reader starts after the publishers have filled its socket: its
  // deliveries wait, holding read slabs, while the loops read on, and a
  // tick copies what it still references.
  late->start_reading(1500ms, [late_check](const std::string& s, const std::string& p) { return (*late_check)(s, p); });
  publish(publishers, messages);
  const std::uint64_t expected = std::uint64_t{publishers} * messages;
  EXPECT_TRUE(eventually([&] { return fast->received() >= expected && late->received() >= expected; }))
      << "fast " << fast->received() << ", late " << late->received() << " of " << expected;
  EXPECT_EQ(fast->first_error(), "");
  EXPECT_EQ(late->first_error(), "");
  EXPECT_EQ(fast->received(), expected);
  EXPECT_EQ(late->received(), expected);
  EXPECT_EQ(server_->stats().slow_consumers.load(), 0u);
}

// A reader that never reads is cut off (by the write deadline, or over
// max_pending) while its queue holds references; the other reader and the
// publishers carry on.
TEST_F(referenced_payload, a_reader_cut_off_with_references_queued_harms_no_one) {
  // The stuck reader is cut off by the write deadline (the stalls keep its
  // queue near the stall threshold, under max_pending). A long one: with
  // 2 s, a CI run under ThreadSanitizer beside other tests cut off the
  // reader too, which drained, only more slowly than the publishers sent.
  start(8 * 1024 * 1024, 10s);
  constexpr int publishers = 2;
  constexpr int messages = 2000;  // about 12 MB each, far over max_pending
  auto stuck = subscribe("big");
  stuck->set_receive_buffer(4096);
  auto reader = subscribe("big");
  auto check = std::make_shared<order_check>(publishers);
  reader->start_reading(0ms, [check](const std::string& s, const std::string& p) { return (*check)(s, p); });
  publish(publishers, messages);
  EXPECT_TRUE(eventually([&] { return server_->stats().slow_consumers.load() >= 1; }));
  const std::uint64_t expected = std::uint64_t{publishers} * messages;
  EXPECT_TRUE(eventually([&] { return reader->received() >= expected; }))
      << "received " << reader->received() << " of " << expected;
  EXPECT_EQ(reader->first_error(), "");
  EXPECT_EQ(reader->received(), expected);
}

}  // namespace
}  // namespace courier::broker
