// The websocket {} block: nats-server 2.9.10's keys, defaults and start-up errors.
#include "conf/config_loader.hpp"

#include <gtest/gtest.h>

#include "conf/options.hpp"

namespace courier::conf {
namespace {

server_options load_websocket_config(const std::string& text) {
  server_options options;
  load_config_string(text, options, "test.conf", ".");
  return options;
}

std::string websocket_config_error(const std::string& text) {
  try {
    load_websocket_config(text);
  } catch (const config_error& error) {
    return error.what();
  }
  return "(no error)";
}

TEST(WebsocketOptions, KeysAndDefaults) {
  EXPECT_FALSE(load_websocket_config("").websocket.enabled());
  const auto options = load_websocket_config(R"(ws {
  listen: "127.0.0.1:8080"
  no_tls: true
  compression: true
  same_origin: true
  allowed_origins: ["https://a.example.com", "http://b.example.com:81"]
  handshake_timeout: "3s"
  authorization { user: u, password: p, timeout: 1.5 }
  no_auth_user: ""
})");
  const websocket_options& ws = options.websocket;
  EXPECT_TRUE(ws.enabled());
  EXPECT_EQ(ws.host, "127.0.0.1");
  EXPECT_EQ(ws.port, 8080);
  EXPECT_TRUE(ws.no_tls);
  EXPECT_TRUE(ws.compression);
  EXPECT_TRUE(ws.same_origin);
  EXPECT_EQ(ws.allowed_origins.size(), 2u);
  EXPECT_EQ(ws.handshake_timeout, std::chrono::seconds(3));
  EXPECT_EQ(ws.username, "u");
  EXPECT_EQ(ws.password, "p");
  EXPECT_DOUBLE_EQ(ws.auth_timeout_seconds, 1.5);
  EXPECT_TRUE(ws.auth_override());
  EXPECT_EQ(load_websocket_config("websocket { port: 1, no_tls: true, handshake_timeout: 2 }").websocket.handshake_timeout,
            std::chrono::seconds(2));
}

TEST(WebsocketOptions, StartUpErrorsAsNatsServer) {
  EXPECT_EQ(websocket_config_error("websocket { port: 8080 }"), "websocket requires TLS configuration");
  EXPECT_EQ(websocket_config_error("websocket { no_tls: false }"), "(no error)");  // off: nothing checked
  EXPECT_EQ(websocket_config_error("authorization { users = [{user: a, password: b}] }\n"
                     "websocket { port: 8080, no_tls: true, authorization { user: x, password: y } }"),
            "websocket authentication username not compatible with presence of users/nkeys");
  EXPECT_EQ(websocket_config_error("authorization { users = [{user: a, password: b}] }\n"
                     "websocket { port: 8080, no_tls: true, authorization { token: t } }"),
            "websocket authentication token not compatible with presence of users/nkeys");
  EXPECT_NE(websocket_config_error("websocket {\n  port: 8080\n  no_tls: true\n  foo: 1\n}").find("unknown field \"foo\""),
            std::string::npos);
  EXPECT_NE(websocket_config_error("websocket {\n  port: 8080\n  no_tls: true\n  handshake_timeout: \"zz\"\n}")
                .find("time: invalid duration \"zz\""),
            std::string::npos);
}

}  // namespace
}  // namespace courier::conf
