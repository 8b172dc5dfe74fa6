// NATS over WebSocket with the real clients: nats.ws (the npm package the
// NATS project ships for browsers and Deno/Node) in Node and in headless
// Chromium on one side, libnats over TCP on the other, through one server.
#include "ws_peer.hpp"

#include "nats_helpers.hpp"
#include "tests/mss/test_support.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <thread>

namespace courier::test {
namespace {

using namespace std::chrono_literals;
using picojson::value;

/// A server with a plain-text WebSocket listener, monitoring, and `extra`
/// top-level config; `ws_extra` goes inside the websocket block.
struct ws_server {
  explicit ws_server(const std::string& extra = {}, const std::string& ws_extra = {})
      : ws_port(pick_free_port()),
        http_port(pick_free_port()),
        process("http: " + std::to_string(http_port) + "\nwebsocket {\n  port: " + std::to_string(ws_port) +
                "\n  no_tls: true\n" + ws_extra + "\n}\n" + extra) {}
  std::string ws_url() const { return "ws://127.0.0.1:" + std::to_string(ws_port); }
  int ws_port;
  int http_port;
  server_process process;
};

/// A server whose WebSocket listener is wss:// with a self-signed
/// certificate (for localhost and 127.0.0.1) made by the openssl CLI.
struct wss_server {
  wss_server()
      : made(mss::test::make_self_signed(dir)),
        ws_port(pick_free_port()),
        process("websocket {\n  port: " + std::to_string(ws_port) + "\n  tls { cert_file: \"" + dir.file("cert.pem") +
                "\", key_file: \"" + dir.file("key.pem") + "\" }\n}\n") {}
  std::string ws_url() const { return "wss://127.0.0.1:" + std::to_string(ws_port); }
  mss::test::temp_dir dir;
  bool made;
  int ws_port;
  server_process process;
};

/// GET http://127.0.0.1:port/path; the body, or empty.
std::string http_get(int port, const std::string& path) {
  const int fd = connect_loopback(port);
  if (fd < 0) return {};
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (::send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
    ::close(fd);
    return {};
  }
  std::string response;
  char buffer[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) break;
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n <= 0) break;
    response.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const auto body = response.find("\r\n\r\n");
  return body == std::string::npos ? std::string{} : response.substr(body + 4);
}

/// A raw WebSocket client on a blocking socket, for what no library does on
/// purpose: never reading, or never upgrading.
struct raw_ws_client {
  /// Connects (with a small receive buffer when asked) and upgrades; check `fd`.
  explicit raw_ws_client(int port, int receive_buffer = 0) : fd(connect_loopback(port, receive_buffer)) {
    if (fd < 0) return;
    const std::string request =
        "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(request.size())) close();
  }
  ~raw_ws_client() { close(); }
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  /// Sends `text` as one masked binary frame.
  bool send_frame(const std::string& text) {
    std::string frame = "\x82";
    if (text.size() < 126) {
      frame += static_cast<char>(0x80 | text.size());
    } else {
      frame += static_cast<char>(0x80 | 126);
      frame += static_cast<char>(text.size() >> 8);
      frame += static_cast<char>(text.size() & 0xff);
    }
    const char mask[4] = {0x11, 0x22, 0x33, 0x44};
    frame.append(mask, 4);
    for (std::size_t i = 0; i < text.size(); ++i) frame += static_cast<char>(text[i] ^ mask[i % 4]);
    return ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(frame.size());
  }
  /// Reads until `needle` has arrived (frames are not decoded: the server
  /// sends small NATS lines unmasked and uncompressed); false on timeout or close.
  bool read_until(const std::string& needle, std::chrono::milliseconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (received.find(needle) == std::string::npos) {
      pollfd p{fd, POLLIN, 0};
      if (std::chrono::steady_clock::now() > deadline || ::poll(&p, 1, 100) < 0) return false;
      if ((p.revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buffer[4096];
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return false;
      received.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
  }
  /// True when the server ends the connection within `timeout` (what is
  /// still buffered is read and dropped).
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buffer[65536];
      const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) return true;
    }
    return false;
  }
  int fd;
  std::string received;
};

/// Connects the peer; the "connected" event, or null.
template <class Server>
value connect_peer(ws_peer& peer, const Server& server, picojson::object options = {}) {
  peer.send(command({{"op", value("connect")}, {"servers", value(server.ws_url())}, {"options", value(options)}}));
  return peer.wait_for("connected");
}

bool is_msg(const picojson::object& event, const std::string& id) { return ws_peer::field(event, "id") == id; }

/// Both directions of publish/subscribe and request/reply between a nats.ws
/// peer and a libnats client.
template <class Server>
void exchange_with_libnats(ws_peer& peer, const Server& server) {
  ASSERT_TRUE(peer.ready());
  value info = connect_peer(peer, server);
  ASSERT_FALSE(info.is<picojson::null>());
  auto tcp = connect_to(server.process.url());
  ASSERT_TRUE(tcp);

  // TCP -> WebSocket.
  peer.send(command({{"op", value("sub")}, {"id", value("in")}, {"subject", value("to.ws")}}));
  ASSERT_FALSE(peer.wait_for("subscribed").is<picojson::null>());
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(natsConnection_PublishString(tcp.get(), "to.ws", ("m" + std::to_string(i)).c_str()), NATS_OK);
  }
  ASSERT_EQ(flush(tcp.get()), NATS_OK);
  for (int i = 0; i < 3; ++i) {
    value msg = peer.wait_for("msg", 60s, [](const picojson::object& e) { return is_msg(e, "in"); });
    ASSERT_FALSE(msg.is<picojson::null>());
    EXPECT_EQ(ws_peer::field(msg.get<picojson::object>(), "data"), "m" + std::to_string(i));
  }

