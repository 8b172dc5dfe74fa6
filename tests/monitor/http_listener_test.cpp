// The monitoring listener as an HTTP peer sees it: documents, 404, base
// path, and bad input (a stalled request, an oversized header, garbage),
// none of which may disturb the NATS clients of the same server.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>

#include "../clients/raw_client.hpp"
#include "broker/server.hpp"
#include "monitor/http_server.hpp"
#include "monitor/monitoring.hpp"

namespace courier::monitor {
namespace {

using namespace std::chrono_literals;
using courier::test::raw_client;

class http_listener_test : public ::testing::Test {
 protected:
  void start(std::string base_path = "") {
    conf::server_options options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 1;
    options.http_port = -1;  // any free port
    options.http_base_path = std::move(base_path);
    server_ = std::make_unique<broker::server>(options);
    server_->start();
    monitoring_ = std::make_unique<monitoring>(*server_);
    monitoring_->start();
    ASSERT_NE(monitoring_->http_port(), 0);
  }
  void TearDown() override {
    if (monitoring_) monitoring_->stop();
    if (server_) server_->shutdown();
  }

  /// One request on a new connection; the whole response (the server closes).
  std::string get(const std::string& path) {
    raw_client http(monitoring_->http_port(), 0, raw_client::server_pings::keep);
    http.send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(http.wait_closed(30s)) << path;
    return http.buffer();
  }

  /// A NATS client on the same server still gets its PONG.
  void expect_nats_client_served() {
    raw_client nats(server_->port());
    ASSERT_TRUE(nats.read_until("INFO ", 10s));
    nats.send("CONNECT {\"verbose\":false}\r\nPING\r\n");
    EXPECT_TRUE(nats.read_until("PONG\r\n", 10s));
  }

  std::unique_ptr<broker::server> server_;
  std::unique_ptr<monitoring> monitoring_;
};

TEST_F(http_listener_test, serves_documents_with_nats_server_headers) {
  start();
  const std::string varz = get("/varz");
  EXPECT_EQ(varz.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << varz;
  EXPECT_NE(varz.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(varz.find("\r\nDate: "), std::string::npos);
  EXPECT_NE(varz.find("\"server_id\": \"" + server_->id() + "\""), std::string::npos);

  const std::string missing = get("/nope");
  EXPECT_EQ(missing.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << missing;
  EXPECT_NE(missing.find("\r\n\r\n404 page not found\n"), std::string::npos);

  const std::string bad = get("/connz?sort=bogus");
  EXPECT_EQ(bad.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << bad;
  EXPECT_NE(bad.find("\r\n\r\ninvalid sorting option: bogus"), std::string::npos);
}

TEST_F(http_listener_test, base_path_prefixes_every_endpoint) {
  start("mon/");
  EXPECT_EQ(get("/mon/healthz").rfind("HTTP/1.1 200 OK", 0), 0u);
  EXPECT_NE(get("/mon/varz").find("\"http_base_path\": \"/mon\""), std::string::npos);
  EXPECT_EQ(get("/varz").rfind("HTTP/1.1 404", 0), 0u);
}

TEST_F(http_listener_test, keeps_the_connection_alive_between_requests) {
  start();
  raw_client http(monitoring_->http_port(), 0, raw_client::server_pings::keep);
  http.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(http.read_until("{\"status\":\"ok\"}", 10s));
  http.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_TRUE(http.read_until("{\"status\":\"ok\"}", 10s, http.buffer().size()));
}

TEST_F(http_listener_test, a_stalled_request_times_out_and_nobody_waits_for_it) {
  start();
  raw_client stalled(monitoring_->http_port(), 0, raw_client::server_pings::keep);
  stalled.send("GET /varz HTTP/1.1\r\nHost: x\r\n");  // never finished
  // Meanwhile other HTTP clients and NATS clients are served.
  EXPECT_EQ(get("/healthz").rfind("HTTP/1.1 200 OK", 0), 0u);
  expect_nats_client_served();
  // The listener gives up on it (after http_server::io_timeout), without answering.
  EXPECT_TRUE(stalled.wait_closed(http_server::io_timeout + 30s));
  EXPECT_EQ(stalled.buffer(), "");
}

TEST_F(http_listener_test, oversized_and_malformed_requests_are_refused) {
  start();
  raw_client huge(monitoring_->http_port(), 0, raw_client::server_pings::keep);
  huge.send("GET /varz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(64 * 1024, 'a') + "\r\n\r\n");
  EXPECT_TRUE(huge.wait_closed(30s));
  EXPECT_EQ(huge.buffer().rfind("HTTP/1.1 431", 0), 0u) << huge.buffer().substr(0, 80);

  raw_client garbage(monitoring_->http_port(), 0, raw_client::server_pings::keep);
  garbage.send("\x16\x03\x01 not http at all\r\n\r\n");
  EXPECT_TRUE(garbage.wait_closed(30s));
  EXPECT_EQ(garbage.buffer().rfind("HTTP/1.1 400", 0), 0u) << garbage.buffer().substr(0, 80);
  expect_nats_client_served();
}

TEST_F(http_listener_test, connz_follows_a_client_from_open_to_closed) {
  start();
  {
    raw_client nats(server_->port());
    ASSERT_TRUE(nats.read_until("INFO ", 10s));
    nats.send("CONNECT {\"verbose\":false,\"name\":\"watched\",\"lang\":\"cpp\",\"version\":\"9\"}\r\n"
              "SUB a.b 7\r\nPUB a.b 3\r\nabc\r\nPING\r\n");
    ASSERT_TRUE(nats.read_until("PONG\r\n", 10s));
    const std::string open = get("/connz?subs=detail");
    EXPECT_NE(open.find("\"name\": \"watched\""), std::string::npos) << open;
    EXPECT_NE(open.find("\"in_msgs\": 1,"), std::string::npos);
    EXPECT_NE(open.find("\"out_bytes\": 3,"), std::string::npos);
    EXPECT_NE(open.find("\"subject\": \"a.b\",\n          \"sid\": \"7\",\n          \"msgs\": 1,"), std::string::npos);
  }
  // Closed by the client: listed with its reason once the server noticed.
  std::string closed;
  for (int i = 0; i < 300 && closed.find("\"name\": \"watched\"") == std::string::npos; ++i) {
    closed = get("/connz?state=closed");
    if (closed.find("\"name\": \"watched\"") == std::string::npos) std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(closed.find("\"reason\": \"Client Closed\""), std::string::npos) << closed;
}

}  // namespace
}  // namespace courier::monitor
