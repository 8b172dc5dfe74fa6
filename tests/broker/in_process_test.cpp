// In-process connections, the data-path options: inline callbacks (run on the
// publisher's thread, inside its publish), view handlers, the reusable
// dispatch queue, and the router caches a connection lends to its publishes
// (which must not keep a closed connection alive).
#include "broker/in_process.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "broker/server.hpp"

namespace courier::broker {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

class in_process : public ::testing::Test {
 protected:
  void SetUp() override {
    conf::server_options options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 2;
    server_ = std::make_unique<server>(options);
    server_->start();
  }
  void TearDown() override { server_->shutdown(); }

  static connection_options inline_options() {
    connection_options options;
    options.inline_callbacks = true;
    return options;
  }

  std::unique_ptr<server> server_;
};

TEST_F(in_process, inline_callback_runs_inside_publish_on_the_publishing_thread) {
  auto receiver = server_->connect(inline_options());
  auto publisher = server_->connect();
  std::thread::id ran_on;
  int calls = 0;
  receiver->subscribe("orders.*", [&](const message& m) {
    ran_on = std::this_thread::get_id();
    ++calls;
    EXPECT_EQ(m.subject, "orders.new");
    EXPECT_EQ(m.payload, "one");
  });
  EXPECT_TRUE(publisher->publish("orders.new", "one"));
  // No waiting: the callback has run when publish returns.
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  std::thread other([&] { publisher->publish("orders.new", "one"); });
  auto other_id = other.get_id();
  other.join();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(ran_on, other_id);
  receiver->close();
  publisher->close();
}

TEST_F(in_process, view_handler_sees_every_field_inline_and_queued) {
  for (bool inline_mode : {true, false}) {
    SCOPED_TRACE(inline_mode ? "inline" : "queued");
    connection_options options;
    options.inline_callbacks = inline_mode;
    auto receiver = server_->connect(options);
    auto publisher = server_->connect();
    std::mutex mutex;
    std::vector<std::string> seen;
    receiver->subscribe_view("view.>", [&](const message_view& m) {
      std::lock_guard lock(mutex);
      seen.push_back(std::string(m.subject) + "|" + std::string(m.reply) + "|" + std::string(m.headers) + "|" +
                     std::string(m.payload));
    });
    const std::string headers = "NATS/1.0\r\nk: v\r\n\r\n";
    publisher->publish("view.a", "payload-1", "reply.to", headers);
    publisher->publish("view.b.c", std::string(100 * 1024, 'z'));
    ASSERT_TRUE(receiver->flush());
    std::lock_guard lock(mutex);
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0], "view.a|reply.to|" + headers + "|payload-1");
    EXPECT_EQ(seen[1], "view.b.c|||" + std::string(100 * 1024, 'z'));
    receiver->close();
    publisher->close();
  }
}

TEST_F(in_process, tcp_publisher_reaches_inline_callback_on_a_broker_loop) {
  auto receiver = server_->connect(inline_options());
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<std::string> payloads;
  std::thread::id ran_on;
  receiver->subscribe("from.tcp", [&](const message& m) {
    std::lock_guard lock(mutex);
    ran_on = std::this_thread::get_id();
    payloads.push_back(m.payload);
    changed.notify_all();
  });
  asio::io_context context;
  asio::ip::tcp::socket socket(context);
  socket.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
  asio::streambuf buffer;
  asio::read_until(socket, buffer, "\r\n");  // INFO
  std::string ops = "CONNECT {\"verbose\":false}\r\n";
  for (int i = 0; i < 100; ++i) ops += "PUB from.tcp " + std::to_string(std::to_string(i).size()) + "\r\n" + std::to_string(i) + "\r\n";
  asio::write(socket, asio::buffer(ops));
  std::unique_lock lock(mutex);
  ASSERT_TRUE(changed.wait_for(lock, 5s, [&] { return payloads.size() == 100; }));
  for (int i = 0; i < 100; ++i) EXPECT_EQ(payloads[i], std::to_string(i)) << "in order";
  EXPECT_NE(ran_on, std::this_thread::get_id());
  lock.unlock();
  receiver->close();
}

TEST_F(in_process, inline_callbacks_may_publish_and_answer_requests) {
  // The responder's callback publishes from inside the requester's publish:
  // a nested publish on the same thread, which must route on its own.
  auto responder = server_->connect(inline_options());
  auto relay = server_->connect(inline_options());
  auto requester = server_->connect();
  std::vector<std::string> relayed;
  relay->subscribe_view("relayed", [&](const message_view& m) { relayed.emplace_back(m.payload); });
  responder->subscribe_view("service", [&](const message_view& m) {
    responder->publish("relayed", m.payload);
    responder->publish(m.reply, "answer to " + std::string(m.payload));
  });
  for (int i = 0; i < 50; ++i) {
    auto result = requester->request("service", "q" + std::to_string(i), 2s);
    ASSERT_EQ(result.status, request_status::ok) << to_string(result.status);
    EXPECT_EQ(result.reply.payload, "answer to q" + std::to_string(i));
  }
  ASSERT_EQ(relayed.size(), 50u);
  EXPECT_EQ(relayed.back(), "q49");
  EXPECT_EQ(requester->request("nobody.here", "x", 1s).status, request_status::no_responders);
  responder->close();
  relay->close();
  requester->close();
}