  // WebSocket -> TCP, big enough to be compressed and framed in pieces.
  auto sub = subscribe_sync(tcp.get(), "to.tcp");
  ASSERT_EQ(flush(tcp.get()), NATS_OK);
  const std::string big(100000, 'b');
  peer.send(command({{"op", value("pub")}, {"subject", value("to.tcp")}, {"data", value("hello")}}));
  peer.send(command({{"op", value("pub")}, {"subject", value("to.tcp")}, {"data", value(big)}}));
  ASSERT_FALSE(peer.wait_for("published").is<picojson::null>());
  ASSERT_FALSE(peer.wait_for("published").is<picojson::null>());
  auto first = next_message(sub.get(), 30s);
  ASSERT_TRUE(first);
  EXPECT_EQ(payload(first.get()), "hello");
  auto second = next_message(sub.get(), 30s);
  ASSERT_TRUE(second);
  EXPECT_EQ(payload(second.get()), big);
  // TCP -> WebSocket, bigger than one staged WebSocket message (256 KiB):
  // the delivery leaves in several, which the client joins back.
  const std::string huge(700000, 'h');
  ASSERT_EQ(natsConnection_Publish(tcp.get(), "to.ws", huge.data(), static_cast<int>(huge.size())), NATS_OK);
  ASSERT_EQ(natsConnection_PublishString(tcp.get(), "to.ws", "after"), NATS_OK);
  ASSERT_EQ(flush(tcp.get()), NATS_OK);
  for (const std::string* expected : {&huge, static_cast<const std::string*>(nullptr)}) {
    value msg = peer.wait_for("msg", 60s, [](const picojson::object& e) { return is_msg(e, "in"); });
    ASSERT_FALSE(msg.is<picojson::null>());
    EXPECT_EQ(ws_peer::field(msg.get<picojson::object>(), "data"), expected ? *expected : std::string("after"));
  }

  // A request from TCP answered over WebSocket.
  peer.send(command({{"op", value("sub")}, {"id", value("svc")}, {"subject", value("svc.ws")}, {"respond", value(true)}}));
  ASSERT_FALSE(peer.wait_for("subscribed").is<picojson::null>());
  natsMsg* reply = nullptr;
  ASSERT_EQ(natsConnection_RequestString(&reply, tcp.get(), "svc.ws", "ping", 30000), NATS_OK);
  message_ptr reply_owner(reply);
  EXPECT_EQ(payload(reply), "re:ping");

  // A request from WebSocket answered over TCP.
  auto service = subscribe_sync(tcp.get(), "svc.tcp");
  ASSERT_EQ(flush(tcp.get()), NATS_OK);
  peer.send(command({{"op", value("req")}, {"subject", value("svc.tcp")}, {"data", value("q")}}));
  auto request = next_message(service.get(), 30s);
  ASSERT_TRUE(request);
  ASSERT_NE(natsMsg_GetReply(request.get()), nullptr);
  ASSERT_EQ(natsConnection_PublishString(tcp.get(), natsMsg_GetReply(request.get()), "answer"), NATS_OK);
  ASSERT_EQ(flush(tcp.get()), NATS_OK);
  auto answer = peer.wait_for("reply");
  ASSERT_FALSE(answer.is<picojson::null>());
  EXPECT_EQ(ws_peer::field(answer.get<picojson::object>(), "data"), "answer");
}

