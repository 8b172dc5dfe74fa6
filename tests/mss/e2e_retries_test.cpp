// Issue 18, part 2, through the courier executable: retrying has one owner
// (the dispatcher) and one policy per handler run, never a product of two.
// Peers that always fail count what they receive: aiosmtpd answers every
// DATA with 451 and logs it, the HTTP recorder answers 500 and logs every
// request. For email, SMS and webhook handlers alike, with and without a
// `retry` policy of their own under an `event_retry`, the peer sees
// exactly the policy's attempts, and the dead letter's `attempts` is that
// number. Actions: one request, or the handler's own policy.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "broker_process.hpp"
#include "libnats_client.hpp"
#include "test_support.hpp"

namespace courier::mss {
namespace {

using namespace std::chrono_literals;

class RetryOwnership : public ::testing::Test {
 protected:
  void SetUp() override {
    smtp_port_ = test::start_server(smtp_, "smtp_server.py", {"--dir", mail_dir_.path(), "--fail-first", "1000000"});
    ASSERT_GT(smtp_port_, 0) << "aiosmtpd (python3-aiosmtpd) is required";
    http_port_ = test::start_server(http_, "http_recorder.py", {"--log", http_log(), "--fail-first", "1000000"});
    ASSERT_GT(http_port_, 0) << "the HTTP recorder (python3) is required";
  }

  std::string http_log() const { return work_.file("http.jsonl"); }

  /// The config: `own_` handlers have `retry { attempts: 2 }`, the others
  /// none; event_retry says 3. Every handler has its own URL path or
  /// recipient, so that each one's requests can be counted apart.
  std::string config() const {
    const std::string http = "http://127.0.0.1:" + std::to_string(http_port_);
    const std::string own = R"(retry { attempts: 2, initial_delay: "20ms" })";
    return R"(
mss {
  prefix: shop
  event_retry { attempts: 3, initial_delay: "20ms", max_delay: "100ms" }
  smtp { host: 127.0.0.1, port: )" + std::to_string(smtp_port_) + R"(, tls: none, timeout: "10s" }
  handlers {
    mail      { type: email, from: "shop@courier.test", to: "default@example.com", subject: "s", body: "b" }
    own_mail  { type: email, from: "shop@courier.test", to: "own@example.com", subject: "s", body: "b", )" + own + R"( }
    sms       { type: sms, url: ")" + http + R"(/sms", body: "{\"to\":\"{{phone}}\"}" }
    own_sms   { type: sms, url: ")" + http + R"(/own_sms", body: "{\"to\":\"{{phone}}\"}", )" + own + R"( }
    hook      { type: webhook, url: ")" + http + R"(/hook" }
    own_hook  { type: webhook, url: ")" + http + R"(/own_hook", )" + own + R"( }
    act_hook  { type: webhook, url: ")" + http + R"(/act_hook" }
    act_own   { type: webhook, url: ")" + http + R"(/act_own", )" + own + R"( }
  }
  events: [
    { event: "order.failed", handlers: [mail, own_mail, sms, own_sms, hook, own_hook] }
  ]
  actions: [
    { action: "notify.default", handlers: act_hook }
    { action: "notify.own", handlers: act_own }
  ]
}
)";
  }

  /// HTTP requests the recorder received, by path.
  std::map<std::string, int> http_requests() const {
    std::map<std::string, int> out;
    for (const auto& line : test::read_lines(http_log())) ++out[test::json_field(test::parse_json(line), "path")];
    return out;
  }

  /// DATA commands aiosmtpd received, by recipient.
  std::map<std::string, int> smtp_transactions() const {
    std::map<std::string, int> out;
    for (const auto& line : test::read_lines(mail_dir_.file("attempts.jsonl"))) {
      const auto record = test::parse_json(line);
      const auto rcpt = test::parse_json(test::json_field(record, "rcpt_tos"));  // a list, serialized
      ++out[rcpt.is<picojson::array>() && !rcpt.get<picojson::array>().empty()
                ? rcpt.get<picojson::array>()[0].to_str()
                : "?"];
    }
    return out;
  }

