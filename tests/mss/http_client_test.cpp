// HTTP client and webhook delivery against a real HTTP server
// (tests/mss/http_recorder.py, python3 http.server) that records what it
// received and verifies HMAC signatures with Python's hmac module.
#include "mss/peers/http_client.hpp"

#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>

#include <picojson.h>

#include "mss/peers/webhook.hpp"
#include "test_support.hpp"

namespace courier::mss {
namespace {

using namespace std::chrono_literals;
using test::child_process;
using test::temp_dir;

class HttpClientTest : public ::testing::Test {
 protected:
  bool start_recorder(std::vector<std::string> args = {}) {
    std::vector<std::string> all{"--log", log_path()};
    all.insert(all.end(), args.begin(), args.end());
    port_ = test::start_server(server_, "http_recorder.py", all);
    return port_ > 0;
  }

  std::string log_path() const { return dir_.file("requests.jsonl"); }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

  /// Requests the recorder logged.
  std::vector<picojson::object> recorded() const {
    std::vector<picojson::object> out;
    for (const auto& line : test::read_lines(log_path())) {
      picojson::value v;
      const std::string error = picojson::parse(v, line);
      EXPECT_TRUE(error.empty()) << error;
      if (v.is<picojson::object>()) out.push_back(v.get<picojson::object>());
    }
    return out;
  }

  static std::string str(const picojson::object& o, const std::string& key) {
    auto it = o.find(key);
    if (it == o.end()) return "<absent>";
    return it->second.is<std::string>() ? it->second.get<std::string>() : it->second.serialize();
  }
  static std::string header(const picojson::object& o, const std::string& name) {
    auto it = o.find("headers");
    if (it == o.end()) return "<absent>";
    return str(it->second.get<picojson::object>(), name);
  }

  http_result request(const http_request& r, const http_options& o = {}) {
    auto future = http_request_future(io_.executor(), r, o);
    if (future.wait_for(30s) != std::future_status::ready) {
      ADD_FAILURE() << "request did not complete";
      return {};
    }
    return future.get();
  }

  webhook_result deliver(const webhook_target& target, const std::string& body) {
    auto promise = std::make_shared<std::promise<webhook_result>>();
    auto future = promise->get_future();
    async_send_webhook(io_.executor(), target, body, [promise](webhook_result r) { promise->set_value(std::move(r)); });
    if (future.wait_for(60s) != std::future_status::ready) {
      ADD_FAILURE() << "webhook did not complete";
      return {};
    }
    return future.get();
  }

  temp_dir dir_;
  temp_dir cert_dir_;
  child_process server_;
  int port_ = -1;
  test::io_thread io_;
};

TEST_F(HttpClientTest, PostDeliversMethodPathHeadersAndBody) {
  ASSERT_TRUE(start_recorder({"--status", "201", "--reply", "{\"id\":7}"}));
  http_request r;
  r.method = "POST";
  r.url = url("/sms/send?to=%2B33123");
  r.headers = {{"Content-Type", "application/json"}, {"Authorization", "Bearer abc"}};
  r.body = R"({"to":"+33123","text":"Your code is 1234"})";
  const http_result result = request(r);
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.status, 201);
  EXPECT_TRUE(result.success());
  EXPECT_EQ(result.body, "{\"id\":7}");
  const auto requests = recorded();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(str(requests[0], "method"), "POST");
  EXPECT_EQ(str(requests[0], "path"), "/sms/send?to=%2B33123");
  EXPECT_EQ(str(requests[0], "body"), r.body);
  EXPECT_EQ(header(requests[0], "authorization"), "Bearer abc");
  EXPECT_EQ(header(requests[0], "content-type"), "application/json");
  EXPECT_EQ(header(requests[0], "host"), "127.0.0.1:" + std::to_string(port_));
}

TEST_F(HttpClientTest, OtherMethodsAndNon2xxStatusAreReported) {
  ASSERT_TRUE(start_recorder({"--status", "404", "--reply", "missing"}));
  http_request r;
  r.method = "PUT";
  r.url = url("/x");
  r.body = "data";
  http_result result = request(r);
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.status, 404);
  EXPECT_FALSE(result.success());
  EXPECT_EQ(result.body, "missing");
  r.method = "GET";
  r.body.clear();
  result = request(r);
  ASSERT_TRUE(result.ok()) << result.message;
  const auto requests = recorded();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(str(requests[0], "method"), "PUT");
  EXPECT_EQ(str(requests[1], "method"), "GET");
}

