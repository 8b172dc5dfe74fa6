// Stock npm `nats` clients (nats.js over TCP, in Node) on both sides of a
// leafnode connection, Courier embedded as the leaf of a three-member
// nats-server 2.9.10 cluster (tests/leaf/npm_clients.hpp runs the checks;
// the reverse, Courier as the hub, is in leaf_hub_test.cpp).
#include "broker/leaf/leaf_nodes.hpp"

#include <gtest/gtest.h>

#include <string>

#include "broker/server.hpp"
#include "conf/config_loader.hpp"
#include "hub_cluster.hpp"
#include "npm_clients.hpp"

namespace courier::leaf_test {
namespace {

TEST(leaf_npm_clients, nats_js_on_both_sides_of_a_courier_leaf) {
  hub_cluster hub(3);
  ASSERT_TRUE(hub.start());
  std::string urls;
  for (std::size_t i = 0; i < hub.size(); ++i) urls += (i ? ", \"" : "\"") + hub.leaf_url(i) + "\"";
  conf::server_options options;
  conf::load_config_string(
      "server_name: courier_leaf\nleafnodes {\n  reconnect: 1\n  remotes = [ { urls: [" + urls + "] } ]\n}\n", options);
  options.host = "127.0.0.1";
  options.port = 0;
  broker::server courier(options);
  courier.start();
  ASSERT_TRUE(eventually([&] { return courier.leafs()->count() == 1 && hub.member_with_leaf() >= 0; }));
  // The hub-side clients use a member the leaf is not connected to, and the
  // hub-side queue member another one, so messages also cross routes.
  const auto leaf_member = static_cast<std::size_t>(hub.member_with_leaf());
  const std::size_t other = (leaf_member + 1) % hub.size();
  const std::size_t third = (leaf_member + 2) % hub.size();

  run_npm_clients("nats://127.0.0.1:" + std::to_string(courier.port()), hub.client_url(other), hub.client_url(third));
  courier.shutdown();
}

}  // namespace
}  // namespace courier::leaf_test
