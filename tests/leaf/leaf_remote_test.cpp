// Courier as a leaf of a real NATS cluster: three nats-server 2.9.10
// processes joined by routes on loopback ports, an embedded Courier with a
// `leafnodes { remotes }` block pointing at them, and stock libnats clients
// on each side. Interest crosses asynchronously, so every test first waits
// (with a generous deadline, never a fixed sleep) for the condition it needs.
#include "broker/leaf/leaf_nodes.hpp"

#include <gtest/gtest.h>

#include <nats/nats.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "broker/in_process.hpp"
#include "broker/server.hpp"
#include "conf/config_loader.hpp"
#include "hub_cluster.hpp"
#include "libnats_helpers.hpp"

namespace courier::leaf_test {
namespace {

/// A request's outcome: the status and, when OK, the reply's payload.
struct request_outcome {
  natsStatus status = NATS_ERR;
  std::string reply;
};

request_outcome request(natsConnection* nc, const std::string& subject, const std::string& data,
                        std::chrono::milliseconds timeout = 2s) {
  natsMsg* raw = nullptr;
  request_outcome out;
  out.status = natsConnection_RequestString(&raw, nc, subject.c_str(), data.c_str(), timeout.count());
  if (out.status == NATS_OK) {
    out.reply = data_of(raw);
    natsMsg_Destroy(raw);
  }
  return out;
}

/// Requests until the status is `wanted` (interest appeared or went away).
bool until_request_status(natsConnection* nc, const std::string& subject, natsStatus wanted) {
  return eventually([&] { return request(nc, subject, "probe", 1s).status == wanted; });
}

/// Replies "<prefix><request payload>" to every message (natsMsgHandler).
struct responder {
  std::string prefix;
  static void on_message(natsConnection* nc, natsSubscription*, natsMsg* msg, void* closure) {
    auto* self = static_cast<responder*>(closure);
    if (natsMsg_GetReply(msg) != nullptr) {
      const std::string answer = self->prefix + data_of(msg);
      natsConnection_PublishString(nc, natsMsg_GetReply(msg), answer.c_str());
    }
    natsMsg_Destroy(msg);
  }
};

subscription_ptr serve(natsConnection* nc, const char* subject, responder& r, const char* queue = nullptr) {
  natsSubscription* raw = nullptr;
  const natsStatus status = queue ? natsConnection_QueueSubscribe(&raw, nc, subject, queue, &responder::on_message, &r)
                                  : natsConnection_Subscribe(&raw, nc, subject, &responder::on_message, &r);
  if (status != NATS_OK) ADD_FAILURE() << "subscribe " << subject << ": " << natsStatus_GetText(status);
  natsConnection_Flush(nc);
  return subscription_ptr(raw);
}

class leaf_of_cluster : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(hub_.start());
    std::string urls;
    for (std::size_t i = 0; i < hub_.size(); ++i) urls += (i ? ", \"" : "\"") + hub_.leaf_url(i) + "\"";
    conf::server_options options;
    conf::load_config_string("server_name: courier_leaf\nleafnodes {\n  reconnect: 1\n  remotes = [ { urls: [" +
                                 urls + "]" + remote_extra() + " } ]\n}\n",
                             options);
    options.host = "127.0.0.1";
    options.port = 0;
    courier_ = std::make_unique<broker::server>(options);
    courier_->start();
    ASSERT_NE(courier_->leafs(), nullptr);
    ASSERT_TRUE(eventually([&] { return courier_->leafs()->count() == 1 && hub_.member_with_leaf() >= 0; }))
        << "Courier did not connect to the hub";
    leaf_member_ = static_cast<std::size_t>(hub_.member_with_leaf());
    other_member_ = (leaf_member_ + 1) % hub_.size();
  }

  void TearDown() override {
    if (courier_) courier_->shutdown();
  }

  /// More keys for the remote.
  virtual std::string remote_extra() const { return {}; }

  std::string courier_url() const { return "nats://127.0.0.1:" + std::to_string(courier_->port()); }

  hub_cluster hub_;
  std::unique_ptr<broker::server> courier_;
  std::size_t leaf_member_ = 0;   ///< the hub member Courier is connected to
  std::size_t other_member_ = 0;  ///< another member (messages cross a route too)
};