TEST_F(HttpClientTest, HttpsWithVerificationAgainstTestCa) {
  ASSERT_TRUE(test::make_self_signed(cert_dir_));
  ASSERT_TRUE(start_recorder({"--cert", cert_dir_.file("cert.pem"), "--key", cert_dir_.file("key.pem")}));
  http_request r;
  r.url = "https://localhost:" + std::to_string(port_) + "/secure";
  r.body = "{}";
  http_options o;
  o.ca_file = cert_dir_.file("cert.pem");
  http_result result = request(r, o);
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.status, 200);
  // Default CAs do not trust the test certificate.
  result = request(r, http_options{});
  EXPECT_EQ(result.error, http_error::tls_failed) << result.message;
  EXPECT_NE(result.message.find("certificate"), std::string::npos) << result.message;
  // Unless verification is off.
  http_options insecure;
  insecure.verify_peer = false;
  EXPECT_TRUE(request(r, insecure).success());
  EXPECT_EQ(recorded().size(), 2u);
}

TEST_F(HttpClientTest, HeadResponseWithoutBodyCompletes) {
  ASSERT_TRUE(start_recorder({"--reply", "twelve bytes"}));
  http_request r;
  r.method = "HEAD";
  r.url = url("/head");
  http_options o;
  o.timeout = 3s;
  const http_result result = request(r, o);
  ASSERT_TRUE(result.ok()) << result.message;
  EXPECT_EQ(result.status, 200);
  EXPECT_TRUE(result.body.empty());
  ASSERT_EQ(recorded().size(), 1u);
  EXPECT_EQ(str(recorded()[0], "method"), "HEAD");
}

TEST_F(HttpClientTest, ServerDownIsConnectFailed) {
  http_request r;
  r.url = "http://127.0.0.1:" + std::to_string(test::unused_port()) + "/";
  const http_result result = request(r);
  EXPECT_EQ(result.error, http_error::connect_failed) << result.message;
  EXPECT_NE(result.message.find("refused"), std::string::npos) << result.message;
}

TEST_F(HttpClientTest, ServerThatNeverAnswersTimesOut) {
  ASSERT_TRUE(start_recorder({"--silent"}));
  http_request r;
  r.url = url();
  r.body = "{}";
  http_options o;
  o.timeout = 500ms;
  const auto start = std::chrono::steady_clock::now();
  const http_result result = request(r, o);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(result.error, http_error::timeout) << result.message;
  EXPECT_NE(result.message.find("read"), std::string::npos) << result.message;
  EXPECT_GE(elapsed, 450ms);
  EXPECT_LT(elapsed, 10s) << "the 500 ms deadline must end it";
}

TEST_F(HttpClientTest, HeaderInjectionAndBadInputAreRefusedLocally) {
  ASSERT_TRUE(start_recorder());
  const std::vector<http_request> bad = {
      {"POST", url(), {{"X-A", "1\r\nX-Injected: yes"}}, "{}"},
      {"POST", url(), {{"X-A\r\nX-B", "1"}}, "{}"},
      {"POST", url(), {{"X A", "1"}}, "{}"},
      {"POST", url(), {{"X-A", std::string("a\0b", 3)}}, "{}"},
      {"PO ST", url(), {}, "{}"},
      {"GET\r\nX", url(), {}, ""},
      {"POST", "ftp://127.0.0.1/", {}, ""},
      {"POST", url("/a b"), {}, ""},
      {"POST", "http://user:pw@127.0.0.1:1/", {}, ""},
  };
  for (const auto& r : bad) {
    const http_result result = request(r);
    EXPECT_EQ(result.error, http_error::invalid_request) << r.method << " " << r.url << ": " << result.message;
  }
  EXPECT_TRUE(recorded().empty());
}

TEST_F(HttpClientTest, OversizedResponseIsAProtocolError) {
  ASSERT_TRUE(start_recorder({"--reply", std::string(5000, 'z')}));
  http_request r;
  r.url = url();
  http_options o;
  o.max_response_body = 1000;
  const http_result result = request(r, o);
  EXPECT_EQ(result.error, http_error::protocol_error) << result.message;
}