  test::temp_dir mail_dir_;
  test::temp_dir work_;
  test::child_process smtp_;
  test::child_process http_;
  int smtp_port_ = -1;
  int http_port_ = -1;
};

TEST_F(RetryOwnership, PeerSeesThePolicysAttemptsAndTheDeadLetterSaysSo) {
  const std::string conf = work_.file("courier.conf");
  std::ofstream(conf) << config();
  test::broker_process courier;
  ASSERT_TRUE(courier.start(test::courier_binary(), {"-c", conf}, 0, work_.file("courier.log")))
      << test::read_file(work_.file("courier.log"));
  test::libnats_client app(courier.url());
  ASSERT_TRUE(app.connected());
  natsSubscription* dead = app.subscribe("shop.deadletter.>");
  ASSERT_NE(dead, nullptr);
  ASSERT_EQ(app.flush(), NATS_OK);

  ASSERT_EQ(app.publish("shop.event.order.failed", R"({"correlationId":"r-1","phone":"+1 555"})"), NATS_OK);
  // A dead letter is published after the handler's last attempt ended, so
  // once all six are in, the peers' counts are final.
  std::map<std::string, std::string> letters;  // handler -> attempts
  while (letters.size() < 6) {
    const auto letter = test::libnats_client::next(dead, 60s);
    ASSERT_TRUE(letter.has_value()) << "dead letters so far: " << letters.size() << "\n"
                                    << test::read_file(work_.file("courier.log"));
    const auto body = test::parse_json(letter->data);
    EXPECT_EQ(test::json_field(body, "correlationId"), "r-1");
    letters[test::json_field(body, "handler")] = test::json_field(body, "attempts");
  }

  const auto http = http_requests();
  const auto smtp = smtp_transactions();
  // Handlers with their own policy: 2 requests (not 2 x 3).
  EXPECT_EQ(smtp.count("own@example.com") ? smtp.at("own@example.com") : 0, 2);
  EXPECT_EQ(http.count("/own_sms") ? http.at("/own_sms") : 0, 2);
  EXPECT_EQ(http.count("/own_hook") ? http.at("/own_hook") : 0, 2);
  // Handlers without: event_retry's 3.
  EXPECT_EQ(smtp.count("default@example.com") ? smtp.at("default@example.com") : 0, 3);
  EXPECT_EQ(http.count("/sms") ? http.at("/sms") : 0, 3);
  EXPECT_EQ(http.count("/hook") ? http.at("/hook") : 0, 3);
  // The dead letter's attempts are the requests the peer received.
  EXPECT_EQ(letters["own_mail"], std::to_string(smtp.at("own@example.com")));
  EXPECT_EQ(letters["own_sms"], std::to_string(http.at("/own_sms")));
  EXPECT_EQ(letters["own_hook"], std::to_string(http.at("/own_hook")));
  EXPECT_EQ(letters["mail"], std::to_string(smtp.at("default@example.com")));
  EXPECT_EQ(letters["sms"], std::to_string(http.at("/sms")));
  EXPECT_EQ(letters["hook"], std::to_string(http.at("/hook")));
}

TEST_F(RetryOwnership, ActionsTryOnceUnlessTheHandlerHasItsOwnPolicy) {
  const std::string conf = work_.file("courier.conf");
  std::ofstream(conf) << config();
  test::broker_process courier;
  ASSERT_TRUE(courier.start(test::courier_binary(), {"-c", conf}, 0, work_.file("courier.log")));
  test::libnats_client app(courier.url());
  ASSERT_TRUE(app.connected());
  // The reply comes after the handler's last attempt.
  const auto once = app.request("shop.action.notify.default", "{}", 30s);
  ASSERT_EQ(once.status, NATS_OK) << natsStatus_GetText(once.status);
  EXPECT_EQ(test::json_field(test::parse_json(once.data), "ok"), "false") << once.data;
  const auto own = app.request("shop.action.notify.own", "{}", 30s);
  ASSERT_EQ(own.status, NATS_OK) << natsStatus_GetText(own.status);
  EXPECT_EQ(test::json_field(test::parse_json(own.data), "ok"), "false") << own.data;
  const auto http = http_requests();
  EXPECT_EQ(http.count("/act_hook") ? http.at("/act_hook") : 0, 1) << "event_retry is for events only";
  EXPECT_EQ(http.count("/act_own") ? http.at("/act_own") : 0, 2);
}

}  // namespace
}  // namespace courier::mss