TEST_F(leaf_of_cluster, pub_sub_with_wildcards_both_ways) {
  auto leaf_side = connect_to(courier_url());
  auto hub_side = connect_to(hub_.client_url(other_member_));
  ASSERT_TRUE(leaf_side && hub_side);

  auto down = subscribe_sync(leaf_side.get(), "down.*");
  auto up = subscribe_sync(hub_side.get(), "up.>");
  natsConnection_Flush(leaf_side.get());
  natsConnection_Flush(hub_side.get());
  ASSERT_TRUE(until_delivered(hub_side.get(), "down.probe", down.get()));
  ASSERT_TRUE(until_delivered(leaf_side.get(), "up.probe", up.get()));

  ASSERT_EQ(natsConnection_PublishString(hub_side.get(), "down.one", "from the hub"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(leaf_side.get(), "up.a.b.c", "from the leaf"), NATS_OK);
  natsConnection_Flush(hub_side.get());
  natsConnection_Flush(leaf_side.get());

  auto got_down = next_on(down.get(), "down.one");
  ASSERT_TRUE(got_down);
  EXPECT_EQ(data_of(got_down.get()), "from the hub");
  auto got_up = next_on(up.get(), "up.a.b.c");
  ASSERT_TRUE(got_up);
  EXPECT_EQ(data_of(got_up.get()), "from the leaf");

  // Not matching the wildcard: never crosses (down.* is one token).
  ASSERT_EQ(natsConnection_PublishString(hub_side.get(), "down.two.three", "no"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(hub_side.get(), "down.last", "yes"), NATS_OK);
  natsConnection_Flush(hub_side.get());
  natsMsg* raw = nullptr;
  // Messages from one publisher keep their order across the leaf: once
  // down.last is here, down.two.three would have been too.
  std::vector<std::string> subjects;
  while (natsSubscription_NextMsg(&raw, down.get(), 20000) == NATS_OK) {
    message_ptr msg(raw);
    subjects.push_back(natsMsg_GetSubject(raw));
    if (subjects.back() == "down.last") break;
  }
  ASSERT_FALSE(subjects.empty());
  EXPECT_EQ(subjects.back(), "down.last");
  for (const auto& subject : subjects) EXPECT_NE(subject, "down.two.three");
}

TEST_F(leaf_of_cluster, request_reply_both_ways) {
  auto leaf_side = connect_to(courier_url());
  auto hub_side = connect_to(hub_.client_url(other_member_));
  ASSERT_TRUE(leaf_side && hub_side);
  responder on_leaf{"leaf:"}, on_hub{"hub:"};
  auto leaf_service = serve(leaf_side.get(), "svc.leaf", on_leaf);
  auto hub_service = serve(hub_side.get(), "svc.hub", on_hub);

  ASSERT_TRUE(until_request_status(hub_side.get(), "svc.leaf", NATS_OK));
  ASSERT_TRUE(until_request_status(leaf_side.get(), "svc.hub", NATS_OK));
  for (int i = 0; i < 20; ++i) {
    auto from_hub = request(hub_side.get(), "svc.leaf", "q" + std::to_string(i), 10s);
    ASSERT_EQ(from_hub.status, NATS_OK) << natsStatus_GetText(from_hub.status);
    EXPECT_EQ(from_hub.reply, "leaf:q" + std::to_string(i));
    auto from_leaf = request(leaf_side.get(), "svc.hub", "r" + std::to_string(i), 10s);
    ASSERT_EQ(from_leaf.status, NATS_OK) << natsStatus_GetText(from_leaf.status);
    EXPECT_EQ(from_leaf.reply, "hub:r" + std::to_string(i));
  }
}

TEST_F(leaf_of_cluster, in_process_subscriber_is_reachable_from_the_cluster) {
  auto local = courier_->connect();
  local->subscribe("embedded.echo", [&](const broker::message& m) {
    local->publish(m.reply, "embedded:" + std::string(m.payload));
  });
  auto hub_side = connect_to(hub_.client_url(other_member_));
  ASSERT_TRUE(hub_side);
  ASSERT_TRUE(until_request_status(hub_side.get(), "embedded.echo", NATS_OK));
  auto answer = request(hub_side.get(), "embedded.echo", "hi", 10s);
  ASSERT_EQ(answer.status, NATS_OK);
  EXPECT_EQ(answer.reply, "embedded:hi");
  local->close();
}

TEST_F(leaf_of_cluster, queue_group_spanning_both_sides_delivers_each_message_once) {
  auto leaf_member = connect_to(courier_url());
  auto hub_member = connect_to(hub_.client_url(other_member_));
  ASSERT_TRUE(leaf_member && hub_member);
  auto on_leaf = subscribe_sync(leaf_member.get(), "work", "workers");
  auto on_hub = subscribe_sync(hub_member.get(), "work", "workers");
  natsConnection_Flush(leaf_member.get());
  natsConnection_Flush(hub_member.get());
  // The member Courier is connected to has no local worker: both groups'
  // members are remote to it (one over the leaf, one over a route). Wait
  // until it knows both.
  ASSERT_TRUE(eventually([&] {
    return http_get(hub_.http_port(leaf_member_), "/leafz?subs=1").find("\"work\"") != std::string::npos &&
           http_get(hub_.http_port(leaf_member_), "/routez?subs=1").find("\"work\"") != std::string::npos;
  })) << http_get(hub_.http_port(leaf_member_), "/leafz?subs=1");

  auto publishers = std::vector<connection_ptr>{};
  publishers.push_back(connect_to(courier_url()));
  publishers.push_back(connect_to(hub_.client_url(leaf_member_)));
  publishers.push_back(connect_to(hub_.client_url(other_member_)));
  constexpr int per_publisher = 50;
  for (std::size_t p = 0; p < publishers.size(); ++p) {
    ASSERT_TRUE(publishers[p]);
    for (int i = 0; i < per_publisher; ++i) {
      const std::string id = std::to_string(p) + "-" + std::to_string(i);
      ASSERT_EQ(natsConnection_PublishString(publishers[p].get(), "work", id.c_str()), NATS_OK);
    }
    natsConnection_Flush(publishers[p].get());
  }
  std::multiset<std::string> seen;
  std::size_t leaf_count = 0;
  const std::size_t total = publishers.size() * per_publisher;
  ASSERT_TRUE(eventually([&] {
    natsMsg* raw = nullptr;
    while (natsSubscription_NextMsg(&raw, on_leaf.get(), 10) == NATS_OK) {
      seen.insert(data_of(raw));
      ++leaf_count;
      natsMsg_Destroy(raw);
    }
    while (natsSubscription_NextMsg(&raw, on_hub.get(), 10) == NATS_OK) {
      seen.insert(data_of(raw));
      natsMsg_Destroy(raw);
    }
    return seen.size() >= total;
  })) << "delivered " << seen.size() << " of " << total;
  // A final round trip on both members: anything duplicated would be here by now.
  natsConnection_Flush(leaf_member.get());
  natsConnection_Flush(hub_member.get());
  EXPECT_EQ(seen.size(), total);
  for (const auto& id : seen) EXPECT_EQ(seen.count(id), 1u) << id;
  // The leaf's own publishes stay with its local member (as nats-server).
  EXPECT_GE(leaf_count, static_cast<std::size_t>(per_publisher));
}

TEST_F(leaf_of_cluster, headers_cross_both_ways) {
  auto leaf_side = connect_to(courier_url());
  auto hub_side = connect_to(hub_.client_url(other_member_));
  ASSERT_TRUE(leaf_side && hub_side);
  auto down = subscribe_sync(leaf_side.get(), "hdr.down.>");
  auto up = subscribe_sync(hub_side.get(), "hdr.up.>");
  natsConnection_Flush(leaf_side.get());
  natsConnection_Flush(hub_side.get());
  ASSERT_TRUE(until_delivered(hub_side.get(), "hdr.down.probe", down.get()));
  ASSERT_TRUE(until_delivered(leaf_side.get(), "hdr.up.probe", up.get()));

  auto send = [](natsConnection* nc, const char* subject, const char* value) {
    natsMsg* msg = nullptr;
    ASSERT_EQ(natsMsg_Create(&msg, subject, "reply.to", "body", 4), NATS_OK);
    natsMsgHeader_Set(msg, "X-Leaf-Test", value);
    ASSERT_EQ(natsConnection_PublishMsg(nc, msg), NATS_OK);
    natsMsg_Destroy(msg);
    natsConnection_Flush(nc);
  };
  send(hub_side.get(), "hdr.down.x", "from-hub");
  send(leaf_side.get(), "hdr.up.y", "from-leaf");
  for (auto [sub, subject, value] : {std::tuple{down.get(), "hdr.down.x", "from-hub"},
                                     std::tuple{up.get(), "hdr.up.y", "from-leaf"}}) {
    auto msg = next_on(sub, subject);
    ASSERT_TRUE(msg) << subject;
    const char* got = nullptr;
    ASSERT_EQ(natsMsgHeader_Get(msg.get(), "X-Leaf-Test", &got), NATS_OK);
    EXPECT_STREQ(got, value);
    EXPECT_STREQ(natsMsg_GetReply(msg.get()), "reply.to");
    EXPECT_EQ(data_of(msg.get()), "body");
  }
}

TEST_F(leaf_of_cluster, no_responders_on_both_sides) {
  auto leaf_side = connect_to(courier_url());
  auto hub_side = connect_to(hub_.client_url(other_member_));
  ASSERT_TRUE(leaf_side && hub_side);
  EXPECT_EQ(request(leaf_side.get(), "nobody.home", "x", 10s).status, NATS_NO_RESPONDERS);
  EXPECT_EQ(request(hub_side.get(), "nobody.home", "x", 10s).status, NATS_NO_RESPONDERS);
}

TEST_F(leaf_of_cluster, interest_follows_subscribe_unsubscribe_and_close) {
  auto hub_side = connect_to(hub_.client_url(other_member_));
  ASSERT_TRUE(hub_side);
  responder r{"ok:"};
  {
    // Subscribe, then unsubscribe: the cluster sees the interest come and go.
    auto leaf_side = connect_to(courier_url());
    ASSERT_TRUE(leaf_side);
    auto service = serve(leaf_side.get(), "appear", r);
    ASSERT_TRUE(until_request_status(hub_side.get(), "appear", NATS_OK));
    natsSubscription_Unsubscribe(service.get());
    natsConnection_Flush(leaf_side.get());
    ASSERT_TRUE(until_request_status(hub_side.get(), "appear", NATS_NO_RESPONDERS));
    // Subscribe again, then close the connection.
    auto again = serve(leaf_side.get(), "appear", r);
    ASSERT_TRUE(until_request_status(hub_side.get(), "appear", NATS_OK));
    natsConnection_Close(leaf_side.get());
    ASSERT_TRUE(until_request_status(hub_side.get(), "appear", NATS_NO_RESPONDERS));
  }
  {
    // The other way: a hub subscriber seen from Courier's clients.
    auto leaf_side = connect_to(courier_url());
    auto hub_service_conn = connect_to(hub_.client_url(other_member_));
    ASSERT_TRUE(leaf_side && hub_service_conn);
    auto service = serve(hub_service_conn.get(), "appear.hub", r);
    ASSERT_TRUE(until_request_status(leaf_side.get(), "appear.hub", NATS_OK));
    natsSubscription_Unsubscribe(service.get());
    natsConnection_Flush(hub_service_conn.get());
    ASSERT_TRUE(until_request_status(leaf_side.get(), "appear.hub", NATS_NO_RESPONDERS));
    auto again = serve(hub_service_conn.get(), "appear.hub", r);
    ASSERT_TRUE(until_request_status(leaf_side.get(), "appear.hub", NATS_OK));
    natsConnection_Close(hub_service_conn.get());
    ASSERT_TRUE(until_request_status(leaf_side.get(), "appear.hub", NATS_NO_RESPONDERS));
  }
}

TEST_F(leaf_of_cluster, kill_9_of_the_connected_member_moves_to_another) {
  auto leaf_side = connect_to(courier_url());
  ASSERT_TRUE(leaf_side);
  responder r{"alive:"};
  auto service = serve(leaf_side.get(), "failover.svc", r);
  auto hub_side = connect_to(hub_.client_url(other_member_));
  ASSERT_TRUE(hub_side);
  auto hub_sub = subscribe_sync(hub_side.get(), "failover.up");
  natsConnection_Flush(hub_side.get());
  ASSERT_TRUE(until_request_status(hub_side.get(), "failover.svc", NATS_OK));
  ASSERT_TRUE(until_delivered(leaf_side.get(), "failover.up", hub_sub.get()));

  hub_.kill(leaf_member_);
  // Courier reconnects to a surviving member, which gets its interest again.
  ASSERT_TRUE(eventually([&] {
    const int member = hub_.member_with_leaf();
    return member >= 0 && static_cast<std::size_t>(member) != leaf_member_ && courier_->leafs()->count() == 1;
  })) << "Courier did not move to another hub member";
  ASSERT_TRUE(until_request_status(hub_side.get(), "failover.svc", NATS_OK));
  auto answer = request(hub_side.get(), "failover.svc", "x", 10s);
  ASSERT_EQ(answer.status, NATS_OK);
  EXPECT_EQ(answer.reply, "alive:x");
  // And the hub's interest came back to Courier.
  ASSERT_TRUE(until_delivered(leaf_side.get(), "failover.up", hub_sub.get()));
}

TEST_F(leaf_of_cluster, whole_hub_restart_gets_the_interest_again) {
  auto leaf_side = connect_to(courier_url());
  ASSERT_TRUE(leaf_side);
  responder r{"back:"};
  auto service = serve(leaf_side.get(), "restart.svc", r);
  {
    auto hub_side = connect_to(hub_.client_url(other_member_));
    ASSERT_TRUE(hub_side);
    ASSERT_TRUE(until_request_status(hub_side.get(), "restart.svc", NATS_OK));
  }
  for (std::size_t i = 0; i < hub_.size(); ++i) hub_.kill(i);
  for (std::size_t i = 0; i < hub_.size(); ++i) ASSERT_TRUE(hub_.restart(i)) << hub_.log(i);
  // Courier finds a member again and sends its whole interest.
  ASSERT_TRUE(eventually([&] { return hub_.member_with_leaf() >= 0 && courier_->leafs()->count() == 1; }));
  auto hub_side = connect_to(hub_.client_url((static_cast<std::size_t>(hub_.member_with_leaf()) + 1) % hub_.size()));
  ASSERT_TRUE(hub_side);
  ASSERT_TRUE(until_request_status(hub_side.get(), "restart.svc", NATS_OK));
  auto answer = request(hub_side.get(), "restart.svc", "x", 10s);
  ASSERT_EQ(answer.status, NATS_OK);
  EXPECT_EQ(answer.reply, "back:x");
}

}  // namespace
}  // namespace courier::leaf_test

