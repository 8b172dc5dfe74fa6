// Many connections at once and wide fan-out, with exact delivery counts.
#include "nats_helpers.hpp"

namespace courier::test {
namespace {

using scale_test = client_test;

TEST_F(scale_test, fifty_connections_publish_and_subscribe_concurrently) {
  constexpr int clients = 50;
  constexpr int per_client = 20;
  std::vector<connection_ptr> conns(clients);
  std::vector<subscription_ptr> subs(clients);
  {
    // Connect in parallel too: the server must accept a burst.
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c) {
      threads.emplace_back([&, c] { conns[c] = connect_to(server_.url()); });
    }
    for (auto& t : threads) t.join();
  }
  for (int c = 0; c < clients; ++c) {
    ASSERT_TRUE(conns[c]) << "client " << c;
    subs[c] = subscribe_sync(conns[c].get(), "many.*");
    ASSERT_TRUE(subs[c]);
    natsSubscription_SetPendingLimits(subs[c].get(), -1, -1);
  }
  for (auto& c : conns) ASSERT_EQ(NATS_OK, flush(c.get()));

  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      const std::string subject = "many." + std::to_string(c);
      for (int i = 0; i < per_client; ++i) {
        std::string body = std::to_string(c) + ":" + std::to_string(i);
        if (natsConnection_PublishString(conns[c].get(), subject.c_str(), body.c_str()) != NATS_OK) ++failures;
      }
      if (flush(conns[c].get()) != NATS_OK) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(0, failures.load());
  // Every publisher's round trip is done; one more per subscriber makes every
  // delivery visible in the client.
  for (auto& c : conns) ASSERT_EQ(NATS_OK, flush(c.get()));

  for (int s = 0; s < clients; ++s) {
    ASSERT_EQ(uint64_t(clients * per_client), queued(subs[s].get())) << "subscriber " << s;
    std::vector<int> next(clients, 0);
    for (int n = 0; n < clients * per_client; ++n) {
      auto m = next_message(subs[s].get());
      ASSERT_TRUE(m);
      std::string body = payload(m.get());
      const int p = std::stoi(body.substr(0, body.find(':')));
      const int i = std::stoi(body.substr(body.find(':') + 1));
      ASSERT_EQ("many." + std::to_string(p), natsMsg_GetSubject(m.get()));
      ASSERT_EQ(next[p], i) << "subscriber " << s << " publisher " << p;
      ++next[p];
    }
  }
}

TEST_F(scale_test, large_fan_out_delivers_every_message_to_every_subscription) {
  constexpr int connections = 10;
  constexpr int subs_per_connection = 10;
  constexpr int messages = 500;
  std::vector<connection_ptr> conns;
  std::vector<subscription_ptr> subs;
  for (int c = 0; c < connections; ++c) {
    conns.push_back(connect_to(server_.url()));
    ASSERT_TRUE(conns.back());
    for (int s = 0; s < subs_per_connection; ++s) {
      // Mix exact and wildcard interest in the same subject.
      const char* subject = s % 3 == 0 ? "fan.out.x" : s % 3 == 1 ? "fan.*.x" : "fan.>";
      subs.push_back(subscribe_sync(conns.back().get(), subject));
      ASSERT_TRUE(subs.back());
      natsSubscription_SetPendingLimits(subs.back().get(), -1, -1);
    }
    ASSERT_EQ(NATS_OK, flush(conns.back().get()));
  }
  auto pub = connect_to(server_.url());
  ASSERT_TRUE(pub);
  for (int i = 0; i < messages; ++i) {
    std::string body = std::to_string(i);
    ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub.get(), "fan.out.x", body.c_str()));
  }
  ASSERT_EQ(NATS_OK, flush(pub.get()));
  for (auto& c : conns) ASSERT_EQ(NATS_OK, flush(c.get(), 10s));
  for (size_t s = 0; s < subs.size(); ++s) {
    ASSERT_EQ(uint64_t(messages), queued(subs[s].get())) << "subscription " << s;
    for (int i = 0; i < messages; ++i) {
      auto m = next_message(subs[s].get());
      ASSERT_TRUE(m);
      ASSERT_EQ(std::to_string(i), payload(m.get())) << "subscription " << s;
    }
  }
}

}  // namespace
}  // namespace courier::test
