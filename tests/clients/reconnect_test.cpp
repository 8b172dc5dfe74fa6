// libnats reconnecting after the server restarts on the same port: the
// subscription is replayed and keeps receiving.
#include "nats_helpers.hpp"

namespace courier::test {
namespace {

/// Counts libnats connection events.
struct events {
  std::atomic<int> disconnected{0};
  std::atomic<int> reconnected{0};
  std::atomic<int> closed{0};

  static void on_disconnected(natsConnection*, void* closure) { ++static_cast<events*>(closure)->disconnected; }
  static void on_reconnected(natsConnection*, void* closure) { ++static_cast<events*>(closure)->reconnected; }
  static void on_closed(natsConnection*, void* closure) { ++static_cast<events*>(closure)->closed; }
};

/// A connection and the events it reports. libnats makes its callbacks on
/// a thread of its own, after natsConnection_Destroy has returned too (the
/// disconnected one of the close itself): so this closes the connection
/// and waits for the closed callback, the last one and made after any
/// disconnected one, before the events go.
struct watched {
  events ev;
  connection_ptr conn;
  watched() = default;
  watched(const watched&) = delete;
  watched& operator=(const watched&) = delete;
  ~watched() {
    if (!conn) return;
    natsConnection_Close(conn.get());
    EXPECT_TRUE(wait_until([this] { return ev.closed > 0; }, 10s)) << "no closed callback";
  }
};

/// A connection that reconnects quickly and reports its events.
std::unique_ptr<watched> reconnecting(const std::string& url) {
  auto link = std::make_unique<watched>();
  auto opts = make_options(url);
  if (!opts) return link;
  natsOptions_SetAllowReconnect(opts.get(), true);
  natsOptions_SetMaxReconnect(opts.get(), 400);
  natsOptions_SetReconnectWait(opts.get(), 25);
  natsOptions_SetReconnectJitter(opts.get(), 0, 0);
  natsOptions_SetDisconnectedCB(opts.get(), &events::on_disconnected, &link->ev);
  natsOptions_SetReconnectedCB(opts.get(), &events::on_reconnected, &link->ev);
  natsOptions_SetClosedCB(opts.get(), &events::on_closed, &link->ev);
  link->conn = connect_with(opts.get());
  return link;
}

void restart_and_check(bool abrupt) {
  server_process server;
  ASSERT_TRUE(server.start());
  auto sub_link = reconnecting(server.url());
  auto pub_link = reconnecting(server.url());
  ASSERT_TRUE(sub_link->conn && pub_link->conn);
  const events& sub_events = sub_link->ev;
  const events& pub_events = pub_link->ev;
  const connection_ptr& sub_conn = sub_link->conn;
  const connection_ptr& pub_conn = pub_link->conn;
  auto sub = subscribe_sync(sub_conn.get(), "rc.>");
  ASSERT_TRUE(sub);
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub_conn.get(), "rc.before", "1"));
  auto first = next_message(sub.get());
  ASSERT_TRUE(first);
  EXPECT_EQ("1", payload(first.get()));

  const int port = server.port();
  if (abrupt) {
    server.kill();
  } else {
    server.stop();
  }
  ASSERT_TRUE(wait_until([&] { return sub_events.disconnected > 0 && pub_events.disconnected > 0; }))
      << "clients did not notice the server going away";
  ASSERT_TRUE(server.start());
  ASSERT_EQ(port, server.port());
  ASSERT_TRUE(wait_until([&] { return sub_events.reconnected > 0 && pub_events.reconnected > 0; }, 10s))
      << "clients did not reconnect";

  // The subscription was replayed on the new server before this round trip.
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));
  for (int i = 0; i < 10; ++i) {
    std::string body = "after" + std::to_string(i);
    ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub_conn.get(), "rc.after", body.c_str()));
  }
  ASSERT_EQ(NATS_OK, flush(pub_conn.get()));
  for (int i = 0; i < 10; ++i) {
    auto m = next_message(sub.get());
    ASSERT_TRUE(m) << "message " << i << " after reconnect";
    EXPECT_STREQ("rc.after", natsMsg_GetSubject(m.get()));
    EXPECT_EQ("after" + std::to_string(i), payload(m.get()));
  }
}

TEST(reconnect_test, subscription_survives_graceful_restart_on_same_port) { restart_and_check(false); }

TEST(reconnect_test, subscription_survives_kill_and_restart_on_same_port) { restart_and_check(true); }

TEST(reconnect_test, queue_subscription_and_request_work_after_restart) {
  server_process server;
  ASSERT_TRUE(server.start());
  auto link = reconnecting(server.url());
  ASSERT_TRUE(link->conn);
  const events& ev = link->ev;
  const connection_ptr& nc = link->conn;
  auto member = subscribe_sync(nc.get(), "rcq.x", "grp");
  ASSERT_TRUE(member);
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  ASSERT_TRUE(server.restart());
  ASSERT_TRUE(wait_until([&] { return ev.reconnected > 0; }, 10s));
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishRequestString(nc.get(), "rcq.x", "reply.to", "q"));
  auto m = next_message(member.get());
  ASSERT_TRUE(m);
  EXPECT_EQ("q", payload(m.get()));
  EXPECT_STREQ("reply.to", natsMsg_GetReply(m.get()));
}

TEST(reconnect_test, publishes_made_while_disconnected_are_delivered_after_reconnect) {
  server_process server;
  ASSERT_TRUE(server.start());
  // One connection for both roles: libnats replays its subscriptions before
  // the publishes it buffered while disconnected, so all must arrive.
  auto link = reconnecting(server.url());
  ASSERT_TRUE(link->conn);
  const events& ev = link->ev;
  const connection_ptr& nc = link->conn;
  auto sub = subscribe_sync(nc.get(), "rcb.x");
  ASSERT_TRUE(sub);
  ASSERT_EQ(NATS_OK, flush(nc.get()));

  server.stop();
  ASSERT_TRUE(wait_until([&] { return ev.disconnected > 0; }));
  for (int i = 0; i < 5; ++i) {
    std::string body = "buffered" + std::to_string(i);
    ASSERT_EQ(NATS_OK, natsConnection_PublishString(nc.get(), "rcb.x", body.c_str()));
  }
  ASSERT_TRUE(server.start());
  ASSERT_TRUE(wait_until([&] { return ev.reconnected > 0; }, 10s));
  for (int i = 0; i < 5; ++i) {
    auto m = next_message(sub.get());
    ASSERT_TRUE(m) << "buffered publish " << i << " lost";
    EXPECT_EQ("buffered" + std::to_string(i), payload(m.get()));
  }
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  EXPECT_EQ(0u, queued(sub.get()));
}

}  // namespace
}  // namespace courier::test
