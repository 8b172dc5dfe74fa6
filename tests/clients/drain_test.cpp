// Drain through libnats: the server must deliver everything published before
// the UNSUB/round trip, and nothing after; then the subscription (or the whole
// connection) closes.
#include "nats_helpers.hpp"

namespace courier::test {
namespace {

using drain_test = client_test;

constexpr int messages = 200;

void publish_numbered(natsConnection* nc, const char* subject, int from, int count) {
  for (int i = from; i < from + count; ++i) {
    std::string body = std::to_string(i);
    ASSERT_EQ(NATS_OK, natsConnection_PublishString(nc, subject, body.c_str()));
  }
  ASSERT_EQ(NATS_OK, flush(nc));
}

void expect_in_order(const std::vector<collector::item>& items, int count) {
  ASSERT_EQ(size_t(count), items.size());
  for (int i = 0; i < count; ++i) EXPECT_EQ(std::to_string(i), items[size_t(i)].data) << i;
}

TEST_F(drain_test, subscription_drain_delivers_pending_then_stops) {
  collector got;
  got.set_delay(200us);  // callbacks lag, so messages are pending when drain starts
  auto nc = connect_to(server_.url());
  auto pub = connect_to(server_.url());
  ASSERT_TRUE(nc && pub);
  auto sub = got.subscribe(nc.get(), "drain.sub");
  ASSERT_TRUE(sub);
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  publish_numbered(pub.get(), "drain.sub", 0, messages);

  ASSERT_EQ(NATS_OK, natsSubscription_Drain(sub.get()));
  ASSERT_EQ(NATS_OK, natsSubscription_WaitForDrainCompletion(sub.get(), 5000));
  EXPECT_EQ(NATS_OK, natsSubscription_DrainCompletionStatus(sub.get()));
  expect_in_order(got.items(), messages);

  // Interest is gone at the server: later publishes reach nobody, and the
  // connection itself is still usable.
  auto probe = subscribe_sync(pub.get(), "drain.sub");
  ASSERT_TRUE(probe);
  ASSERT_EQ(NATS_OK, flush(pub.get()));
  publish_numbered(pub.get(), "drain.sub", messages, 10);
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  EXPECT_EQ(size_t(messages), got.size());
  EXPECT_EQ(10u, queued(probe.get()));
  EXPECT_EQ(NATS_CONN_STATUS_CONNECTED, natsConnection_Status(nc.get()));
}

void on_closed(natsConnection*, void* closure) { static_cast<std::atomic<bool>*>(closure)->store(true); }

TEST_F(drain_test, connection_drain_delivers_pending_then_closes) {
  collector a, b;
  a.set_delay(100us);
  std::atomic<bool> closed{false};
  auto opts = make_options(server_.url());
  ASSERT_TRUE(opts);
  natsOptions_SetClosedCB(opts.get(), on_closed, &closed);
  auto nc = connect_with(opts.get());
  auto pub = connect_to(server_.url());
  ASSERT_TRUE(nc && pub);
  auto sub_a = a.subscribe(nc.get(), "drain.conn.a");
  auto sub_b = b.subscribe(nc.get(), "drain.conn.>");
  ASSERT_TRUE(sub_a && sub_b);
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  publish_numbered(pub.get(), "drain.conn.a", 0, messages);

  ASSERT_EQ(NATS_OK, natsConnection_DrainTimeout(nc.get(), 5000));
  ASSERT_TRUE(wait_until([&] { return closed.load(); }, 6s)) << "connection not closed after drain";
  EXPECT_TRUE(natsConnection_IsClosed(nc.get()));
  expect_in_order(a.items(), messages);
  expect_in_order(b.items(), messages);
  // Publishing on a closed connection is refused locally.
  EXPECT_EQ(NATS_CONNECTION_CLOSED, natsConnection_PublishString(nc.get(), "x", "y"));
}

}  // namespace
}  // namespace courier::test
