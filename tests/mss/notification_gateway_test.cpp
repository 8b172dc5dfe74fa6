// The notification gateway (mss/notify) on an embedded broker, through its
// WebSocket: a real HTTP backend authorizes tokens
// (examples/notifications/auth_backend.py), libnats publishes the
// notifications, a Beast client plays the web app.
#include "mss/notify/gateway.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/time.h>

#include <thread>

#include <boost/asio/read_until.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "broker/server.hpp"
#include "conf/config_loader.hpp"
#include "libnats_client.hpp"
#include "mss/service/runner.hpp"
#include "test_support.hpp"
#include "ws_test_client.hpp"

namespace courier::mss {
namespace {

using test::ws_test_client;

picojson::object options(std::initializer_list<std::pair<const std::string, picojson::value>> fields) {
  return picojson::object(fields);
}

std::string text(const picojson::object& o, const std::string& key) {
  const auto it = o.find(key);
  return it == o.end() ? "<absent>" : it->second.to_str();
}

const picojson::object& object(const picojson::object& o, const std::string& key) {
  static const picojson::object empty;
  const auto it = o.find(key);
  return it != o.end() && it->second.is<picojson::object>() ? it->second.get<picojson::object>() : empty;
}

/// The ids of a list response's notifications, in order.
std::vector<std::int64_t> ids(const picojson::object& response) {
  std::vector<std::int64_t> out;
  const auto& payload = object(response, "payload");
  const auto it = payload.find("notifications");
  if (it == payload.end() || !it->second.is<picojson::array>()) return out;
  for (const auto& n : it->second.get<picojson::array>())
    out.push_back(ws_test_client::integer(n.get<picojson::object>(), "id"));
  return out;
}

/// One raw HTTP request; the status line of the answer.
std::string http_status(std::uint16_t port, const std::string& request) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(socket, boost::asio::buffer(request));
  boost::asio::streambuf buffer;
  boost::system::error_code error;
  boost::asio::read_until(socket, buffer, "\r\n", error);
  std::istream in(&buffer);
  std::string line;
  std::getline(in, line);
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

class NotificationGateway : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_port_ = test::start_server(backend_, "../../examples/notifications/auth_backend.py",
                                       {"--port", "0", "--token", "tok-alice=alice", "--token", "tok-alice2=alice",
                                        "--token", "tok-bob=bob", "--token", "tok-dotted=a.b"});
    ASSERT_GT(backend_port_, 0) << "auth_backend.py did not start";
  }
  void TearDown() override { stop(); }

  /// Starts the broker and the gateway with `extra` keys in its block.
  void start(const std::string& extra = {}) {
    const std::string config = "mss { notifications { listen: \"127.0.0.1:0\", path: \"/notifications\"\n"
                               "  authorize { url: \"http://127.0.0.1:" +
                               std::to_string(backend_port_) + "/authorize\", timeout: \"10s\" }\n" + extra + "\n} }\n";
    conf::server_options o;
    conf::load_config_string(config, o);
    o.host = "127.0.0.1";
    o.port = 0;  // any free port
    server_ = std::make_unique<broker::server>(o);
    server_->start();
    services_ = start_message_services(server_.get(), o);
    ASSERT_NE(services_, nullptr);
    ASSERT_NE(services_->notifications(), nullptr);
    publisher_ = std::make_unique<test::libnats_client>(url());
    ASSERT_TRUE(publisher_->connected());
  }

  void stop() {
    publisher_.reset();
    services_.reset();
    if (server_) server_->shutdown();
    server_.reset();
  }

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(server_->port()); }
  std::uint16_t port() { return services_->notifications()->port(); }

  /// Publishes a notification as a request; returns the gateway's answer.
  picojson::object notify(const std::string& subject, const std::string& type, const std::string& document) {
    const auto reply = publisher_->request(subject, R"({"type":")" + type + R"(","document":)" + document + "}",
                                           std::chrono::seconds(10));
    EXPECT_EQ(reply.status, NATS_OK) << subject;
    picojson::value value;
    picojson::parse(value, reply.data);
    return value.is<picojson::object>() ? value.get<picojson::object>() : picojson::object{};
  }

  std::unique_ptr<ws_test_client> authorized(const std::string& token) {
    auto client = std::make_unique<ws_test_client>(port(), "/notifications");
    const auto answer = client->request(1, "authorize", options({{"token", picojson::value(token)}}));
    EXPECT_EQ(text(answer, "status"), "ok") << picojson::value(answer).serialize();
    return client;
  }

  test::temp_dir dir_;
  test::child_process backend_;
  int backend_port_ = 0;
  std::unique_ptr<broker::server> server_;
  std::unique_ptr<runner> services_;
  std::unique_ptr<test::libnats_client> publisher_;
};