TEST(WebSocket, NatsWsAndLibnatsExchangeMessagesAndRequests) {
  ws_server server;
  ASSERT_TRUE(server.process.start());
  ws_peer peer;
  exchange_with_libnats(peer, server);
}

TEST(WebSocket, NatsCoreWsconnectAndLibnatsExchangeMessagesAndRequests) {
  // The newer JavaScript client (@nats-io/nats-core 3.x, wsconnect), with
  // compression offered by its WebSocket as with nats.ws.
  ws_server server({}, "  compression: true");
  ASSERT_TRUE(server.process.start());
  ws_peer peer("ws_peer.mjs", {"--library", "nats-core"}, "the @nats-io/nats-core peer");
  exchange_with_libnats(peer, server);
}

TEST(WebSocket, CompressionAgreedWithNatsWs) {
  // The Node peer's WebSocket ("ws") offers permessage-deflate.
  ws_server server({}, "  compression: true");
  ASSERT_TRUE(server.process.start());
  ws_peer peer;
  exchange_with_libnats(peer, server);
}

TEST(WebSocket, ChromiumPageExchangesMessagesAndRequestsWithLibnats) {
  ws_server server({}, "  compression: true");
  ASSERT_TRUE(server.process.start());
  ws_peer peer(COURIER_CHROMIUM);
  exchange_with_libnats(peer, server);
}

TEST(WebSocket, WssWithTheBlocksCertificateServesNatsWs) {
  wss_server server;
  ASSERT_TRUE(server.made) << "openssl could not make a certificate";
  ASSERT_TRUE(server.process.start());
  EXPECT_NE(server.process.log_text().find("Listening for websocket clients on wss://"), std::string::npos)
      << server.process.log_text();
  // Node trusts the test's certificate; the name checked is 127.0.0.1.
  ws_peer peer({}, {"NODE_EXTRA_CA_CERTS=" + server.dir.file("cert.pem")});
  exchange_with_libnats(peer, server);
}

TEST(WebSocket, WssRefusesAPlainTextUpgrade) {
  wss_server server;
  ASSERT_TRUE(server.made);
  ASSERT_TRUE(server.process.start());
  const std::string answer = http_get(server.ws_port, "/");
  EXPECT_EQ(answer.find("101"), std::string::npos) << answer;
  EXPECT_EQ(answer.find("INFO"), std::string::npos) << answer;
  // The server is still fine for TLS clients.
  ws_peer peer({}, {"NODE_EXTRA_CA_CERTS=" + server.dir.file("cert.pem")});
  ASSERT_TRUE(peer.ready());
  EXPECT_FALSE(connect_peer(peer, server).is<picojson::null>());
}

