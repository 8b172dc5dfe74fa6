// /leafz and the leaf fields of /varz, compared field by field with what
// nats-server 2.9.10 prints for the same layout (a nats-server leaf of a
// Courier hub; Courier as a leaf of a nats-server).
#include "monitor/endpoints.hpp"

#include <gtest/gtest.h>

#include <picojson.h>

#include <filesystem>
#include <fstream>

#include "broker/leaf/leaf_nodes.hpp"
#include "broker/server.hpp"
#include "conf/config_loader.hpp"
#include "hub_cluster.hpp"
#include "libnats_helpers.hpp"

namespace courier::leaf_test {
namespace {

picojson::object json_of(const std::string& body) {
  picojson::value value;
  const std::string error = picojson::parse(value, body);
  EXPECT_TRUE(error.empty()) << error << "\n" << body;
  return value.is<picojson::object>() ? value.get<picojson::object>() : picojson::object{};
}

struct monitoring {
  explicit monitoring(broker::server& s) : context{s, facts, counts} {}
  picojson::object get(const std::string& target) {
    const auto path = target.substr(0, target.find('?'));
    const monitor::query_params query(target);
    const auto reply = path == "/varz"       ? monitor::varz(context, query)
                       : path == "/accountz" ? monitor::accountz(context, query)
                       : path == "/accstatz" ? monitor::accstatz(context, query)
                                             : monitor::leafz(context, query);
    EXPECT_EQ(reply.status, 200u) << reply.body;
    return json_of(reply.body);
  }
  monitor::listener_facts facts;
  monitor::request_counts counts;
  monitor::endpoint_context context;
};

TEST(leaf_monitoring, hub_lists_its_leaf_as_nats_server_does) {
  conf::server_options options;
  conf::load_config_string("leafnodes { host: \"127.0.0.1\", port: -1 }\n", options);
  options.host = "127.0.0.1";
  options.port = 0;
  broker::server hub(options);
  hub.start();
  ASSERT_NE(hub.leafs(), nullptr);
  monitoring mon(hub);

  auto empty = mon.get("/leafz");
  EXPECT_EQ(empty["leafnodes"].get<std::int64_t>(), 0);
  EXPECT_TRUE(empty["leafs"].is<picojson::null>());
  auto varz = mon.get("/varz");
  auto leaf = varz["leaf"].get<picojson::object>();
  EXPECT_EQ(leaf["host"].get<std::string>(), "127.0.0.1");
  EXPECT_EQ(leaf["port"].get<std::int64_t>(), hub.leafs()->port());
  EXPECT_EQ(leaf["auth_timeout"].get<double>(), 2.0);
  EXPECT_FALSE(leaf.count("remotes"));

  const auto dir = std::filesystem::temp_directory_path() / ("courier-leafz-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "edge.conf") << "server_name: edge\nleafnodes { remotes = [ { url: \"nats-leaf://127.0.0.1:"
                                   << hub.leafs()->port() << "\" } ] }\n";
  mss::test::broker_process edge;
  bool started = false;  // retried: a free port may be taken before nats-server binds it
  for (int attempt = 0; attempt < 5 && !started; ++attempt) {
    started = edge.start(mss::test::nats_server_binary(), {"-c", (dir / "edge.conf").string()});
  }
  ASSERT_TRUE(started);
  auto client = connect_to(edge.url());
  ASSERT_TRUE(client);
  auto sub = subscribe_sync(client.get(), "monitored.subject", "grp");
  natsConnection_Flush(client.get());
  ASSERT_TRUE(eventually([&] {
    auto doc = mon.get("/leafz?subs=1");
    if (doc["leafnodes"].get<std::int64_t>() != 1) return false;
    const auto& entry = doc["leafs"].get<picojson::array>().at(0).get<picojson::object>();
    if (!entry.count("subscriptions_list")) return false;
    for (const auto& s : entry.at("subscriptions_list").get<picojson::array>()) {
      if (s.get<std::string>() == "monitored.subject") return true;
    }
    return false;
  }));
  auto doc = mon.get("/leafz?subs=1");
  const auto& entry = doc["leafs"].get<picojson::array>().at(0).get<picojson::object>();
  // nats-server 2.9.10's LeafInfo fields.
  for (const char* key : {"account", "ip", "port", "rtt", "in_msgs", "out_msgs", "in_bytes", "out_bytes",
                          "subscriptions", "subscriptions_list"}) {
    EXPECT_TRUE(entry.count(key)) << key;
  }
  EXPECT_EQ(entry.at("account").get<std::string>(), "$G");
  EXPECT_EQ(entry.at("ip").get<std::string>(), "127.0.0.1");
  EXPECT_EQ(mon.get("/varz")["leafnodes"].get<std::int64_t>(), 1);
  EXPECT_EQ(mon.get("/leafz?acc=OTHER")["leafnodes"].get<std::int64_t>(), 0);
  // The account's leaf connections, counted apart from its clients (none
  // here) as nats-server's AccountStat and AccountInfo count them.
  auto detail = mon.get("/accountz?acc=$G")["account_detail"].get<picojson::object>();
  EXPECT_EQ(detail["leafnode_connections"].get<std::int64_t>(), 1);
  EXPECT_EQ(detail["client_connections"].get<std::int64_t>(), 0);
  auto statz = mon.get("/accstatz?unused=1")["account_statz"].get<picojson::array>();
  bool found = false;
  for (const auto& a : statz) {
    const auto& o = a.get<picojson::object>();
    if (o.at("acc").get<std::string>() != "$G") continue;
    found = true;
    EXPECT_EQ(o.at("conns").get<std::int64_t>(), 0);
    EXPECT_EQ(o.at("leafnodes").get<std::int64_t>(), 1);
    EXPECT_EQ(o.at("total_conns").get<std::int64_t>(), 1);
  }
  EXPECT_TRUE(found) << picojson::value(statz).serialize();
  edge.stop(SIGKILL);
  hub.shutdown();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

TEST(leaf_monitoring, varz_lists_remotes_without_credentials) {
  conf::server_options options;
  conf::load_config_string(
      "leafnodes { remotes = [ { url: \"nats-leaf://u:p@127.0.0.1:1\" }, "
      "{ urls: [\"nats://127.0.0.1:2\"], account: \"$G\" } ] }\n",
      options);
  options.port = -1;
  broker::server leaf(options);
  monitoring mon(leaf);
  // As nats-server 2.9.10 prints it for this block (checked by hand):
  // {"remotes": [{"urls": ["127.0.0.1:1"]}, {"local_account": "$G", "urls": ["127.0.0.1:2"]}]}
  auto varz = mon.get("/varz");
  EXPECT_EQ(varz["leaf"].serialize(),
            R"({"remotes":[{"urls":["127.0.0.1:1"]},{"local_account":"$G","urls":["127.0.0.1:2"]}]})");
}

}  // namespace
}  // namespace courier::leaf_test
