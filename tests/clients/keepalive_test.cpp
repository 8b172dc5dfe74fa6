// Server-initiated keepalive: with a short ping_interval the server PINGs idle
// clients, drops one that never answers, and keeps one that does (libnats
// answers by itself).
#include "nats_helpers.hpp"
#include "raw_client.hpp"

namespace courier::test {
namespace {

constexpr const char* fast_pings = "ping_interval: \"100ms\"\nping_max: 2\n";

TEST(keepalive_test, client_that_never_answers_pings_is_dropped_as_stale) {
  server_process server(fast_pings);
  ASSERT_TRUE(server.start());
  raw_client raw(server.port(), 0, raw_client::server_pings::keep);
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.read_info());
  raw.clear();
  ASSERT_TRUE(raw.send("CONNECT {\"verbose\":false}\r\n"));
  const auto start = steady::now();
  ASSERT_TRUE(raw.wait_closed(5s)) << "still connected; got: " << raw.buffer();
  EXPECT_LT(steady::now() - start, 3s);
  // ping_max PINGs go unanswered, then the server gives up.
  EXPECT_EQ(2u, raw.count("PING\r\n")) << raw.buffer();
  EXPECT_NE(std::string::npos, raw.buffer().find("-ERR 'Stale Connection'\r\n")) << raw.buffer();
}

TEST(keepalive_test, client_that_answers_pings_stays_connected) {
  server_process server(fast_pings);
  ASSERT_TRUE(server.start());
  raw_client raw(server.port(), 0, raw_client::server_pings::keep);
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.read_info());
  raw.clear();
  ASSERT_TRUE(raw.send("CONNECT {\"verbose\":false}\r\n"));
  // Answer every PING for a while: far longer than ping_interval * ping_max.
  int answered = 0;
  const auto until = steady::now() + 800ms;
  while (steady::now() < until) {
    if (raw.read_until("PING\r\n", 50ms)) {
      ++answered;
      raw.clear();
      ASSERT_TRUE(raw.send("PONG\r\n"));
    }
    ASSERT_FALSE(raw.closed()) << "dropped after " << answered << " answered PINGs";
  }
  EXPECT_GE(answered, 3) << "server should PING an idle client every 100ms";
  raw.clear();
  ASSERT_TRUE(raw.send("PING\r\n"));
  ASSERT_TRUE(raw.read_until("PONG\r\n", 2s)) << raw.buffer();
}

TEST(keepalive_test, libnats_connection_survives_server_pings) {
  server_process server(fast_pings);
  ASSERT_TRUE(server.start());
  auto nc = connect_to(server.url());
  ASSERT_TRUE(nc);
  auto sub = subscribe_sync(nc.get(), "ka.x");
  ASSERT_TRUE(sub);
  // Idle well past the point where an unanswering client would be dropped.
  std::this_thread::sleep_for(700ms);
  EXPECT_EQ(NATS_CONN_STATUS_CONNECTED, natsConnection_Status(nc.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(nc.get(), "ka.x", "alive"));
  auto m = next_message(sub.get());
  ASSERT_TRUE(m);
  EXPECT_EQ("alive", payload(m.get()));
}

}  // namespace
}  // namespace courier::test
