// Publish/subscribe through libnats: plain delivery, wildcards, per-publisher
// ordering, auto-unsubscribe and flush round trips.
#include "nats_helpers.hpp"
#include "raw_client.hpp"

#include <map>
#include <set>

namespace courier::test {
namespace {

using pubsub_test = client_test;

TEST_F(pubsub_test, published_message_reaches_subscriber_intact) {
  auto sub_conn = connect_to(server_.url());
  auto pub_conn = connect_to(server_.url());
  ASSERT_TRUE(sub_conn && pub_conn);
  auto sub = subscribe_sync(sub_conn.get(), "greet.hello");
  ASSERT_TRUE(sub);
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));

  const std::string body("hello\0world\r\nMSG x 1 2\r\n", 24);
  ASSERT_EQ(NATS_OK, natsConnection_Publish(pub_conn.get(), "greet.hello", body.data(), int(body.size())));
  ASSERT_EQ(NATS_OK, flush(pub_conn.get()));

  auto msg = next_message(sub.get());
  ASSERT_TRUE(msg) << "nothing delivered";
  EXPECT_STREQ("greet.hello", natsMsg_GetSubject(msg.get()));
  EXPECT_EQ(nullptr, natsMsg_GetReply(msg.get()));
  EXPECT_EQ(body, payload(msg.get()));
  // Exactly one copy.
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));
  EXPECT_EQ(0u, queued(sub.get()));
}

TEST_F(pubsub_test, publisher_receives_its_own_message_on_same_connection) {
  auto nc = connect_to(server_.url());
  ASSERT_TRUE(nc);
  auto sub = subscribe_sync(nc.get(), "echo.self");
  ASSERT_TRUE(sub);
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(nc.get(), "echo.self", "me"));
  auto msg = next_message(sub.get());
  ASSERT_TRUE(msg);
  EXPECT_EQ("me", payload(msg.get()));
}

TEST_F(pubsub_test, wildcards_match_exactly_the_right_subjects) {
  auto sub_conn = connect_to(server_.url());
  auto pub_conn = connect_to(server_.url());
  ASSERT_TRUE(sub_conn && pub_conn);
  auto star = subscribe_sync(sub_conn.get(), "w.*.end");
  auto tail = subscribe_sync(sub_conn.get(), "w.>");
  auto exact = subscribe_sync(sub_conn.get(), "w.a.end");
  ASSERT_TRUE(star && tail && exact);
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));

  const std::vector<std::string> subjects{"w.a.end", "w.b.end", "w.a.b.end", "w.end", "w",
                                          "x.a.end", "w.a.end.more", "w.c.end", "W.a.end"};
  for (const auto& s : subjects) {
    ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub_conn.get(), s.c_str(), s.c_str())) << s;
  }
  ASSERT_EQ(NATS_OK, flush(pub_conn.get()));
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));

  auto drain = [](natsSubscription* sub) {
    std::vector<std::string> got;
    // Both round trips are done: whatever the server sent is queued already.
    for (uint64_t n = queued(sub); n > 0; --n) {
      auto msg = next_message(sub);
      if (!msg) break;
      EXPECT_EQ(natsMsg_GetSubject(msg.get()), payload(msg.get()));
      got.push_back(natsMsg_GetSubject(msg.get()));
    }
    return got;
  };
  EXPECT_EQ((std::vector<std::string>{"w.a.end", "w.b.end", "w.c.end"}), drain(star.get()));
  EXPECT_EQ((std::vector<std::string>{"w.a.end", "w.b.end", "w.a.b.end", "w.end", "w.a.end.more", "w.c.end"}),
            drain(tail.get()));
  EXPECT_EQ((std::vector<std::string>{"w.a.end"}), drain(exact.get()));
}

TEST_F(pubsub_test, full_wildcard_alone_matches_everything_and_star_matches_one_token) {
  auto sub_conn = connect_to(server_.url());
  auto pub_conn = connect_to(server_.url());
  ASSERT_TRUE(sub_conn && pub_conn);
  auto all = subscribe_sync(sub_conn.get(), ">");
  auto one = subscribe_sync(sub_conn.get(), "*");
  ASSERT_TRUE(all && one);
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));
  for (const char* s : {"a", "a.b", "a.b.c"}) ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub_conn.get(), s, s));
  // A sentinel from the same publisher: once it arrives, anything published
  // before it has arrived too (per-publisher ordering).
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub_conn.get(), "zz", "sentinel"));
  ASSERT_EQ(NATS_OK, flush(pub_conn.get()));

  std::vector<std::string> got_all, got_one;
  for (int i = 0; i < 4; ++i) {
    auto m = next_message(all.get());
    ASSERT_TRUE(m);
    got_all.push_back(natsMsg_GetSubject(m.get()));
  }
  for (int i = 0; i < 2; ++i) {
    auto m = next_message(one.get());
    ASSERT_TRUE(m);
    got_one.push_back(natsMsg_GetSubject(m.get()));
  }
  EXPECT_EQ((std::vector<std::string>{"a", "a.b", "a.b.c", "zz"}), got_all);
  EXPECT_EQ((std::vector<std::string>{"a", "zz"}), got_one);
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));
  EXPECT_EQ(0u, queued(all.get()));
  EXPECT_EQ(0u, queued(one.get()));
}

