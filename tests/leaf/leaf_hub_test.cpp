// Courier as the hub: an embedded Courier with a leafnode listener, a real
// nats-server 2.9.10 process as its leaf, libnats clients on both sides.
#include "broker/leaf/leaf_nodes.hpp"

#include <gtest/gtest.h>

#include <nats/nats.h>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <boost/asio/buffers_iterator.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>

#include "broker/server.hpp"
#include "conf/config_loader.hpp"
#include "hub_cluster.hpp"
#include "monitor/metrics.hpp"
#include "tests/monitor/exposition.hpp"
#include "libnats_helpers.hpp"
#include "npm_clients.hpp"
#include "tests/test_pki.hpp"

namespace courier::leaf_test {
namespace {

subscription_ptr subscribe_and_flush(natsConnection* nc, const char* subject, const char* queue = nullptr) {
  auto sub = subscribe_sync(nc, subject, queue);
  natsConnection_Flush(nc);
  return sub;
}

/// Publishes `subject` until `sub` gets it (interest has crossed).
bool crosses(natsConnection* publisher, const std::string& subject, natsSubscription* sub) {
  return eventually([&] {
    natsConnection_PublishString(publisher, subject.c_str(), "probe");
    natsConnection_FlushTimeout(publisher, 5000);
    natsMsg* raw = nullptr;
    while (natsSubscription_NextMsg(&raw, sub, 100) == NATS_OK) {
      message_ptr msg(raw);
      if (subject == natsMsg_GetSubject(raw)) return true;
    }
    return false;
  });
}

void echo_reply(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  if (natsMsg_GetReply(msg) != nullptr) {
    const std::string answer = "re:" + std::string(natsMsg_GetData(msg), natsMsg_GetDataLength(msg));
    natsConnection_PublishString(nc, natsMsg_GetReply(msg), answer.c_str());
  }
  natsMsg_Destroy(msg);
}

/// A Courier hub with a leafnode listener and a nats-server leaf of it.
class courier_hub : public ::testing::Test {
 protected:
  void start_hub(const std::string& extra_config) {
    conf::server_options options;
    conf::load_config_string(extra_config, options);
    options.host = "127.0.0.1";
    options.port = 0;
    hub_ = std::make_unique<broker::server>(options);
    hub_->start();
    ASSERT_NE(hub_->leafs(), nullptr);
    ASSERT_NE(hub_->leafs()->port(), 0);
  }

  /// Starts nats-server as a leaf of the hub with `credentials` ("user:pass@" or "").
  bool start_edge(const std::string& credentials, const std::string& remote_extra = "") {
    const auto binary = mss::test::nats_server_binary();
    if (!std::filesystem::exists(binary)) {
      ADD_FAILURE() << "nats-server not found at " << binary;
      return false;
    }
    dir_ = std::filesystem::temp_directory_path() / ("courier-leaf-edge-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    const auto path = (dir_ / "edge.conf").string();
    std::ofstream(path) << "server_name: edge\nleafnodes {\n  reconnect: 1\n  remotes = [ { url: \"nats-leaf://" +
                               credentials + "127.0.0.1:" + std::to_string(hub_->leafs()->port()) + "\"" +
                               remote_extra + " } ]\n}\n";
    // A free port may be taken by a test running beside before nats-server
    // binds it: try again on another.
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (edge_.start(binary, {"-c", path}, 0, (dir_ / "edge.log").string())) return true;
    }
    ADD_FAILURE() << "nats-server (edge) did not start: " << edge_log();
    return false;
  }