TEST_F(in_process, unsubscribe_stops_inline_callbacks_at_once) {
  auto receiver = server_->connect(inline_options());
  auto publisher = server_->connect();
  int calls = 0;
  auto sid = receiver->subscribe_view("x", [&](const message_view&) { ++calls; });
  publisher->publish("x", "1");
  receiver->unsubscribe(sid);
  EXPECT_FALSE(publisher->publish("x", "2"));
  EXPECT_EQ(calls, 1);
  // Auto-unsubscribe after 3 in total.
  sid = receiver->subscribe_view("y", [&](const message_view&) { ++calls; });
  receiver->unsubscribe(sid, 3);
  for (int i = 0; i < 10; ++i) publisher->publish("y", "m");
  EXPECT_EQ(calls, 4);
  receiver->close();
  publisher->close();
}

TEST_F(in_process, queued_bursts_keep_order_and_content_across_slot_reuse) {
  auto receiver = server_->connect();
  auto publisher = server_->connect();
  std::vector<std::string> got;  // only the dispatch thread touches it until flush()
  receiver->subscribe("burst.*", [&](const message& m) { got.push_back(m.subject + "=" + m.payload); });
  std::vector<std::string> expected;
  for (int round = 0; round < 5; ++round) {
    // Bursts larger than the slots kept between bursts, with payloads of
    // changing sizes, so that reused slots must be overwritten exactly.
    for (int i = 0; i < 3000; ++i) {
      std::string payload(static_cast<std::size_t>((i * 37 + round) % 200), static_cast<char>('a' + i % 26));
      std::string subject = "burst." + std::to_string(i % 7);
      publisher->publish(subject, payload);
      expected.push_back(subject + "=" + payload);
    }
    ASSERT_TRUE(receiver->flush());
  }
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[i]) << "message " << i;
  receiver->close();
  publisher->close();
}

// The queue packs messages into one buffer: every field of every message,
// of sizes from empty to past the buffer the queue keeps between bursts,
// for handlers of both kinds interleaved, arrives intact and in order.
TEST_F(in_process, queued_messages_keep_every_field_through_the_packed_queue) {
  for (const auto spin : {std::chrono::microseconds(0), std::chrono::microseconds(50)}) {
    connection_options options;
    options.dispatch_spin = spin;  // 0: the dispatcher sleeps after every batch
    auto receiver = server_->connect(options);
    auto publisher = server_->connect();
    std::vector<std::string> got;  // only the dispatch thread touches it until flush()
    const auto record = [&got](char kind, std::string_view subject, std::string_view reply,
                               std::string_view headers, std::string_view payload) {
      got.push_back(std::string(1, kind) + "|" + std::string(subject) + "|" + std::string(reply) + "|" +
                    std::string(headers) + "|" + std::to_string(payload.size()) + "|" +
                    (payload.empty() ? std::string() : std::string(1, payload.back())));
    };
    receiver->subscribe("pack.owning", [&](const message& m) { record('o', m.subject, m.reply, m.headers, m.payload); });
    receiver->subscribe_view("pack.view",
                             [&](const message_view& m) { record('v', m.subject, m.reply, m.headers, m.payload); });
    std::vector<std::string> expected;
    const std::string headers = "NATS/1.0\r\nk: v\r\n\r\n";
    const std::size_t sizes[] = {0, 1, 7, 16, 63, 64, 65, 1000, 70000, 1000000};
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 40; ++i) {
        const bool view = (i / 3 + round) % 2 == 0;
        const std::string subject = view ? "pack.view" : "pack.owning";
        const std::string reply = i % 4 == 0 ? "" : "_INBOX.r" + std::to_string(i);
        const std::string h = i % 5 == 0 ? headers : "";
        const std::string payload(sizes[(i + round) % std::size(sizes)], static_cast<char>('a' + i % 26));
        publisher->publish(subject, payload, reply, h);
        expected.push_back(std::string(1, view ? 'v' : 'o') + "|" + subject + "|" + reply + "|" + h + "|" +
                           std::to_string(payload.size()) + "|" +
                           (payload.empty() ? std::string() : std::string(1, payload.back())));
      }
      ASSERT_TRUE(receiver->flush());
    }
    ASSERT_EQ(got, expected) << "dispatch_spin " << spin.count();
    receiver->close();
    publisher->close();
  }
}

