// The TCP bus (client/tcp_bus + client/nats_client) against real servers: the
// reference nats-server 2.9.10 and the courier binary, same tests for both.
// Covers publish/subscribe, queue groups, request/reply, no-responders,
// timeouts, payload limits, authentication, and reconnecting (with the
// subscriptions re-made) after the server restarts.
#include "client/tcp_bus.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "broker_process.hpp"
#include "mss/service/in_process_bus.hpp"

namespace courier::mss {
namespace {

using namespace std::chrono_literals;

struct server_kind {
  const char* label;
  std::string (*binary)();
};

class TcpBusTest : public ::testing::TestWithParam<server_kind> {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start(GetParam().binary(), {})) << GetParam().binary(); }

  std::unique_ptr<tcp_bus> connect(const std::string& url = {}) {
    tcp_bus_options options;
    options.urls = url.empty() ? server_.url() : url;
    options.reconnect_max_delay = 200ms;
    options.log = [this](const std::string& line) {
      std::lock_guard lock(log_mutex_);
      log_.push_back(line);
    };
    auto bus = std::make_unique<tcp_bus>(options);
    return bus;
  }

  bool logged(const std::string& text) {
    std::lock_guard lock(log_mutex_);
    for (const auto& line : log_)
      if (line.find(text) != std::string::npos) return true;
    return false;
  }

  test::broker_process server_;
  std::mutex log_mutex_;
  std::vector<std::string> log_;
};

TEST_P(TcpBusTest, PublishSubscribeAndHeaders) {
  auto bus = connect();
  ASSERT_TRUE(bus->wait_connected(5s));
  std::mutex mutex;
  std::vector<bus_message> got;
  bus->subscribe("greet.*", {}, [&](bus_message m) {
    std::lock_guard lock(mutex);
    got.push_back(std::move(m));
  });
  ASSERT_TRUE(bus->flush(5s));
  bus->publish("greet.alice", "hello");
  bus->publish("greet.bob", "with headers", {}, "NATS/1.0\r\nNats-Msg-Id: m-1\r\n\r\n");
  bus->publish("other", "not for us");
  ASSERT_TRUE(test::wait_until([&] {
    std::lock_guard lock(mutex);
    return got.size() == 2;
  }));
  std::this_thread::sleep_for(100ms);
  std::lock_guard lock(mutex);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].subject, "greet.alice");
  EXPECT_EQ(got[0].payload, "hello");
  EXPECT_TRUE(got[0].headers.empty());
  EXPECT_EQ(got[1].payload, "with headers");
  EXPECT_EQ(got[1].header("Nats-Msg-Id").value_or(""), "m-1");
}

TEST_P(TcpBusTest, QueueGroupDeliversEachMessageOnceAcrossClients) {
  auto a = connect();
  auto b = connect();
  auto publisher = connect();
  ASSERT_TRUE(a->wait_connected(5s) && b->wait_connected(5s) && publisher->wait_connected(5s));
  std::atomic<int> count_a{0}, count_b{0};
  a->subscribe("work", "workers", [&](bus_message) { ++count_a; });
  b->subscribe("work", "workers", [&](bus_message) { ++count_b; });
  ASSERT_TRUE(a->flush(5s) && b->flush(5s));
  constexpr int messages = 200;
  for (int i = 0; i < messages; ++i) publisher->publish("work", std::to_string(i));
  ASSERT_TRUE(publisher->flush(5s));
  ASSERT_TRUE(test::wait_until([&] { return count_a + count_b == messages; }));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(count_a + count_b, messages);
  EXPECT_GT(count_a, 0);
  EXPECT_GT(count_b, 0);
}