  std::string edge_log() const {
    std::ifstream in(dir_ / "edge.log");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  void TearDown() override {
    edge_.stop(SIGKILL);
    if (hub_) hub_->shutdown();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string hub_url() const { return "nats://127.0.0.1:" + std::to_string(hub_->port()); }

  std::unique_ptr<broker::server> hub_;
  mss::test::broker_process edge_;
  std::filesystem::path dir_;
};

TEST_F(courier_hub, nats_server_leaf_over_tls) {
  // leafnodes.tls on the hub: the INFO says tls_required, the edge
  // (nats-server 2.9.10, checking the hub's certificate against the test
  // CA) makes the handshake, and messages cross both ways.
  test::test_pki pki;
  ASSERT_TRUE(pki.ok()) << pki.log_text();
  start_hub("leafnodes { host: \"127.0.0.1\", port: -1, tls { cert_file: \"" + pki.cert("server") +
            "\", key_file: \"" + pki.key("server") + "\", timeout: 5 } }\n");
  {
    // What a leaf sees first, in clear.
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket raw(io);
    raw.connect({boost::asio::ip::make_address("127.0.0.1"), hub_->leafs()->port()});
    boost::asio::streambuf buffer;
    boost::asio::read_until(raw, buffer, "\r\n");
    const std::string info(boost::asio::buffers_begin(buffer.data()), boost::asio::buffers_end(buffer.data()));
    EXPECT_NE(info.find(",\"tls_required\":true,"), std::string::npos) << info;
    EXPECT_EQ(info.find("tls_verify"), std::string::npos) << info;
  }
  ASSERT_TRUE(start_edge("", ", tls { ca_file: \"" + pki.ca() + "\", timeout: 5 }"));
  ASSERT_TRUE(eventually([&] { return hub_->leafs()->count() == 1; })) << edge_log();
  auto on_hub = connect_to(hub_url());
  auto on_edge = connect_to(edge_.url());
  ASSERT_TRUE(on_hub && on_edge);
  auto at_edge = subscribe_and_flush(on_edge.get(), "to.edge.>");
  auto at_hub = subscribe_and_flush(on_hub.get(), "to.hub.*");
  ASSERT_TRUE(crosses(on_hub.get(), "to.edge.probe", at_edge.get()));
  ASSERT_TRUE(crosses(on_edge.get(), "to.hub.probe", at_hub.get()));
}

TEST_F(courier_hub, what_a_leaf_does_not_import_is_not_sent_to_it) {
  // The edge's deny_imports reaches the hub in CONNECT's deny_pub: even for
  // a subscription on ">" (which the edge's own check lets through), the hub
  // sends nothing on secret.>.
  start_hub("leafnodes { host: \"127.0.0.1\", port: -1 }\n");
  ASSERT_TRUE(start_edge("", ", deny_imports: [\"secret.>\"]"));
  ASSERT_TRUE(eventually([&] { return hub_->leafs()->count() == 1; })) << edge_log();
  auto on_hub = connect_to(hub_url());
  auto on_edge = connect_to(edge_.url());
  ASSERT_TRUE(on_hub && on_edge);
  auto everything = subscribe_and_flush(on_edge.get(), ">");
  ASSERT_TRUE(crosses(on_hub.get(), "open.probe", everything.get()));
  ASSERT_EQ(natsConnection_PublishString(on_hub.get(), "secret.x", "no"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(on_hub.get(), "open.last", "yes"), NATS_OK);
  natsConnection_Flush(on_hub.get());
  // One publisher's messages keep their order: secret.x would come first.
  std::vector<std::string> subjects;
  natsMsg* raw = nullptr;
  while (natsSubscription_NextMsg(&raw, everything.get(), 20000) == NATS_OK) {
    message_ptr msg(raw);
    subjects.push_back(natsMsg_GetSubject(raw));
    if (subjects.back() == "open.last") break;
  }
  ASSERT_FALSE(subjects.empty());
  EXPECT_EQ(subjects.back(), "open.last");
  for (const auto& subject : subjects) EXPECT_NE(subject, "secret.x");
}

TEST_F(courier_hub, npm_nats_clients_on_both_sides_of_a_nats_server_leaf) {
  start_hub("leafnodes { host: \"127.0.0.1\", port: -1 }\n");
  ASSERT_TRUE(start_edge(""));
  ASSERT_TRUE(eventually([&] { return hub_->leafs()->count() == 1; })) << edge_log();
  run_npm_clients(edge_.url(), hub_url(), hub_url());
}

TEST_F(courier_hub, nats_server_leaf_exchanges_messages_both_ways) {
  start_hub("leafnodes { host: \"127.0.0.1\", port: -1 }\n");
  ASSERT_TRUE(start_edge(""));
  ASSERT_TRUE(eventually([&] { return hub_->leafs()->count() == 1; })) << edge_log();
  auto on_hub = connect_to(hub_url());
  auto on_edge = connect_to(edge_.url());
  ASSERT_TRUE(on_hub && on_edge);

  auto edge_sub = subscribe_and_flush(on_edge.get(), "to.edge.*");
  auto hub_sub = subscribe_and_flush(on_hub.get(), "to.hub.>");
  ASSERT_TRUE(crosses(on_hub.get(), "to.edge.x", edge_sub.get()));
  ASSERT_TRUE(crosses(on_edge.get(), "to.hub.y.z", hub_sub.get()));

  // Request/reply both ways.
  natsSubscription* raw = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(&raw, on_edge.get(), "svc.edge", echo_reply, nullptr), NATS_OK);
  subscription_ptr edge_service(raw);
  ASSERT_EQ(natsConnection_Subscribe(&raw, on_hub.get(), "svc.hub", echo_reply, nullptr), NATS_OK);
  subscription_ptr hub_service(raw);
  natsConnection_Flush(on_edge.get());
  natsConnection_Flush(on_hub.get());
  for (const auto& way : {std::pair{on_hub.get(), "svc.edge"}, std::pair{on_edge.get(), "svc.hub"}}) {
    natsConnection* requester = way.first;
    const char* subject = way.second;
    natsMsg* reply = nullptr;
    ASSERT_TRUE(eventually([&] {
      return natsConnection_RequestString(&reply, requester, subject, "ping", 1000) == NATS_OK;
    })) << subject;
    message_ptr kept(reply);
    EXPECT_EQ(std::string(natsMsg_GetData(reply), natsMsg_GetDataLength(reply)), "re:ping");
  }

  // The leaf's interest goes when its subscriber does.
  natsSubscription_Unsubscribe(edge_service.get());
  natsConnection_Flush(on_edge.get());
  ASSERT_TRUE(eventually([&] {
    natsMsg* reply = nullptr;
    const natsStatus status = natsConnection_RequestString(&reply, on_hub.get(), "svc.edge", "x", 1000);
    if (reply) natsMsg_Destroy(reply);
    return status == NATS_NO_RESPONDERS;
  }));
  // /leafz material: the hub lists the edge with its interest.
  auto leafs = hub_->leafs()->snapshot();
  ASSERT_EQ(leafs.size(), 1u);
  EXPECT_EQ(leafs[0].name, "edge");
  EXPECT_FALSE(leafs[0].is_spoke);
  EXPECT_EQ(leafs[0].account, "$G");
  // /metrics counts the leaf apart from the clients.
  const auto metrics = monitor::test::parse_exposition(monitor::render_metrics(*hub_));
  EXPECT_EQ(metrics.value("courier_leafnodes"), 1);
  EXPECT_EQ(metrics.types.at("courier_leafnode_connections_closed_total"), "counter");
}

TEST_F(courier_hub, a_leaf_that_stops_reading_is_stalled_past_max_pending_and_closed_by_the_write_deadline) {
  // nats-server cuts off only client connections over max_pending; a leaf
  // gets its producers stalled, and is closed when a write makes no
  // progress for write_deadline. The edge process is stopped (SIGSTOP), so
  // the hub's socket to it fills, then its buffer passes max_pending.
  start_hub("max_pending: 262144\nmax_payload: 65536\nwrite_deadline: \"2s\"\nleafnodes { host: \"127.0.0.1\", port: -1 }\n");
  ASSERT_TRUE(start_edge(""));
  ASSERT_TRUE(eventually([&] { return hub_->leafs()->count() == 1; })) << edge_log();
  auto on_hub = connect_to(hub_url());
  auto on_edge = connect_to(edge_.url());
  ASSERT_TRUE(on_hub && on_edge);
  auto flood = subscribe_and_flush(on_edge.get(), "flood.>");
  ASSERT_TRUE(crosses(on_hub.get(), "flood.probe", flood.get()));

  ASSERT_EQ(::kill(edge_.pid(), SIGSTOP), 0);
  const std::string chunk(16 * 1024, 'f');
  const auto by_reason = [&](broker::close_reason reason) {
    const auto counts = hub_->leafs()->closed_by_reason();
    const auto it = counts.find(reason);
    return it == counts.end() ? std::uint64_t{0} : it->second;
  };
  // Up to 64 MiB, until the leaf is closed (socket buffers on loopback take
  // a few MiB first).
  for (int i = 0; i < 4096 && by_reason(broker::close_reason::slow_consumer_write_deadline) == 0; ++i) {
    ASSERT_EQ(natsConnection_Publish(on_hub.get(), "flood.x", chunk.data(), static_cast<int>(chunk.size())), NATS_OK);
    if (i % 64 == 63) natsConnection_FlushTimeout(on_hub.get(), 60000);
  }
  EXPECT_TRUE(eventually([&] { return by_reason(broker::close_reason::slow_consumer_write_deadline) == 1; }))
      << "the stopped leaf was not closed by the write deadline";
  EXPECT_EQ(by_reason(broker::close_reason::slow_consumer_pending_bytes), 0u) << "a leaf was cut off at max_pending";
  EXPECT_EQ(hub_->leafs()->count(), 0u);
  // /metrics says so, and keeps the leaf's close out of the clients' closes.
  const auto metrics = monitor::test::parse_exposition(monitor::render_metrics(*hub_));
  EXPECT_EQ(metrics.value("courier_leafnodes"), 0);
  EXPECT_EQ(metrics.value("courier_leafnode_connections_closed_total{reason=\"Slow Consumer (Write Deadline)\"}"), 1);
  EXPECT_EQ(metrics.find("courier_connections_closed_total{reason=\"Slow Consumer (Write Deadline)\"}"), std::nullopt);
  // The publisher was stalled, never cut off.
  EXPECT_EQ(natsConnection_FlushTimeout(on_hub.get(), 20000), NATS_OK);

  ASSERT_EQ(::kill(edge_.pid(), SIGCONT), 0);
  EXPECT_TRUE(eventually([&] { return hub_->leafs()->count() == 1; })) << "the edge did not come back;\n" << edge_log();
}

TEST_F(courier_hub, queue_group_spanning_hub_and_leaf_delivers_each_message_once) {
  start_hub("leafnodes { host: \"127.0.0.1\", port: -1 }\n");
  ASSERT_TRUE(start_edge(""));
  ASSERT_TRUE(eventually([&] { return hub_->leafs()->count() == 1; })) << edge_log();
  auto on_hub = connect_to(hub_url());
  auto on_edge = connect_to(edge_.url());
  ASSERT_TRUE(on_hub && on_edge);
  auto hub_member = subscribe_and_flush(on_hub.get(), "jobs", "q");
  auto edge_member = subscribe_and_flush(on_edge.get(), "jobs", "q");
  // Wait until the hub lists the edge's queue interest.
  ASSERT_TRUE(eventually([&] {
    auto leafs = hub_->leafs()->snapshot();
    if (leafs.empty()) return false;
    for (const auto& sub : leafs[0].subscriptions) {
      if (sub == "jobs q") return true;
    }
    return false;
  }));
  constexpr int count = 60;
  for (int i = 0; i < count; ++i) {
    const std::string id = std::to_string(i);
    natsConnection_PublishString(i % 2 ? on_hub.get() : on_edge.get(), "jobs", id.c_str());
  }
  natsConnection_Flush(on_hub.get());
  natsConnection_Flush(on_edge.get());
  std::multiset<std::string> seen;
  ASSERT_TRUE(eventually([&] {
    natsMsg* raw = nullptr;
    for (auto* sub : {hub_member.get(), edge_member.get()}) {
      while (natsSubscription_NextMsg(&raw, sub, 10) == NATS_OK) {
        seen.insert(std::string(natsMsg_GetData(raw), natsMsg_GetDataLength(raw)));
        natsMsg_Destroy(raw);
      }
    }
    return seen.size() >= static_cast<std::size_t>(count);
  }));
  natsConnection_Flush(on_hub.get());
  natsConnection_Flush(on_edge.get());
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(count));
  for (const auto& id : seen) EXPECT_EQ(seen.count(id), 1u) << id;
}

TEST_F(courier_hub, bad_credentials_are_refused_good_ones_bind_the_account) {
  start_hub(
      "accounts {\n  APP { users = [ { user: app, password: apppass } ] }\n"
      "  OTHER { users = [ { user: other, password: otherpass } ] }\n}\n"
      "leafnodes {\n  host: \"127.0.0.1\"\n  port: -1\n"
      "  authorization { users = [ { user: edge, password: s3cret, account: APP } ] }\n}\n");
  ASSERT_TRUE(start_edge("edge:wrong@"));
  // nats-server's leaf logs the hub's -ERR and keeps retrying; the hub never sets it up.
  ASSERT_TRUE(eventually([&] { return edge_log().find("Authorization Violation") != std::string::npos; }))
      << edge_log();
  EXPECT_EQ(hub_->leafs()->count(), 0u);
  edge_.stop(SIGKILL);

  ASSERT_TRUE(start_edge("edge:s3cret@"));
  ASSERT_TRUE(eventually([&] { return hub_->leafs()->count() == 1; })) << edge_log();
  EXPECT_EQ(hub_->leafs()->snapshot().at(0).account, "APP");
  // The edge's $G is bound to the hub's APP: an APP client sees its messages.
  auto app = connect_to("nats://app:apppass@127.0.0.1:" + std::to_string(hub_->port()));
  auto on_edge = connect_to(edge_.url());
  ASSERT_TRUE(app && on_edge);
  auto app_sub = subscribe_and_flush(app.get(), "bound.>");
  ASSERT_TRUE(crosses(on_edge.get(), "bound.x", app_sub.get()));
  // And the edge sees APP's subjects only: what a client of another account
  // publishes on the same subject stays in that account.
  auto other = connect_to("nats://other:otherpass@127.0.0.1:" + std::to_string(hub_->port()));
  ASSERT_TRUE(other);
  auto edge_sub = subscribe_and_flush(on_edge.get(), "down.>");
  ASSERT_TRUE(crosses(app.get(), "down.probe", edge_sub.get()));
  ASSERT_EQ(natsConnection_PublishString(other.get(), "down.other", "not for the leaf"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(other.get()), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(app.get(), "down.app", "for the leaf"), NATS_OK);
  ASSERT_EQ(natsConnection_Flush(app.get()), NATS_OK);
  natsMsg* raw = nullptr;
  std::vector<std::string> subjects;
  while (natsSubscription_NextMsg(&raw, edge_sub.get(), 20000) == NATS_OK) {
    message_ptr msg(raw);
    subjects.push_back(natsMsg_GetSubject(raw));
    if (subjects.back() == "down.app") break;
  }
  ASSERT_FALSE(subjects.empty());
  EXPECT_EQ(subjects.back(), "down.app");
  for (const auto& subject : subjects) EXPECT_NE(subject, "down.other");
}

TEST(leaf_loop, a_leaf_connected_to_courier_and_to_courier_s_hub_is_told_of_the_loop) {
  // hub (nats-server) <- Courier <- edge (nats-server) -> hub: a cycle. The
  // loop subjects ($LDS.) travel round it; nats-server's edge must hear of
  // the loop (its own detection, or Courier's -ERR) and log it.
  hub_cluster hub(1);
  ASSERT_TRUE(hub.start());
  conf::server_options options;
  conf::load_config_string("leafnodes {\n  host: \"127.0.0.1\"\n  port: -1\n  remotes = [ { url: \"" +
                               hub.leaf_url(0) + "\" } ]\n}\n",
                           options);
  options.host = "127.0.0.1";
  options.port = 0;
  broker::server courier(options);
  courier.start();
  ASSERT_TRUE(eventually([&] { return courier.leafs()->count() == 1; }));

  const auto dir = std::filesystem::temp_directory_path() / ("courier-leaf-loop-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "edge.conf") << "server_name: edge\nleafnodes { remotes = [ { url: \"nats-leaf://127.0.0.1:"
                                   << courier.leafs()->port() << "\" }, { url: \"" << hub.leaf_url(0) << "\" } ] }\n";
  mss::test::broker_process edge;
  bool started = false;
  for (int attempt = 0; attempt < 5 && !started; ++attempt) {
    started = edge.start(mss::test::nats_server_binary(), {"-c", (dir / "edge.conf").string()}, 0,
                         (dir / "edge.log").string());
  }
  ASSERT_TRUE(started);
  auto edge_log = [&] {
    std::ifstream in(dir / "edge.log");
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  };
  EXPECT_TRUE(eventually([&] { return edge_log().find("Loop detected for leafnode account=") != std::string::npos; }))
      << edge_log();
  edge.stop(SIGKILL);
  courier.shutdown();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace courier::leaf_test