TEST_F(NotificationGateway, AuthorizeListSubscribePushAndRead) {
  start();
  ws_test_client client(port(), "/notifications");
  ASSERT_TRUE(client.open());
  // Nothing before authorize; a token the backend does not know.
  auto answer = client.request(1, "list");
  EXPECT_EQ(text(answer, "status"), "error");
  EXPECT_EQ(text(answer, "event"), "list");
  EXPECT_EQ(text(object(answer, "payload"), "error"), "not authorized");
  answer = client.request(2, "authorize", options({{"token", picojson::value("nope")}}));
  EXPECT_EQ(text(answer, "status"), "error");
  EXPECT_EQ(text(object(answer, "payload"), "error"), "invalid token");
  answer = client.request(3, "authorize", options({{"token", picojson::value("tok-alice")}}));
  EXPECT_EQ(text(answer, "status"), "ok");
  EXPECT_EQ(text(answer, "event"), "authorize");
  EXPECT_EQ(text(object(answer, "payload"), "user"), "alice");

  // Stored before anyone subscribed: alice's own, bob's (not hers), one for all.
  const auto first = notify("wss.alice", "alert", R"({"text":"login from a new device"})");
  EXPECT_EQ(text(first, "ok"), "true");
  notify("wss.bob", "alert", R"({"text":"for bob"})");
  const auto everyone = notify("wss.all", "maintenance", R"({"at":"02:00"})");
  const auto second = notify("wss.alice", "order", R"({"order":"deliver","id":42})");
  answer = client.request(4, "list");
  EXPECT_EQ(text(answer, "status"), "ok");
  EXPECT_EQ(ids(answer), (std::vector<std::int64_t>{ws_test_client::integer(second, "id"),
                                                    ws_test_client::integer(everyone, "id"),
                                                    ws_test_client::integer(first, "id")}));
  EXPECT_EQ(ws_test_client::integer(object(answer, "payload"), "total"), 3);
  EXPECT_EQ(ws_test_client::integer(object(answer, "payload"), "unread"), 3);
  const auto& newest = object(answer, "payload").at("notifications").get<picojson::array>()[0].get<picojson::object>();
  EXPECT_EQ(text(newest, "type"), "order");
  EXPECT_EQ(object(newest, "document").at("id").get<std::int64_t>(), 42);
  EXPECT_EQ(text(newest, "read"), "false");
  EXPECT_EQ(text(newest, "time").size(), std::string("2026-12-06T16:00:00.123Z").size());
  // Paged.
  answer = client.request(5, "list", options({{"offset", picojson::value(std::int64_t{1})},
                                              {"limit", picojson::value(std::int64_t{1})}}));
  EXPECT_EQ(ids(answer), (std::vector<std::int64_t>{ws_test_client::integer(everyone, "id")}));

  // Pushes: only the subscribed types, only hers and everyone's.
  answer = client.request(6, "subscribe", options({{"groups", picojson::value(picojson::array{picojson::value("alert")})}}));
  EXPECT_EQ(picojson::value(object(answer, "payload")).serialize(), R"({"groups":["alert"]})");
  notify("wss.alice", "order", R"({"skipped":true})");
  notify("wss.bob", "alert", R"({"skipped":true})");
  const auto pushed = notify("wss.alice", "alert", R"({"text":"pushed"})");
  auto push = client.push();
  EXPECT_EQ(text(push, "event"), "alert");
  EXPECT_EQ(text(push, "status"), "ok");
  EXPECT_EQ(ws_test_client::integer(object(push, "payload"), "id"), ws_test_client::integer(pushed, "id"));
  EXPECT_EQ(text(object(object(push, "payload"), "document"), "text"), "pushed");
  client.request(7, "subscribe", options({{"groups", picojson::value("*")}}));
  const auto all = notify("wss.all", "maintenance", R"({"at":"03:00"})");
  push = client.push();
  EXPECT_EQ(text(push, "event"), "maintenance");
  EXPECT_EQ(ws_test_client::integer(object(push, "payload"), "id"), ws_test_client::integer(all, "id"));
  EXPECT_EQ(text(object(push, "payload"), "broadcast"), "true");
  answer = client.request(8, "unsubscribe", options({{"groups", picojson::value("*")}}));
  EXPECT_EQ(picojson::value(object(answer, "payload")).serialize(), R"({"groups":[]})");

  // Read: by id (a broadcast one included), then all.
  answer = client.request(9, "read", options({{"ids", picojson::value(picojson::array{
                                                         picojson::value(ws_test_client::integer(first, "id")),
                                                         picojson::value(ws_test_client::integer(everyone, "id"))})}}));
  EXPECT_EQ(ws_test_client::integer(object(answer, "payload"), "read"), 2);
  EXPECT_EQ(ws_test_client::integer(object(answer, "payload"), "unread"), 4);
  answer = client.request(10, "list", options({{"unread", picojson::value(true)}}));
  EXPECT_EQ(ids(answer).size(), 4u);
  answer = client.request(11, "read", options({{"all", picojson::value(true)}}));
  EXPECT_EQ(ws_test_client::integer(object(answer, "payload"), "read"), 4);
  EXPECT_EQ(ws_test_client::integer(object(answer, "payload"), "unread"), 0);

  // Bob's session sees the broadcast as unread: read state is per user.
  auto bob = authorized("tok-bob");
  answer = bob->request(2, "list");
  EXPECT_EQ(ws_test_client::integer(object(answer, "payload"), "total"), 4);  // two own, two for all
  EXPECT_EQ(ws_test_client::integer(object(answer, "payload"), "unread"), 4);
  EXPECT_EQ(services_->notifications()->stats().sessions, 2u);
  // The same counters in /metrics, labelled with the listener.
  std::string metrics;
  server_->metrics_sources().write_all(metrics);
  const std::string label = "{listener=\"127.0.0.1:" + std::to_string(port()) + "\"}";
  EXPECT_NE(metrics.find("# TYPE courier_mss_notification_sessions gauge\ncourier_mss_notification_sessions" + label +
                         " 2\n"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("courier_mss_notifications_received_total" + label + " 8\n"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("courier_mss_notification_pushes_total" + label + " 2\n"), std::string::npos) << metrics;
}

TEST_F(NotificationGateway, EverySessionOfTheUserGetsThePush) {
  start();
  auto tab1 = authorized("tok-alice");
  auto tab2 = authorized("tok-alice2");  // another token of the same user
  auto other = authorized("tok-bob");
  for (auto* c : {tab1.get(), tab2.get(), other.get()})
    c->request(2, "subscribe", options({{"groups", picojson::value("*")}}));
  const auto sent = notify("wss.alice", "alert", R"({"n":1})");
  notify("wss.bob", "alert", R"({"n":2})");
  EXPECT_EQ(ws_test_client::integer(object(tab1->push(), "payload"), "id"), ws_test_client::integer(sent, "id"));
  EXPECT_EQ(ws_test_client::integer(object(tab2->push(), "payload"), "id"), ws_test_client::integer(sent, "id"));
  EXPECT_EQ(text(object(object(other->push(), "payload"), "document"), "n"), "2");
}

TEST_F(NotificationGateway, BadRequestsAnswerWithAnErrorAndTheSessionStaysUp) {
  start();
  ws_test_client client(port(), "/notifications");
  const auto error_of = [&](const std::string& frame, std::int64_t rid) {
    client.send_text(frame);
    const auto answer = client.response(rid);
    EXPECT_EQ(text(answer, "status"), "error") << frame;
    return text(object(answer, "payload"), "error");
  };
  EXPECT_NE(error_of("{not json", -1).find("bad JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"command":"list"})", -1).find("'rid'"), std::string::npos);
  EXPECT_NE(error_of(R"([1,2])", -1).find("JSON object"), std::string::npos);
  EXPECT_NE(error_of(R"({"rid":5,"command":7})", 5).find("'command'"), std::string::npos);
  EXPECT_NE(error_of(R"({"rid":6,"command":"list","options":[]})", 6).find("'options'"), std::string::npos);
  EXPECT_EQ(error_of(R"({"rid":7,"command":"launch"})", 7), "unknown command 'launch'");
  EXPECT_NE(error_of(R"({"rid":8,"command":"authorize"})", 8).find("'token'"), std::string::npos);
  // The backend's user must be usable as a subject token.
  EXPECT_EQ(error_of(R"({"rid":9,"command":"authorize","options":{"token":"tok-dotted"}})", 9),
            "authorization backend answered without a user");
  auto answer = client.request(10, "authorize", options({{"token", picojson::value("tok-alice")}}));
  EXPECT_EQ(text(answer, "status"), "ok");
  EXPECT_NE(error_of(R"({"rid":11,"command":"list","options":{"limit":100000}})", 11).find("'limit'"),
            std::string::npos);
  EXPECT_NE(error_of(R"({"rid":12,"command":"read","options":{"ids":["x"]}})", 12).find("'ids'"), std::string::npos);
  EXPECT_NE(error_of(R"({"rid":13,"command":"subscribe","options":{}})", 13).find("'groups'"), std::string::npos);
  answer = client.request(14, "list");
  EXPECT_EQ(text(answer, "status"), "ok");
  // A message on the subjects that is not a notification: refused, nothing stored.
  const auto reply = publisher_->request("wss.alice", "hello", std::chrono::seconds(10));
  EXPECT_NE(reply.data.find(R"("ok":false)"), std::string::npos) << reply.data;
  EXPECT_EQ(ws_test_client::integer(object(client.request(15, "list"), "payload"), "total"), 0);
  EXPECT_EQ(services_->notifications()->stats().rejected, 1u);
}

TEST_F(NotificationGateway, FramingErrorsCloseThatSessionOnly) {
  start("max_message: 4096");
  auto bystander = authorized("tok-bob");
  bystander->request(2, "subscribe", options({{"groups", picojson::value("*")}}));
  {
    ws_test_client oversized(port(), "/notifications");
    oversized.send_text(std::string(5000, 'x'));
    EXPECT_EQ(oversized.wait_closed(), 1009);  // message too big
  }
  {
    ws_test_client bad_utf8(port(), "/notifications");
    bad_utf8.send_text("{\"rid\":1,\"command\":\"\xff\xfe\"}");
    EXPECT_EQ(bad_utf8.wait_closed(), 1007);  // invalid frame payload data
  }
  {
    ws_test_client unmasked(port(), "/notifications");
    // A text frame "hi" without the mask bit, as only a server may send.
    boost::asio::write(unmasked.stream().next_layer(), boost::asio::buffer(std::string("\x81\x02hi", 4)));
    EXPECT_EQ(unmasked.wait_closed(), 1002);  // protocol error
  }
  const auto sent = notify("wss.bob", "alert", "{}");
  EXPECT_EQ(ws_test_client::integer(object(bystander->push(), "payload"), "id"), ws_test_client::integer(sent, "id"));
}

TEST_F(NotificationGateway, ServesWssWithTheConfiguredCertificate) {
  ASSERT_TRUE(test::make_self_signed(dir_));
  start("tls { cert_file: \"" + dir_.file("cert.pem") + "\", key_file: \"" + dir_.file("key.pem") + "\" }");
  boost::asio::io_context io;
  boost::asio::ssl::context context(boost::asio::ssl::context::tls_client);
  context.load_verify_file(dir_.file("cert.pem"));
  context.set_verify_mode(boost::asio::ssl::verify_peer);
  boost::beast::websocket::stream<boost::beast::ssl_stream<boost::asio::ip::tcp::socket>> ws(io, context);
  boost::beast::get_lowest_layer(ws).connect({boost::asio::ip::make_address("127.0.0.1"), port()});
  timeval timeout{20, 0};
  ::setsockopt(boost::beast::get_lowest_layer(ws).native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ws.next_layer().set_verify_callback(boost::asio::ssl::host_name_verification("127.0.0.1"));
  ws.next_layer().handshake(boost::asio::ssl::stream_base::client);
  ws.handshake("127.0.0.1", "/notifications");
  ws.text(true);
  ws.write(boost::asio::buffer(std::string(R"({"rid":1,"command":"authorize","options":{"token":"tok-alice"}})")));
  boost::beast::flat_buffer buffer;
  ws.read(buffer);
  EXPECT_NE(boost::beast::buffers_to_string(buffer.data()).find(R"("user":"alice")"), std::string::npos)
      << boost::beast::buffers_to_string(buffer.data());
  // A plain client on the TLS port gets no upgrade.
  EXPECT_EQ(http_status(port(), "GET /notifications HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 101", 0),
            std::string::npos);
}

TEST_F(NotificationGateway, UpgradeRefusals) {
  start();
  const std::string upgrade =
      "Host: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
  EXPECT_EQ(http_status(port(), "POST /notifications HTTP/1.1\r\n" + upgrade), "HTTP/1.1 405 Method Not Allowed");
  EXPECT_EQ(http_status(port(), "GET /elsewhere HTTP/1.1\r\n" + upgrade), "HTTP/1.1 404 Not Found");
  EXPECT_EQ(http_status(port(), "GET /notifications HTTP/1.1\r\nHost: localhost\r\n\r\n"), "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(http_status(port(), "GET /notifications?x=1 HTTP/1.1\r\n" + upgrade), "HTTP/1.1 101 Switching Protocols");
  // Only the upgrade opened a session (it counts once the 101 is written:
  // wait for it).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (services_->notifications()->stats().sessions_total == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(services_->notifications()->stats().sessions_total, 1u);
}

TEST_F(NotificationGateway, StoreFileKeepsNotificationsAndReadMarksAcrossARestart) {
  const std::string keys = "store: \"" + dir_.file("notifications.jsonl") + "\", max_per_user: 3";
  start(keys);
  std::vector<std::int64_t> sent;
  for (int i = 0; i < 5; ++i) sent.push_back(ws_test_client::integer(notify("wss.alice", "alert", "{}"), "id"));
  const auto everyone = ws_test_client::integer(notify("wss.all", "news", R"({"v":1})"), "id");
  {
    auto client = authorized("tok-alice");
    client->request(2, "read", options({{"ids", picojson::value(picojson::array{picojson::value(sent[4]),
                                                                                 picojson::value(everyone)})}}));
  }
  stop();
  start(keys);
  auto client = authorized("tok-alice");
  const auto answer = client->request(2, "list");
  // The three newest of hers (the bound), the broadcast one; read marks kept.
  EXPECT_EQ(ids(answer), (std::vector<std::int64_t>{everyone, sent[4], sent[3], sent[2]}));
  EXPECT_EQ(ws_test_client::integer(object(answer, "payload"), "unread"), 2);
  // New ids continue after the old ones.
  EXPECT_GT(ws_test_client::integer(notify("wss.alice", "alert", "{}"), "id"), everyone);
}

TEST_F(NotificationGateway, ASessionThatDoesNotReadIsClosedOthersKeepTheirPushes) {
  start("max_pending: 16384, handshake_timeout: \"3s\"");
  auto reader = authorized("tok-alice");
  reader->request(2, "subscribe", options({{"groups", picojson::value("*")}}));
  auto stalled = authorized("tok-alice2");
  stalled->request(2, "subscribe", options({{"groups", picojson::value("*")}}));
  const std::string document = "{\"pad\":\"" + std::string(4000, 'p') + "\"}";
  int sent = 0;
  // The stalled tab's kernel buffers fill first; then its queue passes 16 KiB.
  while (services_->notifications()->stats().sessions == 2 && sent < 20000) {
    const auto id = ws_test_client::integer(notify("wss.alice", "alert", document), "id");
    ++sent;
    ASSERT_EQ(ws_test_client::integer(object(reader->push(), "payload"), "id"), id);
  }
  EXPECT_EQ(services_->notifications()->stats().sessions, 1u) << "after " << sent << " notifications";
  // It ends: the close frame (1008) when it reads again, or the connection
  // dropped after the handshake timeout.
  const int code = stalled->wait_closed();
  EXPECT_TRUE(code == 1008 || code == 0) << code;
  const auto last = notify("wss.alice", "alert", "{}");
  EXPECT_EQ(ws_test_client::integer(object(reader->push(), "payload"), "id"), ws_test_client::integer(last, "id"));
}

TEST(NotificationGatewayUsers, AuthorizeChecksTheServersOwnUsersAndPasswords) {
  conf::server_options o;
  conf::load_config_string(
      "authorization { users = [ {user: alice, password: s3cret}, {user: \"a.b\", password: x} ] }\n"
      "mss { notifications { listen: \"127.0.0.1:0\", path: \"/n\", authorize { users: true } } }\n",
      o);
  o.host = "127.0.0.1";
  o.port = 0;
  broker::server server(o);
  server.start();
  auto services = start_message_services(&server, o);
  ASSERT_NE(services, nullptr);
  ws_test_client client(services->notifications()->port(), "/n");
  const auto login = [&](std::int64_t rid, const std::string& user, const std::string& password) {
    const auto answer = client.request(
        rid, "authorize", options({{"user", picojson::value(user)}, {"password", picojson::value(password)}}));
    return text(answer, "status") == "ok" ? text(object(answer, "payload"), "user")
                                          : "error: " + text(object(answer, "payload"), "error");
  };
  EXPECT_EQ(login(1, "alice", "wrong"), "error: invalid user or password");
  EXPECT_EQ(login(2, "mallory", "s3cret"), "error: invalid user or password");
  EXPECT_EQ(login(3, "a.b", "x"), "error: invalid user or password");  // not usable as a subject token
  EXPECT_EQ(login(4, "alice", "s3cret"), "alice");
  services.reset();
  server.shutdown();
}

TEST(NotificationGatewayConfig, MistakesAreClearStartupErrors) {
  const auto error_of = [](const std::string& block) -> std::string {
    conf::server_options o;
    conf::load_config_string("mss { notifications { " + block + " } }", o);
    o.port = -1;
    broker::server server(o);
    server.start();
    try {
      auto services = start_message_services(&server, o);
    } catch (const std::runtime_error& e) {
      server.shutdown();
      return e.what();
    }
    server.shutdown();
    return "no error";
  };
  EXPECT_NE(error_of("listen: \"127.0.0.1:0\"").find("missing 'authorize'"), std::string::npos);
  EXPECT_NE(error_of("authorize { url: \"ftp://x\" }").find("'url' must be an http"), std::string::npos);
  EXPECT_NE(error_of("authorize { }").find("give 'url'"), std::string::npos);
  EXPECT_NE(error_of("authorize { url: \"http://x/\", users: true }").find("not both"), std::string::npos);
  EXPECT_NE(error_of("authorize { url: \"http://x/\" }, path: \"notifications\"").find("'path' must start"),
            std::string::npos);
  EXPECT_NE(error_of("authorize { url: \"http://x/\" }, listen: \"127.0.0.1:99999\"").find("port"),
            std::string::npos);
  EXPECT_NE(error_of("authorize { url: \"http://x/\" }, subject_prefix: \"wss.*\"").find("subject_prefix"),
            std::string::npos);
  EXPECT_NE(error_of("authorize { url: \"http://x/\" }, colour: blue").find("mss.notifications: unknown key 'colour'"),
            std::string::npos);
  EXPECT_NE(error_of("authorize { url: \"http://x/\" }, listen: \"127.0.0.1:0\", tls { cert_file: \"/nonexistent.pem\", "
                     "key_file: \"/nonexistent.key\" }")
                .find("nonexistent"),
            std::string::npos);
}

}  // namespace
}  // namespace courier::mss