TEST_F(pubsub_test, overlapping_subscriptions_on_one_connection_each_get_a_copy) {
  auto nc = connect_to(server_.url());
  auto pub = connect_to(server_.url());
  ASSERT_TRUE(nc && pub);
  auto a = subscribe_sync(nc.get(), "ov.x");
  auto b = subscribe_sync(nc.get(), "ov.*");
  auto c = subscribe_sync(nc.get(), "ov.>");
  ASSERT_TRUE(a && b && c);
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub.get(), "ov.x", "1"));
  ASSERT_EQ(NATS_OK, flush(pub.get()));
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  for (auto* s : {a.get(), b.get(), c.get()}) {
    EXPECT_EQ(1u, queued(s));
    auto m = next_message(s);
    ASSERT_TRUE(m);
    EXPECT_EQ("1", payload(m.get()));
  }
}

TEST_F(pubsub_test, unsubscribe_stops_delivery) {
  auto nc = connect_to(server_.url());
  auto pub = connect_to(server_.url());
  ASSERT_TRUE(nc && pub);
  auto gone = subscribe_sync(nc.get(), "unsub.x");
  auto stays = subscribe_sync(nc.get(), "unsub.x");
  ASSERT_TRUE(gone && stays);
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  ASSERT_EQ(NATS_OK, natsSubscription_Unsubscribe(gone.get()));
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub.get(), "unsub.x", "after"));
  ASSERT_EQ(NATS_OK, flush(pub.get()));
  auto m = next_message(stays.get());
  ASSERT_TRUE(m);
  EXPECT_EQ("after", payload(m.get()));
  // The raw protocol shows whether the server itself still sends to the
  // removed sid (libnats would drop such messages silently).
  raw_client raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.read_info());
  raw.clear();
  ASSERT_TRUE(raw.send("CONNECT {\"verbose\":false}\r\nSUB unsub.raw 1\r\nSUB unsub.raw 2\r\nUNSUB 1\r\n"
                       "PUB unsub.raw 2\r\nhi\r\nPING\r\n"));
  ASSERT_TRUE(raw.read_until("PONG\r\n"));
  EXPECT_EQ(0u, raw.count("MSG unsub.raw 1 ")) << raw.buffer();
  EXPECT_EQ(1u, raw.count("MSG unsub.raw 2 2\r\nhi\r\n")) << raw.buffer();
}

TEST_F(pubsub_test, auto_unsubscribe_delivers_exactly_max) {
  auto nc = connect_to(server_.url());
  auto pub = connect_to(server_.url());
  ASSERT_TRUE(nc && pub);
  auto sub = subscribe_sync(nc.get(), "auto.x");
  ASSERT_TRUE(sub);
  ASSERT_EQ(NATS_OK, natsSubscription_AutoUnsubscribe(sub.get(), 5));
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  for (int i = 0; i < 10; ++i) {
    std::string body = std::to_string(i);
    ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub.get(), "auto.x", body.c_str()));
  }
  ASSERT_EQ(NATS_OK, flush(pub.get()));
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  for (int i = 0; i < 5; ++i) {
    auto m = next_message(sub.get());
    ASSERT_TRUE(m) << "message " << i;
    EXPECT_EQ(std::to_string(i), payload(m.get()));
  }
  natsMsg* extra = nullptr;
  EXPECT_NE(NATS_OK, natsSubscription_NextMsg(&extra, sub.get(), 100));
  EXPECT_EQ(nullptr, extra);
  if (extra) natsMsg_Destroy(extra);
}