TEST(WebSocket, ATabThatStopsReadingIsCutOffAsASlowConsumerOthersGetEverything) {
  ws_server server("max_pending: 262144\nmax_payload: 262144\n");
  ASSERT_TRUE(server.process.start());
  raw_ws_client stalled(server.ws_port, 4096);
  ASSERT_GE(stalled.fd, 0);
  ASSERT_TRUE(stalled.read_until("INFO"));
  ASSERT_TRUE(stalled.send_frame("CONNECT {\"verbose\":false}\r\nSUB feed 1\r\nPING\r\n"));
  ASSERT_TRUE(stalled.read_until("PONG"));
  // From here on the tab reads nothing. A TCP subscriber reads on; the
  // publisher waits for the server every 50 messages, so that what the
  // reader has not read yet stays within its socket buffers.
  auto subscriber = connect_to(server.process.url());
  ASSERT_TRUE(subscriber);
  auto reader = subscribe_sync(subscriber.get(), "feed");
  ASSERT_EQ(flush(subscriber.get()), NATS_OK);
  auto tcp = connect_to(server.process.url());
  ASSERT_TRUE(tcp);
  const std::string payload(1024, 'x');
  const int count = 4000;
  for (int i = 0; i < count; ++i) {
    ASSERT_EQ(natsConnection_Publish(tcp.get(), "feed", payload.data(), static_cast<int>(payload.size())), NATS_OK);
    if (i % 50 == 49) ASSERT_EQ(flush(tcp.get(), 60s), NATS_OK) << "message " << i;
  }
  ASSERT_EQ(flush(tcp.get()), NATS_OK);
  for (int i = 0; i < count; ++i) ASSERT_TRUE(next_message(reader.get(), 30s)) << "message " << i;
  EXPECT_TRUE(stalled.closed_within(30s)) << "the stalled tab was not cut off";
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (server.process.log_text().find("Slow Consumer Detected") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  EXPECT_NE(server.process.log_text().find("Slow Consumer Detected"), std::string::npos) << server.process.log_text();
  EXPECT_NE(http_get(server.http_port, "/varz").find("\"slow_consumers\": 1"), std::string::npos);
}

TEST(WebSocket, AFloodOfConnectionsThatNeverUpgradeIsClosedAndDisturbsNoClient) {
  ws_server server({}, "  handshake_timeout: \"1s\"");
  ASSERT_TRUE(server.process.start());
  std::vector<int> idle;
  for (int i = 0; i < 200; ++i) {
    const int fd = connect_loopback(server.ws_port);
    ASSERT_GE(fd, 0) << "connection " << i;
    idle.push_back(fd);
  }
  // A client upgrading in the middle of the flood is served.
  raw_ws_client client(server.ws_port);
  ASSERT_TRUE(client.read_until("INFO"));
  ASSERT_TRUE(client.send_frame("CONNECT {\"verbose\":false}\r\nPING\r\n"));
  EXPECT_TRUE(client.read_until("PONG"));
  // Each idle one is closed once the handshake timeout passes.
  int closed = 0;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (const int fd : idle) {
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 100) > 0) {
        char byte;
        if (::recv(fd, &byte, 1, 0) <= 0) {
          ++closed;
          break;
        }
      }
      if (std::chrono::steady_clock::now() > deadline) break;
    }
    ::close(fd);
  }
  EXPECT_EQ(closed, 200);
  // The upgraded client is still there.
  ASSERT_TRUE(client.send_frame("PING\r\n"));
  client.received.clear();
  EXPECT_TRUE(client.read_until("PONG"));
  EXPECT_NE(http_get(server.http_port, "/connz").find("\"num_connections\": 1,"), std::string::npos)
      << http_get(server.http_port, "/connz");
}

TEST(WebSocket, HeadersBothWays) {
  ws_server server;
  ASSERT_TRUE(server.process.start());
  ws_peer peer;
  ASSERT_TRUE(peer.ready());
  ASSERT_FALSE(connect_peer(peer, server).is<picojson::null>());
  auto tcp = connect_to(server.process.url());
  ASSERT_TRUE(tcp);
  auto sub = subscribe_sync(tcp.get(), "h.tcp");
  ASSERT_EQ(flush(tcp.get()), NATS_OK);
  picojson::object headers{{"X-Trace", value("abc")}};
  peer.send(command({{"op", value("pub")}, {"subject", value("h.tcp")}, {"data", value("d")}, {"headers", value(headers)}}));
  auto msg = next_message(sub.get(), 30s);
  ASSERT_TRUE(msg);
  const char* trace = nullptr;
  ASSERT_EQ(natsMsgHeader_Get(msg.get(), "X-Trace", &trace), NATS_OK);
  EXPECT_STREQ(trace, "abc");

  peer.send(command({{"op", value("sub")}, {"id", value("h")}, {"subject", value("h.ws")}}));
  ASSERT_FALSE(peer.wait_for("subscribed").is<picojson::null>());
  natsMsg* out = nullptr;
  ASSERT_EQ(natsMsg_Create(&out, "h.ws", nullptr, "p", 1), NATS_OK);
  message_ptr out_owner(out);
  ASSERT_EQ(natsMsgHeader_Set(out, "X-From", "tcp"), NATS_OK);
  ASSERT_EQ(natsConnection_PublishMsg(tcp.get(), out), NATS_OK);
  ASSERT_EQ(flush(tcp.get()), NATS_OK);
  auto got = peer.wait_for("msg");
  ASSERT_FALSE(got.is<picojson::null>());
  EXPECT_EQ(ws_peer::field(got.get<picojson::object>(), "headers"), R"({"X-From":"tcp"})");
}