TEST_P(TcpBusTest, RequestReplyNoRespondersAndTimeout) {
  auto responder = connect();
  auto requester = connect();
  ASSERT_TRUE(responder->wait_connected(5s) && requester->wait_connected(5s));
  responder->subscribe("echo", {}, [&](bus_message m) { responder->publish(m.reply, "echo:" + m.payload); });
  responder->subscribe("silent", {}, [](bus_message) {});
  ASSERT_TRUE(responder->flush(5s));

  auto ok = requester->request("echo", "ping", 5s);
  ASSERT_EQ(ok.status, bus_request_status::ok);
  EXPECT_EQ(ok.reply.payload, "echo:ping");

  const auto started = std::chrono::steady_clock::now();
  auto none = requester->request("nobody.here", "x", 30s);
  EXPECT_EQ(none.status, bus_request_status::no_responders);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s) << "no-responders must come at once, not at the timeout";

  auto late = requester->request("silent", "x", 300ms);
  EXPECT_EQ(late.status, bus_request_status::timeout);

  // Many concurrent requests over the one inbox subscription.
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        const std::string body = std::to_string(t) + "-" + std::to_string(i);
        auto r = requester->request("echo", body, 5s);
        if (r.status == bus_request_status::ok && r.reply.payload == "echo:" + body) ++good;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(good, 200);
}

TEST_P(TcpBusTest, RequestFromInsideACallback) {
  // The responder is another client: this bus's dispatch thread is busy
  // with the outer callback, and only the reply path must not need it.
  auto responder = connect();
  auto bus = connect();
  ASSERT_TRUE(bus->wait_connected(5s) && responder->wait_connected(5s));
  responder->subscribe("inner", {}, [&](bus_message m) { responder->publish(m.reply, "inner-reply"); });
  ASSERT_TRUE(responder->flush(5s));
  std::promise<std::string> outcome;
  bus->subscribe("outer", {}, [&](bus_message) {
    auto r = bus->request("inner", "", 5s);
    outcome.set_value(r.status == bus_request_status::ok ? r.reply.payload : to_string(r.status));
  });
  ASSERT_TRUE(bus->flush(5s));
  bus->publish("outer", "go");
  auto future = outcome.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(future.get(), "inner-reply");
}

TEST_P(TcpBusTest, PayloadOverServerLimitAndInvalidSubjectsAreRefused) {
  auto bus = connect();
  ASSERT_TRUE(bus->wait_connected(5s));
  EXPECT_EQ(bus->max_payload(), 1024 * 1024);
  EXPECT_THROW(bus->publish("big", std::string(1024 * 1024 + 1, 'x')), bus_error);
  EXPECT_NO_THROW(bus->publish("big", std::string(1024 * 1024 - 100, 'x')));
  EXPECT_THROW(bus->publish("bad subject", "x"), bus_error);
  EXPECT_THROW(bus->publish("wild.*", "x"), bus_error);
  EXPECT_THROW(bus->subscribe("a..b", {}, [](bus_message) {}), bus_error);
  // The connection survives all of that.
  EXPECT_TRUE(bus->flush(5s));
  EXPECT_TRUE(bus->connected());
}

TEST_P(TcpBusTest, ReconnectsAndResubscribesAfterServerRestart) {
  auto bus = connect();
  ASSERT_TRUE(bus->wait_connected(5s));
  std::atomic<int> received{0};
  bus->subscribe("after.restart", "q", [&](bus_message) { ++received; });
  ASSERT_TRUE(bus->flush(5s));
  server_.stop();
  ASSERT_TRUE(test::wait_until([&] { return !bus->connected(); }));
  // Published while down: kept in the reconnect buffer.
  bus->publish("after.restart", "buffered");
  ASSERT_TRUE(server_.restart());
  ASSERT_TRUE(test::wait_until([&] { return bus->connected(); }, 10s));
  EXPECT_EQ(bus->connections(), 2u);
  ASSERT_TRUE(test::wait_until([&] { return received == 1; }));
  bus->publish("after.restart", "live");
  ASSERT_TRUE(test::wait_until([&] { return received == 2; }));
  EXPECT_TRUE(logged("disconnected from"));
  EXPECT_TRUE(logged("reconnected to"));
}

