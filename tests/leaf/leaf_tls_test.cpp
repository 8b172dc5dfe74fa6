// Leafnode connections over TLS, against real nats-server 2.9.10 processes:
// Courier as the leaf of a hub whose leafnode port requires TLS (the hub's
// INFO in clear, then the handshake, as 2.9.10 does), with the hub's
// certificate checked against the remote's ca_file; and a certificate the
// remote cannot verify is refused. Certificates come from a throw-away CA
// made with the openssl CLI (tests/test_pki.hpp).
#include "broker/leaf/leaf_nodes.hpp"

#include <gtest/gtest.h>

#include <nats/nats.h>

#include <string>

#include "broker/server.hpp"
#include "conf/config_loader.hpp"
#include "hub_cluster.hpp"
#include "libnats_helpers.hpp"
#include "tests/test_pki.hpp"

namespace courier::leaf_test {
namespace {

/// An embedded Courier, leaf of `leaf_url` with `tls` as its remote's tls block.
std::unique_ptr<broker::server> start_leaf(const std::string& leaf_url, const std::string& tls) {
  conf::server_options options;
  conf::load_config_string("server_name: courier_leaf\nleafnodes {\n  reconnect: 1\n  remotes = [ { url: \"" +
                               leaf_url + "\", tls { " + tls + " } } ]\n}\n",
                           options);
  options.host = "127.0.0.1";
  options.port = 0;
  auto courier = std::make_unique<broker::server>(options);
  courier->start();
  return courier;
}

class leaf_over_tls : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki_.ok()) << pki_.log_text();
    hub_ = std::make_unique<hub_cluster>(
        1, "", "  tls { cert_file: \"" + pki_.cert("server") + "\", key_file: \"" + pki_.key("server") + "\" }\n");
    ASSERT_TRUE(hub_->start());
  }

  void TearDown() override {
    if (courier_) courier_->shutdown();
  }

  /// Starts Courier as a leaf of the hub with `tls` as its remote's tls block.
  void start_courier(const std::string& tls) {
    courier_ = start_leaf(hub_->leaf_url(0), tls);
    ASSERT_NE(courier_->leafs(), nullptr);
  }

  std::string courier_url() const { return "nats://127.0.0.1:" + std::to_string(courier_->port()); }

  test::test_pki pki_;
  std::unique_ptr<hub_cluster> hub_;
  std::unique_ptr<broker::server> courier_;
};

TEST_F(leaf_over_tls, courier_leaf_exchanges_messages_with_a_tls_hub) {
  start_courier("ca_file: \"" + pki_.ca() + "\", timeout: 5");
  ASSERT_TRUE(eventually([&] { return courier_->leafs()->count() == 1 && hub_->member_with_leaf() == 0; }))
      << "Courier did not connect over TLS; hub log:\n" << hub_->log(0);
  auto leaf_side = connect_to(courier_url());
  auto hub_side = connect_to(hub_->client_url(0));
  ASSERT_TRUE(leaf_side && hub_side);
  auto down = subscribe_sync(leaf_side.get(), "down.>");
  auto up = subscribe_sync(hub_side.get(), "up.*");
  natsConnection_Flush(leaf_side.get());
  natsConnection_Flush(hub_side.get());
  ASSERT_TRUE(until_delivered(hub_side.get(), "down.probe", down.get()));
  ASSERT_TRUE(until_delivered(leaf_side.get(), "up.probe", up.get()));
  // A payload of many TLS records, each way.
  const std::string big(200 * 1024, 'b');
  ASSERT_EQ(natsConnection_Publish(hub_side.get(), "down.big", big.data(), static_cast<int>(big.size())), NATS_OK);
  ASSERT_EQ(natsConnection_Publish(leaf_side.get(), "up.big", big.data(), static_cast<int>(big.size())), NATS_OK);
  auto got_down = next_on(down.get(), "down.big");
  auto got_up = next_on(up.get(), "up.big");
  ASSERT_TRUE(got_down && got_up);
  EXPECT_EQ(data_of(got_down.get()), big);
  EXPECT_EQ(data_of(got_up.get()), big);
}