TEST(WebSocket, QueueGroupSpansWebSocketAndTcpMembers) {
  ws_server server;
  ASSERT_TRUE(server.process.start());
  ws_peer peer;
  ASSERT_TRUE(peer.ready());
  ASSERT_FALSE(connect_peer(peer, server).is<picojson::null>());
  for (const char* id : {"q1", "q2"}) {
    peer.send(command({{"op", value("sub")}, {"id", value(id)}, {"subject", value("work")}, {"queue", value("workers")}}));
    ASSERT_FALSE(peer.wait_for("subscribed").is<picojson::null>());
  }
  auto tcp = connect_to(server.process.url());
  ASSERT_TRUE(tcp);
  auto member = subscribe_sync(tcp.get(), "work", "workers");
  ASSERT_EQ(flush(tcp.get()), NATS_OK);
  constexpr int total = 60;
  for (int i = 0; i < total; ++i) ASSERT_EQ(natsConnection_PublishString(tcp.get(), "work", "job"), NATS_OK);
  ASSERT_EQ(flush(tcp.get()), NATS_OK);
  // Each job reaches exactly one member: count until all are accounted for.
  int over_ws = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        peer.drain(50ms);
        over_ws += static_cast<int>(peer.take_all("msg").size());
        return over_ws + static_cast<int>(queued(member.get())) >= total;
      },
      60s));
  peer.send(command({{"op", value("flush")}}));
  ASSERT_FALSE(peer.wait_for("flushed").is<picojson::null>());
  peer.drain(200ms);
  over_ws += static_cast<int>(peer.take_all("msg").size());
  EXPECT_EQ(over_ws + static_cast<int>(queued(member.get())), total);
}

TEST(WebSocket, UsersPasswordsAndConnectionTypes) {
  ws_server server(R"(authorization {
  users = [
    { user: web, password: secret }
    { user: tcponly, password: secret, allowed_connection_types: ["STANDARD"] }
    { user: wsonly, password: secret, allowed_connection_types: ["WEBSOCKET"] }
  ]
})");
  ASSERT_TRUE(server.process.start());
  {
    ws_peer peer;
    ASSERT_TRUE(peer.ready());
    auto info = connect_peer(peer, server, {{"user", value("web")}, {"pass", value("secret")}});
    ASSERT_FALSE(info.is<picojson::null>());
    EXPECT_EQ(ws_peer::field(info.get<picojson::object>().at("info").get<picojson::object>(), "auth_required"), "true");
  }
  for (const char* user : {"tcponly", "web"}) {
    ws_peer peer;
    ASSERT_TRUE(peer.ready());
    const std::string pass = std::string(user) == "web" ? "wrong" : "secret";
    peer.send(command({{"op", value("connect")}, {"servers", value(server.ws_url())},
                       {"options", value(picojson::object{{"user", value(user)}, {"pass", value(pass)}})}}));
    auto error = peer.wait_for("error");
    ASSERT_FALSE(error.is<picojson::null>()) << user;
    EXPECT_EQ(ws_peer::field(error.get<picojson::object>(), "message"), "AUTHORIZATION_VIOLATION") << user;
  }
  {
    ws_peer peer;
    ASSERT_TRUE(peer.ready());
    ASSERT_FALSE(connect_peer(peer, server, {{"user", value("wsonly")}, {"pass", value("secret")}}).is<picojson::null>());
  }
  // Over TCP the connection types work the other way round.
  auto opts = make_options(server.process.url());
  natsOptions_SetUserInfo(opts.get(), "tcponly", "secret");
  EXPECT_TRUE(connect_with(opts.get()));
  auto refused = make_options(server.process.url());
  natsOptions_SetUserInfo(refused.get(), "wsonly", "secret");
  natsConnection* raw = nullptr;
  EXPECT_NE(natsConnection_Connect(&raw, refused.get()), NATS_OK);
  natsConnection_Destroy(raw);
}

TEST(WebSocket, AuthorizationOverrideAppliesToWebSocketClientsOnly) {
  ws_server server({}, "  authorization { token: wstoken }");
  ASSERT_TRUE(server.process.start());
  auto tcp = connect_to(server.process.url());  // TCP needs nothing
  ASSERT_TRUE(tcp);
  {
    ws_peer peer;
    ASSERT_TRUE(peer.ready());
    ASSERT_FALSE(connect_peer(peer, server, {{"token", value("wstoken")}}).is<picojson::null>());
  }
  ws_peer peer;
  ASSERT_TRUE(peer.ready());
  peer.send(command({{"op", value("connect")}, {"servers", value(server.ws_url())}}));
  auto error = peer.wait_for("error");
  ASSERT_FALSE(error.is<picojson::null>());
  EXPECT_EQ(ws_peer::field(error.get<picojson::object>(), "message"), "AUTHORIZATION_VIOLATION");
}