// A requester polls for its reply only briefly, then sleeps: a reply that
// comes later, after its poll, wakes it; one that never comes times out; and
// a requester waiting when its connection closes gets `closed`.
TEST_F(in_process, requests_wait_past_the_poll_time_out_and_see_close) {
  auto responder = server_->connect();
  connection_options options;
  options.dispatch_spin = std::chrono::microseconds(20);
  auto requester = server_->connect(options);
  responder->subscribe("slow.echo", [&](const message& m) {
    std::this_thread::sleep_for(50ms);  // far past the requester's poll
    responder->publish(m.reply, "late:" + m.payload);
  });
  auto late = requester->request("slow.echo", "x", 5s);
  EXPECT_EQ(late.status, request_status::ok);
  EXPECT_EQ(late.reply.payload, "late:x");

  responder->subscribe("never.answers", [](const message&) {});
  auto silent = requester->request("never.answers", "x", 100ms);
  EXPECT_EQ(silent.status, request_status::timeout);

  std::thread closer([&] {
    std::this_thread::sleep_for(100ms);
    requester->close();
  });
  auto closed = requester->request("never.answers", "x", 10s);
  closer.join();
  EXPECT_EQ(closed.status, request_status::closed);
  responder->close();
}

TEST_F(in_process, closed_connection_is_released_despite_cached_routes) {
  // A connection that published to its own subscription has that
  // subscription (which owns the connection) in its router cache: close()
  // must drop the cache, or the connection would keep itself alive.
  std::weak_ptr<local_client> watch;
  {
    auto self = server_->connect(inline_options());
    watch = self;
    int calls = 0;
    self->subscribe_view("loop.back", [&](const message_view&) { ++calls; });
    self->publish("loop.back", "1");
    EXPECT_EQ(calls, 1);
    self->close();
  }
  EXPECT_TRUE(watch.expired());
}

TEST_F(in_process, connections_routing_to_each_other_are_released_after_close) {
  // Each one's router cache holds the other's subscription (and so the other
  // connection): a cycle that only close() breaks.
  std::weak_ptr<local_client> watch_a, watch_b;
  {
    auto a = server_->connect();
    auto b = server_->connect(inline_options());
    watch_a = a;
    watch_b = b;
    a->subscribe_view("to.a", [](const message_view&) {});
    b->subscribe_view("to.b", [](const message_view&) {});
    EXPECT_TRUE(a->publish("to.b", "1"));
    EXPECT_TRUE(b->publish("to.a", "2"));
    a->close();
    b->close();
  }
  EXPECT_TRUE(watch_a.expired());
  EXPECT_TRUE(watch_b.expired());
}

TEST_F(in_process, close_from_inside_own_inline_callback_releases_the_connection) {
  // Here close() runs while the connection's router cache is lent to the
  // publish that called back; the publish drops the cache when it ends.
  std::weak_ptr<local_client> watch;
  {
    auto self = server_->connect(inline_options());
    watch = self;
    local_client* raw = self.get();
    self->subscribe_view("close.me", [raw](const message_view&) { raw->close(); });
    self->publish("close.me", "bye");
    EXPECT_TRUE(self->closed());
  }
  EXPECT_TRUE(watch.expired());
}

TEST_F(in_process, close_on_another_thread_during_a_publish_releases_the_connection) {
  // close() on one thread while a publish on another holds the connection's
  // router cache (its inline callback still running): close() waits for the
  // publish to give the cache back, then drops it.
  std::weak_ptr<local_client> watch;
  {
    auto self = server_->connect(inline_options());
    watch = self;
    std::atomic<bool> in_callback{false};
    self->subscribe_view("slow.self", [&](const message_view&) {
      in_callback = true;
      std::this_thread::sleep_for(100ms);
    });
    std::thread publisher([&] { self->publish("slow.self", "x"); });
    while (!in_callback) std::this_thread::yield();
    self->close();
    EXPECT_TRUE(self->closed());
    publisher.join();
  }
  EXPECT_TRUE(watch.expired());
}

TEST_F(in_process, loop_delivery_to_queued_connection_from_many_threads) {
  auto receiver = server_->connect();
  std::atomic<int> count{0};
  receiver->subscribe_view("many", [&](const message_view& m) {
    if (m.payload == "p") count.fetch_add(1);
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      auto publisher = server_->connect();
      for (int i = 0; i < 5000; ++i) publisher->publish("many", "p");
      publisher->close();
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(receiver->flush());
  EXPECT_EQ(count.load(), 20000);
  receiver->close();
}

}  // namespace
}  // namespace courier::broker