TEST_P(TcpBusTest, CloseFailsPendingRequestsAndLaterCalls) {
  auto bus = connect();
  ASSERT_TRUE(bus->wait_connected(5s));
  bus->subscribe("slow", {}, [](bus_message) {});
  ASSERT_TRUE(bus->flush(5s));
  std::thread closer([&] {
    std::this_thread::sleep_for(200ms);
    bus->close();
  });
  const auto started = std::chrono::steady_clock::now();
  auto r = bus->request("slow", "x", 10s);
  closer.join();
  EXPECT_EQ(r.status, bus_request_status::closed);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_THROW(bus->publish("x", "y"), bus_error);
  EXPECT_EQ(bus->request("x", "y", 1s).status, bus_request_status::closed);
}

INSTANTIATE_TEST_SUITE_P(Servers, TcpBusTest,
                         ::testing::Values(server_kind{"nats_server", test::nats_server_binary},
                                           server_kind{"courier", test::courier_binary}),
                         [](const auto& info) { return std::string(info.param.label); });

TEST(TcpBusAuth, CredentialsFromTheUrlAndARefusal) {
  test::broker_process server;
  ASSERT_TRUE(server.start(test::nats_server_binary(), {"--user", "svc", "--pass", "s3cret"}));
  std::mutex mutex;
  std::vector<std::string> log;
  auto make = [&](const std::string& url) {
    tcp_bus_options options;
    options.urls = url;
    options.log = [&](const std::string& line) {
      std::lock_guard lock(mutex);
      log.push_back(line);
    };
    return std::make_unique<tcp_bus>(options);
  };
  auto good = make("nats://svc:s3cret@127.0.0.1:" + std::to_string(server.port()));
  EXPECT_TRUE(good->wait_connected(5s));
  auto bad = make("nats://svc:wrong@127.0.0.1:" + std::to_string(server.port()));
  EXPECT_FALSE(bad->wait_connected(1500ms));
  std::lock_guard lock(mutex);
  bool refused = false;
  for (const auto& line : log) refused = refused || line.find("Authorization Violation") != std::string::npos;
  EXPECT_TRUE(refused) << "the refusal must be logged with the server's reason";
}

TEST(TcpBusUrls, ParsesListsCredentialsTlsAndRejectsOtherSchemes) {
  std::vector<nats_endpoint> out;
  std::string error;
  ASSERT_TRUE(parse_nats_urls("nats://u:p@h1:4223, h2 ,nats://tok@[::1]:5000", out, error)) << error;
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].host, "h1");
  EXPECT_EQ(out[0].port, 4223);
  EXPECT_EQ(out[0].user, "u");
  EXPECT_EQ(out[0].password, "p");
  EXPECT_EQ(out[1].host, "h2");
  EXPECT_EQ(out[1].port, 4222);
  EXPECT_EQ(out[2].host, "::1");
  EXPECT_EQ(out[2].token, "tok");
  EXPECT_EQ(out[2].text(), "nats://[::1]:5000");
  ASSERT_TRUE(parse_nats_urls("tls://u:p@h3:4443,nats://h4", out, error)) << error;
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[0].tls);
  EXPECT_EQ(out[0].user, "u");
  EXPECT_EQ(out[0].text(), "tls://h3:4443");
  EXPECT_FALSE(out[1].tls);
  EXPECT_FALSE(parse_nats_urls("ws://h:1", out, error));
  EXPECT_NE(error.find("scheme"), std::string::npos);
  EXPECT_FALSE(parse_nats_urls("nats://h:99999", out, error));
  EXPECT_FALSE(parse_nats_urls("", out, error));
  tcp_bus_options bad;
  bad.urls = "nats://:1";
  EXPECT_THROW(tcp_bus{bad}, bus_error);
}

}  // namespace
}  // namespace courier::mss