TEST_F(leaf_over_tls, hub_certificate_the_remote_cannot_verify_is_refused) {
  // No ca_file: the system roots, which do not know the test CA.
  start_courier("timeout: 5");
  ASSERT_TRUE(eventually([&] { return hub_->log(0).find("TLS leafnode handshake error") != std::string::npos; }))
      << "the hub saw no failed handshake; its log:\n" << hub_->log(0);
  EXPECT_EQ(courier_->leafs()->count(), 0u);
  EXPECT_EQ(hub_->member_with_leaf(), -1);
}

// A hub that asks leaves for a certificate (leafnodes tls verify: true):
// Courier's remote gives its cert_file/key_file in the handshake and gets in;
// a remote without one is refused in the handshake.
TEST(leaf_tls_verify, the_hub_asks_for_a_client_certificate) {
  test::test_pki pki;
  ASSERT_TRUE(pki.ok() && pki.add_client("edge", "/O=Courier Tests/CN=edge")) << pki.log_text();
  hub_cluster hub(1, "", "  tls { " + pki.server_files() + ", verify: true, timeout: 5 }\n");
  ASSERT_TRUE(hub.start());
  auto without = start_leaf(hub.leaf_url(0), "ca_file: \"" + pki.ca() + "\", timeout: 5");
  ASSERT_TRUE(eventually([&] { return hub.log(0).find("TLS leafnode handshake error") != std::string::npos; }))
      << "the hub let a leaf in without a certificate; its log:\n" << hub.log(0);
  EXPECT_EQ(hub.member_with_leaf(), -1);
  without->shutdown();

  auto with = start_leaf(hub.leaf_url(0), "ca_file: \"" + pki.ca() + "\", cert_file: \"" + pki.cert("edge") +
                                              "\", key_file: \"" + pki.key("edge") + "\", timeout: 5");
  ASSERT_TRUE(eventually([&] { return with->leafs()->count() == 1 && hub.member_with_leaf() == 0; }))
      << "Courier did not get in with its certificate; hub log:\n" << hub.log(0);
  auto leaf_side = connect_to("nats://127.0.0.1:" + std::to_string(with->port()));
  auto hub_side = connect_to(hub.client_url(0));
  ASSERT_TRUE(leaf_side && hub_side);
  auto up = subscribe_sync(hub_side.get(), "up.>");
  natsConnection_Flush(hub_side.get());
  EXPECT_TRUE(until_delivered(leaf_side.get(), "up.probe", up.get()));
  with->shutdown();
}

// A TLS file that does not load stops the server's construction, which is
// what `courier -t` runs: for the listener and for a remote alike.
TEST(leaf_tls_config, a_file_that_does_not_load_is_an_error_before_start) {
  test::test_pki pki;
  ASSERT_TRUE(pki.ok()) << pki.log_text();
  const std::string missing = pki.ca() + ".missing";
  for (const std::string& config :
       {"leafnodes { port: -1, tls { cert_file: \"" + missing + "\", key_file: \"" + pki.key("server") + "\" } }\n",
        "leafnodes { remotes = [ { url: \"nats-leaf://127.0.0.1:1\", tls { ca_file: \"" + missing + "\" } } ] }\n",
        "leafnodes { remotes = [ { url: \"tls://127.0.0.1:1\", tls { cert_file: \"" + pki.cert("server") +
            "\", key_file: \"" + missing + "\" } } ] }\n"}) {
    conf::server_options options;
    conf::load_config_string(config, options);
    options.host = "127.0.0.1";
    options.port = 0;
    EXPECT_ANY_THROW(broker::server server(options)) << config;
  }
}

}  // namespace
}  // namespace courier::leaf_test
