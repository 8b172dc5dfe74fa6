// Slow consumers: a subscriber that stops reading while a fast publisher
// pushes more than max_pending must be cut off by the server, and nobody else
// may notice.
#include "nats_helpers.hpp"
#include "raw_client.hpp"

namespace courier::test {
namespace {

TEST(slow_consumer_test, subscriber_that_does_not_read_is_closed_publisher_and_bystander_unaffected) {
  server_process server("max_pending: 1048576\nmax_payload: 262144\nwrite_deadline: \"1s\"\n");
  ASSERT_TRUE(server.start());
  raw_client slow(server.port(), 2048);
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.read_info());
  slow.clear();
  ASSERT_TRUE(slow.send("CONNECT {\"verbose\":false}\r\nSUB flood.y 1\r\nPING\r\n"));
  ASSERT_TRUE(slow.read_until("PONG\r\n"));

  // A bystander with interest in another subject only.
  auto bystander = connect_to(server.url());
  ASSERT_TRUE(bystander);
  auto other = subscribe_sync(bystander.get(), "calm.y");
  ASSERT_TRUE(other);
  ASSERT_EQ(NATS_OK, flush(bystander.get()));

  auto pub = connect_to(server.url());
  ASSERT_TRUE(pub);
  const std::string body(200 * 1024, 's');
  constexpr int messages = 80;  // 16 MB
  for (int i = 0; i < messages; ++i) {
    ASSERT_EQ(NATS_OK, natsConnection_Publish(pub.get(), "flood.y", body.data(), int(body.size()))) << i;
  }
  ASSERT_EQ(NATS_OK, flush(pub.get(), 10s));
  EXPECT_TRUE(slow.wait_closed(5s)) << "slow consumer still connected; server log:\n" << server.log_text();
  EXPECT_LT(slow.bytes_received(), size_t(messages) * body.size());

  EXPECT_EQ(NATS_CONN_STATUS_CONNECTED, natsConnection_Status(pub.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub.get(), "calm.y", "still here"));
  auto m = next_message(other.get());
  ASSERT_TRUE(m);
  EXPECT_EQ("still here", payload(m.get()));
}

TEST(slow_consumer_test, fast_reader_survives_the_burst_that_closes_a_slow_one) {
  // Sizes matter, for nats-server as for any broker that batches writes:
  // - A healthy reader still has one read batch of deliveries pending at a
  //   time, so max_pending must stay well above one message (4 MiB vs 1 MiB).
  // - Once the kernel's socket buffers are full, the stalled reader should
  //   cross max_pending within a few messages: nats-server briefly stalls a
  //   fast producer (up to a second per message) while a consumer sits
  //   between half and all of max_pending.
  // - nats-server closes the socket only once its blocked write gives up,
  //   so write_deadline bounds how long the close takes.
  server_process server("max_pending: 4194304\nmax_payload: 1048576\nwrite_deadline: \"1s\"\n");
  ASSERT_TRUE(server.start());

  // The slow one: a raw socket with a tiny receive window that never reads.
  raw_client slow(server.port(), 2048);
  ASSERT_TRUE(slow.connected());
  ASSERT_TRUE(slow.read_info());
  slow.clear();
  ASSERT_TRUE(slow.send("CONNECT {\"verbose\":false}\r\nSUB flood.x 1\r\nPING\r\n"));
  ASSERT_TRUE(slow.read_until("PONG\r\n"));

  collector healthy;
  auto healthy_conn = connect_to(server.url());
  ASSERT_TRUE(healthy_conn);
  auto healthy_sub = healthy.subscribe(healthy_conn.get(), "flood.x");
  ASSERT_TRUE(healthy_sub);
  natsSubscription_SetPendingLimits(healthy_sub.get(), -1, -1);
  ASSERT_EQ(NATS_OK, flush(healthy_conn.get()));

  auto pub = connect_to(server.url());
  ASSERT_TRUE(pub);
  // 32 MiB: far beyond max_pending plus whatever the kernel's socket
  // buffers can hold for the stalled reader.
  constexpr int messages = 32;
  const std::string body(1024 * 1024, 'f');
  for (int i = 0; i < messages; ++i) {
    ASSERT_EQ(NATS_OK, natsConnection_Publish(pub.get(), "flood.x", body.data(), int(body.size()))) << i;
  }
  ASSERT_EQ(NATS_OK, flush(pub.get(), 10s)) << "publisher stalled by the slow consumer";

  // The healthy subscriber got every message (and was not cut off itself:
  // it reads as fast as it can, which a broker must cope with).
  ASSERT_TRUE(wait_until(
      [&] {
        return healthy.size() >= size_t(messages) ||
               natsConnection_Status(healthy_conn.get()) != NATS_CONN_STATUS_CONNECTED;
      },
      10s));
  ASSERT_EQ(NATS_CONN_STATUS_CONNECTED, natsConnection_Status(healthy_conn.get()))
      << "the healthy subscriber was disconnected after " << healthy.size() << " of " << messages
      << " messages; server log:\n"
      << server.log_text();
  ASSERT_EQ(NATS_OK, flush(healthy_conn.get()));
  EXPECT_EQ(size_t(messages), healthy.size());

  // The slow one was disconnected: reading now ends in EOF, well short of all
  // the bytes that were published.
  EXPECT_TRUE(slow.wait_closed(5s)) << "slow consumer still connected";
  EXPECT_LT(slow.bytes_received(), size_t(messages) * body.size());

  // Publisher and healthy subscriber still work.
  EXPECT_EQ(NATS_CONN_STATUS_CONNECTED, natsConnection_Status(pub.get()));
  EXPECT_EQ(NATS_CONN_STATUS_CONNECTED, natsConnection_Status(healthy_conn.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub.get(), "flood.x", "after"));
  ASSERT_EQ(NATS_OK, flush(pub.get()));
  ASSERT_TRUE(healthy.wait_for(messages + 1));
  EXPECT_EQ("after", healthy.items().back().data);
}

}  // namespace
}  // namespace courier::test
