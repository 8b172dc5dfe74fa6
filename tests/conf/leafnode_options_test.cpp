// The leafnodes block: URLs, remotes, the listener, authorization, and what
// is refused rather than ignored.
#include "conf/leafnode_options.hpp"

#include <gtest/gtest.h>

#include "conf/config_loader.hpp"

namespace courier::conf {
namespace {

leafnode_settings parse(const std::string& text) {
  server_options options;
  load_config_string(text, options);
  return parse_leafnodes(options.leafnodes);
}

TEST(leafnode_options, urls) {
  auto url = parse_leafnode_url("nats-leaf://user:pa:ss@hub.example:7500");
  EXPECT_EQ(url.host, "hub.example");
  EXPECT_EQ(url.port, 7500);
  EXPECT_EQ(url.user, "user");
  EXPECT_EQ(url.password, "pa:ss");
  EXPECT_FALSE(url.tls);
  EXPECT_EQ(url.address(), "hub.example:7500");
  EXPECT_EQ(parse_leafnode_url("nats://10.0.0.1").port, 7422);
  EXPECT_TRUE(parse_leafnode_url("tls://h:1").tls);
  EXPECT_EQ(parse_leafnode_url("nats-leaf://[::1]:7422").host, "::1");
  for (const char* bad : {"hub:7422", "http://hub:7422", "nats-leaf://:7422", "nats-leaf://h:99999", "nats-leaf://h:x"}) {
    EXPECT_THROW(parse_leafnode_url(bad), std::invalid_argument) << bad;
  }
}

TEST(leafnode_options, remotes_and_reconnect) {
  auto settings = parse(
      "leafnodes {\n  reconnect: 3\n  remotes = [\n"
      "    { url: \"nats-leaf://a:1\" }\n"
      "    { urls: [\"nats://b:2\", \"nats://c:3\"], account: APP }\n  ]\n}\n"
      "accounts { APP {} }\n");
  EXPECT_EQ(settings.reconnect, std::chrono::seconds(3));
  ASSERT_EQ(settings.remotes.size(), 2u);
  EXPECT_EQ(settings.remotes[0].urls.size(), 1u);
  EXPECT_TRUE(settings.remotes[0].account.empty());
  EXPECT_EQ(settings.remotes[1].urls.size(), 2u);
  EXPECT_EQ(settings.remotes[1].account, "APP");
  EXPECT_EQ(settings.port, 0);
  EXPECT_EQ(parse("leafnodes { reconnect: \"250ms\", remotes: [ { url: \"nats://a\" } ] }").reconnect,
            std::chrono::milliseconds(250));
  EXPECT_EQ(parse("leafnodes {}").reconnect, std::chrono::seconds(1));  // nats-server's default
}

TEST(leafnode_options, listener_and_authorization) {
  auto settings = parse(
      "leafnodes {\n  listen: \"127.0.0.1:7422\"\n  advertise: \"gw:7422\"\n"
      "  authorization { user: a, password: b, account: X, timeout: 3,\n"
      "    users = [ { user: c, password: d } ] }\n}\n");
  EXPECT_EQ(settings.host, "127.0.0.1");
  EXPECT_EQ(settings.port, 7422);
  EXPECT_EQ(settings.advertise, "gw:7422");
  ASSERT_EQ(settings.users.size(), 2u);
  EXPECT_EQ(settings.users[0].user, "a");
  EXPECT_EQ(settings.users[0].account, "X");
  EXPECT_EQ(settings.users[1].user, "c");
  EXPECT_EQ(settings.auth_timeout, std::chrono::seconds(3));
}

TEST(leafnode_options, deny_imports_and_exports) {
  const auto settings = parse("leafnodes { remotes = [ { url: \"nats://a\", deny_imports: [\"secret.>\", \"x.*\"], "
                              "deny_exports: \"private.*\" } ] }");
  ASSERT_EQ(settings.remotes.size(), 1u);
  EXPECT_EQ(settings.remotes[0].deny_imports, (std::vector<std::string>{"secret.>", "x.*"}));
  EXPECT_EQ(settings.remotes[0].deny_exports, (std::vector<std::string>{"private.*"}));
  server_options bad;
  EXPECT_THROW(load_config_string("leafnodes { remotes = [ { url: \"nats://a\", deny_exports: [\"a..b\"] } ] }", bad),
               config_error);
}

TEST(leafnode_options, what_is_not_implemented_is_a_config_error) {
  for (const char* text : {
           "leafnodes { remotes = [ { url: \"nats://a\", hub: true } ] }",
           "leafnodes { remotes = [ { account: A } ] }",
           "leafnodes { compression: on }",
           "leafnodes { remotes = [ { url: \"ws://a\" } ] }",
       }) {
    server_options options;
    EXPECT_THROW(load_config_string(text, options), config_error) << text;
  }
}

}  // namespace
}  // namespace courier::conf
