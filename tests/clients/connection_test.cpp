// Connection-level behaviour seen through libnats: what INFO gives the client,
// no_echo, verbose/pedantic handshakes, and closing with subscriptions open.
#include "nats_helpers.hpp"
#include "raw_client.hpp"

namespace courier::test {
namespace {

using connection_test = client_test;

TEST_F(connection_test, info_gives_server_id_and_distinct_client_ids) {
  auto a = connect_to(server_.url());
  auto b = connect_to(server_.url());
  ASSERT_TRUE(a && b);
  char id[256] = {};
  ASSERT_EQ(NATS_OK, natsConnection_GetConnectedServerId(a.get(), id, sizeof id));
  EXPECT_GT(std::strlen(id), 0u);
  uint64_t cid_a = 0, cid_b = 0;
  ASSERT_EQ(NATS_OK, natsConnection_GetClientID(a.get(), &cid_a));
  ASSERT_EQ(NATS_OK, natsConnection_GetClientID(b.get(), &cid_b));
  EXPECT_GT(cid_a, 0u);
  EXPECT_NE(cid_a, cid_b);
  char url[256] = {};
  ASSERT_EQ(NATS_OK, natsConnection_GetConnectedUrl(a.get(), url, sizeof url));
  EXPECT_EQ(server_.url(), url);
  char* ip = nullptr;
  ASSERT_EQ(NATS_OK, natsConnection_GetClientIP(a.get(), &ip)) << "INFO lacks client_ip";
  EXPECT_STREQ("127.0.0.1", ip);
  free(ip);
}

TEST_F(connection_test, no_echo_suppresses_own_messages_only) {
  auto opts = make_options(server_.url());
  ASSERT_TRUE(opts);
  ASSERT_EQ(NATS_OK, natsOptions_SetNoEcho(opts.get(), true));
  auto quiet = connect_with(opts.get());
  auto other = connect_to(server_.url());
  ASSERT_TRUE(quiet && other);
  auto own = subscribe_sync(quiet.get(), "echo.x");
  auto theirs = subscribe_sync(other.get(), "echo.x");
  ASSERT_TRUE(own && theirs);
  ASSERT_EQ(NATS_OK, flush(quiet.get()));
  ASSERT_EQ(NATS_OK, flush(other.get()));

  ASSERT_EQ(NATS_OK, natsConnection_PublishString(quiet.get(), "echo.x", "from-quiet"));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(other.get(), "echo.x", "from-other"));
  ASSERT_EQ(NATS_OK, flush(quiet.get()));
  ASSERT_EQ(NATS_OK, flush(other.get()));
  ASSERT_EQ(NATS_OK, flush(quiet.get()));

  auto m = next_message(own.get());
  ASSERT_TRUE(m);
  EXPECT_EQ("from-other", payload(m.get()));
  EXPECT_EQ(0u, queued(own.get())) << "no_echo connection got its own message";
  EXPECT_EQ(2u, queued(theirs.get()));
}

TEST_F(connection_test, verbose_and_pedantic_clients_work) {
  auto opts = make_options(server_.url());
  ASSERT_TRUE(opts);
  natsOptions_SetVerbose(opts.get(), true);
  natsOptions_SetPedantic(opts.get(), true);
  auto nc = connect_with(opts.get());
  ASSERT_TRUE(nc);
  auto sub = subscribe_sync(nc.get(), "verb.x");
  ASSERT_TRUE(sub);
  for (int i = 0; i < 20; ++i) ASSERT_EQ(NATS_OK, natsConnection_PublishString(nc.get(), "verb.x", "v"));
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  EXPECT_EQ(20u, queued(sub.get()));
  const char* last_error = nullptr;
  EXPECT_EQ(NATS_OK, natsConnection_GetLastError(nc.get(), &last_error)) << (last_error ? last_error : "");
}

TEST_F(connection_test, abrupt_close_with_open_subscriptions_cleans_up_interest) {
  auto pub = connect_to(server_.url());
  ASSERT_TRUE(pub);
  {
    // A raw subscriber vanishes without UNSUB.
    raw_client gone(server_.port());
    ASSERT_TRUE(gone.connected());
    ASSERT_TRUE(gone.read_info());
    ASSERT_TRUE(gone.send("CONNECT {\"verbose\":false}\r\nSUB vanish.x 1\r\nPING\r\n"));
    ASSERT_TRUE(gone.read_until("PONG\r\n"));
  }
  // With its interest gone, a request has no responders at all; poll since
  // the server notices the closed socket asynchronously.
  ASSERT_TRUE(wait_until([&] {
    natsMsg* raw = nullptr;
    natsStatus s = natsConnection_RequestString(&raw, pub.get(), "vanish.x", "?", 100);
    if (raw) natsMsg_Destroy(raw);
    return s == NATS_NO_RESPONDERS;
  }, 5s)) << "interest of a closed connection was not removed";
}

TEST_F(connection_test, statistics_count_what_went_through_the_server) {
  auto a = connect_to(server_.url());
  auto b = connect_to(server_.url());
  ASSERT_TRUE(a && b);
  auto sub = subscribe_sync(b.get(), "stats.x");
  ASSERT_TRUE(sub);
  ASSERT_EQ(NATS_OK, flush(b.get()));
  for (int i = 0; i < 7; ++i) ASSERT_EQ(NATS_OK, natsConnection_Publish(a.get(), "stats.x", "12345", 5));
  ASSERT_EQ(NATS_OK, flush(a.get()));
  ASSERT_EQ(NATS_OK, flush(b.get()));
  natsStatistics* stats = nullptr;
  ASSERT_EQ(NATS_OK, natsStatistics_Create(&stats));
  std::unique_ptr<natsStatistics, void (*)(natsStatistics*)> guard(stats, natsStatistics_Destroy);
  ASSERT_EQ(NATS_OK, natsConnection_GetStats(b.get(), stats));
  uint64_t in_msgs = 0, in_bytes = 0, out_msgs = 0, out_bytes = 0, reconnects = 0;
  ASSERT_EQ(NATS_OK, natsStatistics_GetCounts(stats, &in_msgs, &in_bytes, &out_msgs, &out_bytes, &reconnects));
  EXPECT_EQ(7u, in_msgs);
  EXPECT_EQ(35u, in_bytes);
}

}  // namespace
}  // namespace courier::test
