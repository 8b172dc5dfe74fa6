// The TCP bus learns a cluster's members from the server it is connected to
// (INFO connect_urls), as stock clients do: given one member's URL only, it
// fails over to the others when that member dies. Against a real 3-node
// nats-server 2.9.10 cluster on loopback.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include "../leaf/hub_cluster.hpp"
#include "client/tcp_bus.hpp"
#include "logged_bus.hpp"

namespace courier::mss {
namespace {

using namespace std::chrono_literals;

/// Generous: CI is a busy 2-core machine running sanitizer builds.
constexpr auto patience = 60s;

using test::logged_bus;

TEST(TcpBusDiscovery, OneMembersUrlIsEnoughToFailOverToTheOthers) {
  leaf_test::hub_cluster cluster(3);
  ASSERT_TRUE(cluster.start());

  tcp_bus_options options;
  options.urls = cluster.client_url(0);
  logged_bus subscriber(options);
  ASSERT_TRUE(subscriber->wait_connected(patience)) << subscriber.text();
  // Member 0 announces the other two (and itself, which is known).
  for (std::size_t i : {1u, 2u}) {
    EXPECT_TRUE(leaf_test::eventually([&] { return subscriber.logged_exactly("discovered server " + cluster.client_url(i)); },
                                      patience))
        << subscriber.text();
  }
  EXPECT_EQ(subscriber.count_starting("discovered server "), 2u) << subscriber.text();

  std::atomic<int> received{0};
  subscriber->subscribe("disc.x", {}, [&](bus_message message) {
    if (message.payload == "after") ++received;
  });
  ASSERT_TRUE(subscriber->flush(patience));

  // Member 0 goes: the bus can only reach 1 or 2 through what it learned.
  cluster.kill(0);
  ASSERT_TRUE(leaf_test::eventually(
      [&] { return subscriber->connections() >= 2 && subscriber->connected(); }, patience))
      << subscriber.text();
  const std::string now = subscriber->describe();
  EXPECT_TRUE(now == cluster.client_url(1) || now == cluster.client_url(2)) << now;

  // Its subscription was made again there: a publisher on member 2 reaches it
  // (publishing until it does: the interest crosses a route first).
  tcp_bus_options publisher_options;
  publisher_options.urls = cluster.client_url(2);
  logged_bus publisher(publisher_options);
  ASSERT_TRUE(publisher->wait_connected(patience));
  EXPECT_TRUE(leaf_test::eventually(
      [&] {
        publisher->publish("disc.x", "after");
        publisher->flush(5s);
        return received.load() > 0;
      },
      patience))
      << subscriber.text();
}

TEST(TcpBusDiscovery, MembersThatLeaveAreDroppedAndTheOptionTurnsItOff) {
  leaf_test::hub_cluster cluster(3);
  ASSERT_TRUE(cluster.start());

  tcp_bus_options options;
  options.urls = cluster.client_url(0);
  logged_bus learning(options);
  options.ignore_discovered_servers = true;
  logged_bus ignoring(options);
  ASSERT_TRUE(learning->wait_connected(patience)) << learning.text();
  ASSERT_TRUE(ignoring->wait_connected(patience)) << ignoring.text();
  ASSERT_TRUE(leaf_test::eventually(
      [&] { return learning.logged_exactly("discovered server " + cluster.client_url(2)); }, patience))
      << learning.text();

  // Member 2 leaves the cluster: member 0 sends its clients an INFO without it.
  cluster.kill(2);
  EXPECT_TRUE(leaf_test::eventually(
      [&] { return learning.logged_exactly("server " + cluster.client_url(2) + " is no longer announced"); }, patience))
      << learning.text();
  EXPECT_FALSE(learning.logged_exactly("server " + cluster.client_url(1) + " is no longer announced")) << learning.text();

  // The bus told to ignore them read the same INFOs (its round trip after
  // them is done) and learned nothing.
  ASSERT_TRUE(ignoring->flush(patience));
  EXPECT_EQ(ignoring.count_starting("discovered server "), 0u) << ignoring.text();
  EXPECT_EQ(ignoring.count_starting("server "), 0u) << ignoring.text();
}

}  // namespace
}  // namespace courier::mss