namespace courier::leaf_test {
namespace {

/// A remote that keeps secret.> from coming in and private.* from going out.
class leaf_of_cluster_with_denies : public leaf_of_cluster {
 protected:
  std::string remote_extra() const override {
    return ", deny_imports: [\"secret.>\"], deny_exports: \"private.*\"";
  }
};

TEST_F(leaf_of_cluster_with_denies, denied_subjects_do_not_cross_either_way) {
  auto leaf_side = connect_to(courier_url());
  auto hub_side = connect_to(hub_.client_url(other_member_));
  ASSERT_TRUE(leaf_side && hub_side);
  auto secret = subscribe_sync(leaf_side.get(), "secret.>");
  auto open = subscribe_sync(leaf_side.get(), "open.>");
  auto denied_out = subscribe_sync(hub_side.get(), "private.*");
  auto allowed_out = subscribe_sync(hub_side.get(), "public.*");
  natsConnection_Flush(leaf_side.get());
  natsConnection_Flush(hub_side.get());
  ASSERT_TRUE(until_delivered(hub_side.get(), "open.probe", open.get()));
  ASSERT_TRUE(until_delivered(leaf_side.get(), "public.probe", allowed_out.get()));
  // No interest in secret.> reached the hub (its JSON writes > as \u003e).
  const std::string leafz = http_get(hub_.http_port(leaf_member_), "/leafz?subs=1");
  EXPECT_NE(leafz.find("\"open.\\u003e\""), std::string::npos) << leafz;
  EXPECT_EQ(leafz.find("secret"), std::string::npos) << leafz;

  // From the hub: secret.x stays there; open.last (published after it on
  // the same connection) arrives, so secret.x would have been here first.
  ASSERT_EQ(natsConnection_PublishString(hub_side.get(), "secret.x", "no"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(hub_side.get(), "open.last", "yes"), NATS_OK);
  natsConnection_Flush(hub_side.get());
  ASSERT_TRUE(next_on(open.get(), "open.last"));
  natsMsg* raw = nullptr;
  EXPECT_EQ(natsSubscription_NextMsg(&raw, secret.get(), 200), NATS_TIMEOUT);
  if (raw != nullptr) natsMsg_Destroy(raw);

  // To the hub: private.y stays here, public.last crosses.
  ASSERT_EQ(natsConnection_PublishString(leaf_side.get(), "private.y", "no"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(leaf_side.get(), "public.last", "yes"), NATS_OK);
  natsConnection_Flush(leaf_side.get());
  ASSERT_TRUE(next_on(allowed_out.get(), "public.last"));
  raw = nullptr;
  EXPECT_EQ(natsSubscription_NextMsg(&raw, denied_out.get(), 200), NATS_TIMEOUT);
  if (raw != nullptr) natsMsg_Destroy(raw);
}

}  // namespace
}  // namespace courier::leaf_test
