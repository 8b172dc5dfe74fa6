// In-process clients follow the client protocol's rules: authenticated as a
// configured user they are confined exactly like a TCP client with that
// user (issue 14). What a TCP client sees as -ERR, an in-process publish or
// subscribe sees as a permission_violation carrying the same text.
#include "broker/in_process.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <istream>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "broker/server.hpp"
#include "conf/config_loader.hpp"

namespace courier::broker {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

constexpr const char* users_config = R"(
authorization {
  users = [
    { user: app, password: a, permissions: { publish: { deny: ["secret.>"] }, subscribe: { deny: ["hidden.>"] } } }
    { user: spy, password: s }
  ]
}
)";

/// A raw protocol client over a blocking socket.
class line_client {
 public:
  explicit line_client(std::uint16_t port) : socket_(context_) {
    socket_.connect({asio::ip::make_address("127.0.0.1"), port});
    read_line();  // INFO
  }
  void send(const std::string& bytes) { asio::write(socket_, asio::buffer(bytes)); }
  std::string read_line() {
    // The server's own keepalive PING (its first comes a second or two after
    // CONNECT, mid-exchange on a slow machine) is answered as a client would.
    for (;;) {
      asio::read_until(socket_, buffer_, "\r\n");
      std::istream in(&buffer_);
      std::string line;
      std::getline(in, line);
      if (line == "PING\r") {
        send("PONG\r\n");
        continue;
      }
      return line + "\n";
    }
  }

 private:
  asio::io_context context_;
  asio::ip::tcp::socket socket_;
  asio::streambuf buffer_;
};

class in_process_permissions : public ::testing::Test {
 protected:
  void SetUp() override {
    conf::server_options options;
    conf::load_config_string(users_config, options);
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 1;
    server_ = std::make_unique<server>(options);
    server_->start();
  }
  void TearDown() override { server_->shutdown(); }

  /// A TCP client logged in as `user`, verbose off, synced.
  std::unique_ptr<line_client> login(const std::string& user, const std::string& password) {
    auto client = std::make_unique<line_client>(server_->port());
    client->send("CONNECT {\"verbose\":false,\"user\":\"" + user + "\",\"pass\":\"" + password + "\"}\r\nPING\r\n");
    EXPECT_EQ(client->read_line(), "PONG\r\n");
    return client;
  }

  std::unique_ptr<server> server_;
};

TEST_F(in_process_permissions, publish_denied_like_a_tcp_client) {
  auto spy = login("spy", "s");
  spy->send("SUB secret.> 1\r\nSUB public.> 2\r\nPING\r\n");
  ASSERT_EQ(spy->read_line(), "PONG\r\n");

  // The TCP client with the same user gets the -ERR, and the message is not routed.
  auto tcp_app = login("app", "a");
  tcp_app->send("PUB secret.x 2\r\nhi\r\nPING\r\n");
  EXPECT_EQ(tcp_app->read_line(), "-ERR 'Permissions Violation for Publish to \"secret.x\"'\r\n");
  EXPECT_EQ(tcp_app->read_line(), "PONG\r\n");

  // The in-process client as the same user: the same text, as an exception.
  auto app = server_->connect({.name = "embedded", .user = "app", .password = "a"});
  EXPECT_EQ(app->user(), "app");
  try {
    app->publish("secret.x", "hi");
    FAIL() << "publish to secret.x was allowed";
  } catch (const permission_violation& refused) {
    EXPECT_STREQ(refused.what(), "Permissions Violation for Publish to \"secret.x\"");
  }
  EXPECT_FALSE(app->closed());  // stays open, as the TCP client does
  EXPECT_TRUE(app->publish("public.x", "ok"));

  // The spy sees only the allowed message: nothing on secret.> came first.
  EXPECT_EQ(spy->read_line(), "MSG public.x 2 2\r\n");
  EXPECT_EQ(spy->read_line(), "ok\r\n");
  app->close();
}

TEST_F(in_process_permissions, subscribe_denied_and_wildcard_deliveries_filtered) {
  auto app = server_->connect({.name = "embedded", .user = "app", .password = "a"});
  try {
    app->subscribe("hidden.x", [](const message&) {});
    FAIL() << "subscribe to hidden.x was allowed";
  } catch (const permission_violation& refused) {
    EXPECT_STREQ(refused.what(), "Permissions Violation for Subscription to \"hidden.x\"");
  }
  // A wildcard reaching past the deny: the denied subject is filtered on delivery.
  std::atomic<int> hidden{0};
  std::atomic<int> shown{0};
  app->subscribe(">", [&](const message& m) { (m.subject.rfind("hidden.", 0) == 0 ? hidden : shown)++; });
  auto spy = server_->connect({.user = "spy", .password = "s"});
  spy->publish("hidden.x", "no");
  spy->publish("shown.x", "yes");
  ASSERT_TRUE(app->flush(5s));
  EXPECT_EQ(hidden.load(), 0);
  EXPECT_EQ(shown.load(), 1);
  app->close();
  spy->close();
}

TEST_F(in_process_permissions, wrong_password_is_refused_and_no_user_stays_unrestricted) {
  EXPECT_THROW(server_->connect({.user = "app", .password = "wrong"}), std::invalid_argument);
  auto own = server_->connect();  // the application's own connection: no user, no limits
  EXPECT_NO_THROW(own->publish("secret.x", "fine"));
  own->close();
  EXPECT_EQ(own->close_reason(), close_reason::client_closed);
}

TEST_F(in_process_permissions, max_payload_applies) {
  auto own = server_->connect();
  const std::string too_big(static_cast<std::size_t>(server_->options().max_payload) + 1, 'x');
  EXPECT_THROW(own->publish("big", too_big), std::length_error);
  own->close();
}

}  // namespace
}  // namespace courier::broker