TEST(WebSocket, PermissionsRefusePublishAndKeepTheConnection) {
  ws_server server(R"(authorization {
  users = [ { user: web, password: secret, permissions: { publish: { deny: ["secret.>"] } } } ]
})");
  ASSERT_TRUE(server.process.start());
  ws_peer peer;
  ASSERT_TRUE(peer.ready());
  ASSERT_FALSE(connect_peer(peer, server, {{"user", value("web")}, {"pass", value("secret")}}).is<picojson::null>());
  auto tcp_options = make_options(server.process.url());
  natsOptions_SetUserInfo(tcp_options.get(), "web", "secret");
  auto tcp = connect_with(tcp_options.get());
  ASSERT_TRUE(tcp);
  auto secret = subscribe_sync(tcp.get(), "secret.>");
  auto open = subscribe_sync(tcp.get(), "open");
  ASSERT_EQ(flush(tcp.get()), NATS_OK);
  peer.send(command({{"op", value("pub")}, {"subject", value("secret.x")}, {"data", value("no")}}));
  auto status = peer.wait_for("status", 60s, [](const picojson::object& e) {
    return ws_peer::field(e, "data") == "PERMISSIONS_VIOLATION";
  });
  EXPECT_FALSE(status.is<picojson::null>());
  EXPECT_NE(server.process.log_text().find("Publish Violation"), std::string::npos) << server.process.log_text();
  peer.send(command({{"op", value("pub")}, {"subject", value("open")}, {"data", value("yes")}}));
  auto msg = next_message(open.get(), 30s);
  ASSERT_TRUE(msg);
  EXPECT_EQ(payload(msg.get()), "yes");
  EXPECT_EQ(queued(secret.get()), 0u);
}

TEST(WebSocket, ConnzListsWebSocketClients) {
  ws_server server;
  ASSERT_TRUE(server.process.start());
  ws_peer peer;
  ASSERT_TRUE(peer.ready());
  ASSERT_FALSE(connect_peer(peer, server, {{"name", value("browser-tab")}}).is<picojson::null>());
  std::string connz;
  ASSERT_TRUE(wait_until(
      [&] {
        connz = http_get(server.http_port, "/connz");
        return connz.find("browser-tab") != std::string::npos;
      },
      30s))
      << connz;
  picojson::value doc;
  ASSERT_TRUE(picojson::parse(doc, connz).empty());
  bool found = false;
  for (const auto& c : doc.get<picojson::object>().at("connections").get<picojson::array>()) {
    const auto& conn = c.get<picojson::object>();
    if (ws_peer::field(conn, "name") != "browser-tab") continue;
    found = true;
    EXPECT_EQ(ws_peer::field(conn, "type"), "websocket");
    EXPECT_EQ(ws_peer::field(conn, "lang"), "nats.ws");
  }
  EXPECT_TRUE(found) << connz;
}

TEST(WebSocket, RefusesToStartWithoutTlsOrNoTls) {
  server_process server("websocket { port: " + std::to_string(pick_free_port()) + " }");
  EXPECT_FALSE(server.start(20s));
  EXPECT_NE(server.log_text().find("websocket requires TLS configuration"), std::string::npos) << server.log_text();
}

TEST(WebSocket, LogsNameTheForwardedAddress) {
  ws_server server("debug: true");
  ASSERT_TRUE(server.process.start());
  const int fd = connect_loopback(server.ws_port);
  ASSERT_GE(fd, 0);
  const std::string request =
      "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
      "X-Forwarded-For: 203.0.113.9\r\n\r\n";
  ASSERT_EQ(::send(fd, request.data(), request.size(), 0), static_cast<ssize_t>(request.size()));
  EXPECT_TRUE(wait_until(
      [&] { return server.process.log_text().find("203.0.113.9/127.0.0.1:") != std::string::npos; }, 30s))
      << server.process.log_text();
  EXPECT_NE(server.process.log_text().find(" - wid:"), std::string::npos);
  ::close(fd);
}

}  // namespace
}  // namespace courier::test