TEST_F(pubsub_test, server_honours_unsub_max_on_the_wire) {
  // libnats also counts locally, so check the server's own limit by hand.
  raw_client raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.read_info());
  raw.clear();
  std::string out = "CONNECT {\"verbose\":false}\r\nSUB lim.x 7\r\nUNSUB 7 5\r\n";
  for (int i = 0; i < 10; ++i) out += "PUB lim.x 1\r\n" + std::to_string(i) + "\r\n";
  out += "PING\r\n";
  ASSERT_TRUE(raw.send(out));
  ASSERT_TRUE(raw.read_until("PONG\r\n"));
  EXPECT_EQ(5u, raw.count("MSG lim.x 7 1\r\n")) << raw.buffer();
  for (int i = 0; i < 5; ++i) EXPECT_EQ(1u, raw.count("MSG lim.x 7 1\r\n" + std::to_string(i) + "\r\n")) << i;
  // The subscription is gone now: more publishes deliver nothing.
  raw.clear();
  ASSERT_TRUE(raw.send("PUB lim.x 1\r\nz\r\nPING\r\n"));
  ASSERT_TRUE(raw.read_until("PONG\r\n"));
  EXPECT_EQ(0u, raw.count("MSG")) << raw.buffer();
}

TEST_F(pubsub_test, order_per_publisher_is_preserved_with_concurrent_publishers) {
  constexpr int publishers = 4;
  constexpr int per_publisher = 2000;
  auto sub_conn = connect_to(server_.url());
  ASSERT_TRUE(sub_conn);
  auto sub = subscribe_sync(sub_conn.get(), "ord.x");
  ASSERT_TRUE(sub);
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));

  std::vector<connection_ptr> pubs;
  for (int p = 0; p < publishers; ++p) {
    pubs.push_back(connect_to(server_.url()));
    ASSERT_TRUE(pubs.back());
  }
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int p = 0; p < publishers; ++p) {
    threads.emplace_back([&, p] {
      for (int i = 0; i < per_publisher; ++i) {
        std::string body = std::to_string(p) + ":" + std::to_string(i);
        if (natsConnection_PublishString(pubs[p].get(), "ord.x", body.c_str()) != NATS_OK) ++failures;
      }
      if (flush(pubs[p].get()) != NATS_OK) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_EQ(0, failures.load());

  std::vector<int> next(publishers, 0);
  for (int n = 0; n < publishers * per_publisher; ++n) {
    auto m = next_message(sub.get());
    ASSERT_TRUE(m) << "only " << n << " delivered";
    std::string body = payload(m.get());
    auto colon = body.find(':');
    ASSERT_NE(std::string::npos, colon) << body;
    int p = std::stoi(body.substr(0, colon));
    int i = std::stoi(body.substr(colon + 1));
    ASSERT_TRUE(p >= 0 && p < publishers) << body;
    ASSERT_EQ(next[p], i) << "publisher " << p << " out of order";
    ++next[p];
  }
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));
  EXPECT_EQ(0u, queued(sub.get()));
}

TEST_F(pubsub_test, flush_and_ping_round_trips) {
  auto nc = connect_to(server_.url());
  ASSERT_TRUE(nc);
  for (int i = 0; i < 200; ++i) ASSERT_EQ(NATS_OK, flush(nc.get())) << "flush " << i;
  int64_t rtt = -1;
  ASSERT_EQ(NATS_OK, natsConnection_GetRTT(nc.get(), &rtt));
  EXPECT_GE(rtt, 0);
  EXPECT_LT(rtt, int64_t(1'000'000'000)) << "loopback RTT over a second";

  // The same round trip by hand; several PINGs in one write get one PONG each.
  raw_client raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.read_info());
  EXPECT_EQ(0u, raw.buffer().rfind("INFO {", 0)) << raw.buffer();
  raw.clear();
  ASSERT_TRUE(raw.send("CONNECT {\"verbose\":false}\r\nPING\r\nPING\r\nPING\r\n"));
  ASSERT_TRUE(wait_until([&] {
    raw.read_until("PONG\r\nPONG\r\nPONG\r\n", 50ms);
    return raw.count("PONG\r\n") >= 3;
  }));
  EXPECT_EQ("PONG\r\nPONG\r\nPONG\r\n", raw.buffer());
}

TEST_F(pubsub_test, verbose_connection_gets_ok_for_each_operation) {
  raw_client raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.read_info());
  raw.clear();
  ASSERT_TRUE(raw.send("CONNECT {\"verbose\":true}\r\nSUB v.x 1\r\nPUB v.x 2\r\nok\r\nPING\r\n"));
  ASSERT_TRUE(raw.read_until("PONG\r\n"));
  EXPECT_EQ("+OK\r\n+OK\r\n+OK\r\nMSG v.x 1 2\r\nok\r\nPONG\r\n", raw.buffer());
}

}  // namespace
}  // namespace courier::test