TEST_F(HttpClientTest, WebhookBodyIsSignedAndVerifiedByTheReceiver) {
  ASSERT_TRUE(start_recorder({"--hmac-key", "topsecret"}));
  webhook_target target;
  target.url = url("/events");
  target.signing.key = "topsecret";
  target.headers = {{"X-Event", "login.abnormal"}};
  const std::string body = R"({"event":"login.abnormal","user":"alice","ip":"10.0.0.1"})";
  const webhook_result result = deliver(target, body);
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.attempts, 1u);
  const auto requests = recorded();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(str(requests[0], "signature_ok"), "true");
  EXPECT_EQ(str(requests[0], "body"), body);
  EXPECT_EQ(header(requests[0], "x-courier-signature"), "sha256=" + hmac_sha256_hex("topsecret", body));
  EXPECT_EQ(header(requests[0], "content-type"), "application/json");
  EXPECT_EQ(header(requests[0], "x-event"), "login.abnormal");
}

TEST_F(HttpClientTest, WebhookWithWrongKeyFailsReceiverVerification) {
  ASSERT_TRUE(start_recorder({"--hmac-key", "topsecret", "--sig-header", "X-Hub-Signature-256"}));
  webhook_target target;
  target.url = url("/events");
  target.signing.key = "not-the-key";
  target.signing.header = "X-Hub-Signature-256";
  ASSERT_TRUE(deliver(target, "{}").ok);
  const auto requests = recorded();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(str(requests[0], "signature_ok"), "false");
}

TEST_F(HttpClientTest, WebhookRetriesThenSucceeds) {
  ASSERT_TRUE(start_recorder({"--fail-first", "2", "--hmac-key", "k"}));
  webhook_target target;
  target.url = url("/retry");
  target.signing.key = "k";
  target.retry.max_attempts = 5;
  target.retry.initial_delay = 100ms;
  target.retry.multiplier = 2.0;
  const auto start = std::chrono::steady_clock::now();
  const webhook_result result = deliver(target, R"({"n":1})");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(result.ok) << result.error;
  EXPECT_EQ(result.attempts, 3u);
  EXPECT_EQ(result.last.status, 200);
  // Backoff waited 100 ms then 200 ms.
  EXPECT_GE(elapsed, 300ms);
  const auto requests = recorded();
  ASSERT_EQ(requests.size(), 3u);
  for (const auto& r : requests) {
    EXPECT_EQ(str(r, "body"), R"({"n":1})");
    EXPECT_EQ(str(r, "signature_ok"), "true");
  }
}

TEST_F(HttpClientTest, WebhookRetriesExhaustedIsAnError) {
  ASSERT_TRUE(start_recorder({"--fail-first", "100"}));
  webhook_target target;
  target.url = url("/down");
  target.retry.max_attempts = 3;
  target.retry.initial_delay = 20ms;
  const webhook_result result = deliver(target, "{}");
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.attempts, 3u);
  EXPECT_EQ(result.last.status, 500);
  EXPECT_NE(result.error.find("HTTP 500"), std::string::npos) << result.error;
  EXPECT_NE(result.error.find("3 attempts"), std::string::npos) << result.error;
  EXPECT_EQ(recorded().size(), 3u);
}

TEST_F(HttpClientTest, WebhookDoesNotRetryPermanentClientErrors) {
  ASSERT_TRUE(start_recorder({"--status", "400"}));
  webhook_target target;
  target.url = url("/bad");
  target.retry.max_attempts = 4;
  target.retry.initial_delay = 10ms;
  const webhook_result result = deliver(target, "{}");
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.attempts, 1u);
  EXPECT_EQ(recorded().size(), 1u);
}

TEST_F(HttpClientTest, WebhookToDeadServerRetriesConnectFailures) {
  webhook_target target;
  target.url = "http://127.0.0.1:" + std::to_string(test::unused_port()) + "/";
  target.retry.max_attempts = 3;
  target.retry.initial_delay = 10ms;
  const webhook_result result = deliver(target, "{}");
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.attempts, 3u);
  EXPECT_EQ(result.last.error, http_error::connect_failed);
}

TEST_F(HttpClientTest, ManyRequestsInParallel) {
  ASSERT_TRUE(start_recorder());
  std::vector<std::future<http_result>> futures;
  for (int i = 0; i < 16; ++i) {
    http_request r;
    r.url = url("/p/" + std::to_string(i));
    r.body = std::to_string(i);
    futures.push_back(http_request_future(io_.executor(), r, {}));
  }
  for (auto& f : futures) {
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    EXPECT_TRUE(f.get().success());
  }
  EXPECT_EQ(recorded().size(), 16u);
}

}  // namespace
}  // namespace courier::mss
