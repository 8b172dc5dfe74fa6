// The message-service flows of issue 5, end to end, driven by a stock
// client (libnats) against real peers: aiosmtpd for mail, the python HTTP
// recorder for SMS and webhooks, an audit file on disk. Every flow runs in
// three deployments:
//  * embedded:    a Courier broker in this process, mss on the in-process bus
//                 (what `courier -c conf` runs), clients over TCP;
//  * courier_tcp: the courier binary as the broker, mss as a TCP client of it
//                 (what `courier --mss-only` runs);
//  * nats_server: Debian's nats-server 2.9.10 as the broker, TWO mss instances
//                 as TCP clients (scale-out): each action must run once.
// The broker config has users with permissions: `mss` (everything), `app`
// (may send actions/events/audit, may not read audit subjects), `auditor`
// (may read audit and dead-letter subjects).
#include <gtest/gtest.h>

#include <filesystem>
#include <set>

#include "broker/server.hpp"
#include "broker_process.hpp"
#include "client/tcp_bus.hpp"
#include "conf/config_loader.hpp"
#include "conf/config_parser.hpp"
#include "libnats_client.hpp"
#include "mss/service/client.hpp"
#include "mss/service/runner.hpp"
#include "test_support.hpp"

namespace courier::mss {
namespace {

using namespace std::chrono_literals;

enum class deployment { embedded, courier_tcp, nats_server };

using test::json_field;
using test::parse_json;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const char* broker_auth_config = R"(
authorization {
  users: [
    { user: mss, password: mss-pass }
    { user: app, password: app-pass, permissions: {
        publish: ["kiam.action.>", "kiam.event.>", "kiam.audit.>"]
        subscribe: ["_INBOX.>"] } }
    { user: auditor, password: auditor-pass, permissions: {
        publish: ["_INBOX.>"]
        subscribe: ["kiam.audit.>", "kiam.deadletter.>", "_INBOX.>"] } }
  ]
}
)";

class MessageServiceFlows : public ::testing::TestWithParam<deployment> {
 protected:
  void SetUp() override {
    smtp_port_ = test::start_server(smtp_, "smtp_server.py", {"--dir", mail_dir_.path()});
    ASSERT_GT(smtp_port_, 0);
    http_port_ = test::start_server(http_, "http_recorder.py", {"--log", http_log(), "--hmac-key", "hooksecret"});
    ASSERT_GT(http_port_, 0);
    smtp_down_port_ = test::unused_port();
    http_down_port_ = test::unused_port();

    const std::string conf_path = work_.file("broker.conf");
    {
      std::ofstream out(conf_path);
      out << broker_auth_config;
    }
    switch (GetParam()) {
      case deployment::embedded: {
        conf::server_options options;
        conf::load_config_string(std::string("listen: 127.0.0.1:0\n") + broker_auth_config + mss_block(0), options);
        options.port = 0;
        options.host = "127.0.0.1";
        server_ = std::make_unique<broker::server>(options);
        server_->start();
        url_ = "nats://127.0.0.1:" + std::to_string(server_->port());
        runners_.push_back(std::make_unique<runner>(server_.get(), options.mss));
        break;
      }
      case deployment::courier_tcp:
      case deployment::nats_server: {
        const bool reference = GetParam() == deployment::nats_server;
        ASSERT_TRUE(process_.start(reference ? test::nats_server_binary() : test::courier_binary(),
                                   {"-c", conf_path}, 0, work_.file("broker.log")));
        url_ = "nats://127.0.0.1:" + std::to_string(process_.port());
        const std::string mss_url = "nats://mss:mss-pass@127.0.0.1:" + std::to_string(process_.port());
        const int instances = reference ? 2 : 1;
        for (int i = 0; i < instances; ++i) {
          const auto document = conf::parse_config_string(mss_block(i));
          runners_.push_back(
              std::make_unique<runner>(nullptr, document.root.get<picojson::object>().at("mss"), mss_url));
          ASSERT_TRUE(static_cast<tcp_bus&>(runners_.back()->messages()).wait_connected(5s));
          ASSERT_TRUE(runners_.back()->messages().flush(5s));
        }
        break;
      }
    }
    app_ = std::make_unique<test::libnats_client>(url_, "app", "app-pass");
    ASSERT_TRUE(app_->connected()) << natsStatus_GetText(app_->connect_status());
  }

  void TearDown() override {
    app_.reset();
    runners_.clear();
    if (server_) server_->shutdown();
  }

  /// The mss block of instance `i` (each instance has its own audit file).
  std::string mss_block(int i) const {
    const std::string smtp = std::to_string(smtp_port_);
    const std::string http = "http://127.0.0.1:" + std::to_string(http_port_);
    const std::string http_down = "http://127.0.0.1:" + std::to_string(http_down_port_);
    return R"(
mss {
  prefix: kiam
  smtp { host: 127.0.0.1, port: )" + smtp + R"(, tls: none, timeout: "5s" }
  event_retry { attempts: 3, initial_delay: "50ms", max_delay: "200ms" }
  handlers {
    mail { type: email, from: "noreply@courier.test", to: "{{to}}", subject: "{{subject}}", body: "{{body}}" }
    mail_down {
      type: email
      smtp { host: 127.0.0.1, port: )" + std::to_string(smtp_down_port_) + R"(, tls: none, timeout: "2s" }
      from: "noreply@courier.test", to: "{{to}}", subject: "{{subject}}", body: "{{body}}"
    }
    email_user { type: email, from: "security@courier.test", to: "{{user.email}}",
                 subject: "Login from {{ip}}", body: "Hello {{user.name}}, a login from {{ip}}." }
    sms_user { type: sms, url: ")" + http + R"(/sms",
               body: "{\"to\":\"{{user.phone}}\",\"text\":\"Login from {{ip}}\"}",
               retry { attempts: 2, initial_delay: "50ms" } }
    hook { type: webhook, url: ")" + http + R"(/hook", secret: hooksecret }
    sms_down { type: sms, url: ")" + http_down + R"(/sms", body: "{\"to\":\"{{user.phone}}\"}",
               timeout: "1s", retry { attempts: 2, initial_delay: "50ms" } }
    audit { type: audit, file: ")" + audit_file(i) + R"(" }
  }
  actions: [
    { action: "email.send", handlers: mail }
    { action: "email.down", handlers: mail_down }
  ]
  events: [
    { event: "login.abnormal", handlers: [email_user, sms_user, hook] }
    { event: "sms.unreachable", handlers: sms_down }
    { event: "ping", handlers: hook }
  ]
}
)";
  }

  std::string http_log() const { return work_.file("http.jsonl"); }
  std::string audit_file(int i) const { return work_.file("audit-" + std::to_string(i) + ".jsonl"); }

  std::vector<picojson::value> mails() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(mail_dir_.path()))
      if (entry.path().extension() == ".json") names.push_back(entry.path().string());
    std::sort(names.begin(), names.end());
    std::vector<picojson::value> out;
    for (const auto& name : names) out.push_back(parse_json(test::read_file(name)));
    return out;
  }

  std::vector<picojson::value> http_requests() const {
    std::vector<picojson::value> out;
    for (const auto& line : test::read_lines(http_log())) out.push_back(parse_json(line));
    return out;
  }

  std::vector<picojson::value> audit_records() const {
    std::vector<picojson::value> out;
    for (std::size_t i = 0; i < runners_.size(); ++i)
      for (const auto& line : test::read_lines(audit_file(static_cast<int>(i)))) out.push_back(parse_json(line));
    return out;
  }

  std::uint64_t total(std::uint64_t dispatcher_stats::*counter) const {
    std::uint64_t sum = 0;
    for (const auto& r : runners_) sum += r->services().stats().*counter;
    return sum;
  }

  test::temp_dir mail_dir_;
  test::temp_dir work_;
  test::child_process smtp_;
  test::child_process http_;
  int smtp_port_ = -1;
  int http_port_ = -1;
  int smtp_down_port_ = -1;
  int http_down_port_ = -1;
  std::unique_ptr<broker::server> server_;
  test::broker_process process_;
  std::string url_;
  std::vector<std::unique_ptr<runner>> runners_;
  std::unique_ptr<test::libnats_client> app_;
};

TEST_P(MessageServiceFlows, ActionSendsAnEmailAndRepliesOnlyAfterIt) {
  const auto r = app_->request("kiam.action.email.send",
                               R"({"to":"alice@example.com","subject":"Welcome","body":"Hello Alice","correlationId":"a-1"})",
                               10s);
  ASSERT_EQ(r.status, NATS_OK) << natsStatus_GetText(r.status);
  const auto reply = parse_json(r.data);
  EXPECT_EQ(json_field(reply, "ok"), "true") << r.data;
  EXPECT_EQ(json_field(reply, "correlationId"), "a-1");
  EXPECT_EQ(json_field(reply, "results.mail.smtp_code"), "250") << r.data;
  // No waiting: the reply means the SMTP server already accepted the mail.
  const auto received = mails();
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(json_field(received[0], "rcpt_tos"), R"(["alice@example.com"])");
  EXPECT_EQ(json_field(received[0], "subject"), "Welcome");
  EXPECT_EQ(json_field(received[0], "body"), "Hello Alice\n");
}

TEST_P(MessageServiceFlows, EventFansOutToEmailSmsAndWebhookWithoutBlockingThePublisher) {
  const std::string event =
      R"({"correlationId":"ev-1","ip":"10.0.0.9","user":{"name":"Bob","email":"bob@example.com","phone":"+33 6 99"}})";
  const auto started = std::chrono::steady_clock::now();
  ASSERT_EQ(app_->publish("kiam.event.login.abnormal", event), NATS_OK);
  ASSERT_EQ(app_->flush(), NATS_OK);
  // An event has no reply: the publisher only waits for its own PING round
  // trip, however long the handlers take (bounded with room for a slow machine).
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  ASSERT_TRUE(test::wait_until([&] { return mails().size() == 1 && http_requests().size() == 2; }, 15s));
  const auto mail = mails()[0];
  EXPECT_EQ(json_field(mail, "rcpt_tos"), R"(["bob@example.com"])");
  EXPECT_EQ(json_field(mail, "subject"), "Login from 10.0.0.9");
  std::set<std::string> paths;
  for (const auto& request : http_requests()) {
    paths.insert(json_field(request, "path"));
    if (json_field(request, "path") == "/hook") {
      EXPECT_EQ(json_field(request, "signature_ok"), "true");
      EXPECT_EQ(json_field(request, "body"), event);
    } else {
      EXPECT_EQ(json_field(parse_json(json_field(request, "body")), "to"), "+33 6 99");
    }
  }
  EXPECT_EQ(paths, (std::set<std::string>{"/hook", "/sms"}));
  std::this_thread::sleep_for(300ms);  // and nothing more arrives
  EXPECT_EQ(mails().size(), 1u);
  EXPECT_EQ(http_requests().size(), 2u);
}

TEST_P(MessageServiceFlows, AuditRecordIsDurableBeforeTheReplyAndHiddenFromUnauthorisedUsers) {
  // `app` may publish audit records but not read them; `auditor` may.
  natsSubscription* snoop = app_->subscribe("kiam.audit.>");
  ASSERT_NE(snoop, nullptr);
  test::libnats_client auditor(url_, "auditor", "auditor-pass");
  ASSERT_TRUE(auditor.connected());
  natsSubscription* watch = auditor.subscribe("kiam.audit.>");
  ASSERT_NE(watch, nullptr);
  ASSERT_EQ(auditor.flush(), NATS_OK);
  app_->flush();

  const auto r = app_->request("kiam.audit.user.deleted", R"({"user":"carol","by":"admin","correlationId":"au-1"})", 10s);
  ASSERT_EQ(r.status, NATS_OK) << natsStatus_GetText(r.status);
  EXPECT_EQ(json_field(parse_json(r.data), "ok"), "true") << r.data;
  // Acknowledged = on disk: read the file right away.
  const auto records = audit_records();
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(json_field(records[0], "subject"), "kiam.audit.user.deleted");
  EXPECT_EQ(json_field(records[0], "message.user"), "carol");
  EXPECT_NE(json_field(records[0], "received"), "<absent>");

  const auto seen = test::libnats_client::next(watch, 5s);
  ASSERT_TRUE(seen.has_value()) << "the auditor reads audit subjects";
  EXPECT_EQ(seen->subject, "kiam.audit.user.deleted");
  EXPECT_FALSE(test::libnats_client::next(snoop, 500ms).has_value()) << "app must not read audit subjects";
  ASSERT_TRUE(test::wait_until([&] { return !app_->async_errors().empty(); }, 5s));
  EXPECT_NE(app_->async_errors()[0].find("Permissions Violation for Subscription to \"kiam.audit.>\""),
            std::string::npos)
      << app_->async_errors()[0];
}

TEST_P(MessageServiceFlows, ExpiredActionIsNotExecuted) {
  const std::string expired = R"({"to":"late@example.com","subject":"s","body":"b","correlationId":"old-1","timestamp":)" +
                              std::to_string(now_ms() - 60000) + R"(,"timeout":1000})";
  const auto r = app_->request("kiam.action.email.send", expired, 10s);
  ASSERT_EQ(r.status, NATS_OK);
  const auto reply = parse_json(r.data);
  EXPECT_EQ(json_field(reply, "ok"), "false");
  EXPECT_NE(json_field(reply, "error").find("expired"), std::string::npos) << r.data;
  // A fresh one with the same fields but a future deadline runs.
  const std::string fresh = R"({"to":"late@example.com","subject":"s","body":"b","correlationId":"new-1","timestamp":)" +
                            std::to_string(now_ms()) + R"(,"timeout":60000})";
  const auto ok = app_->request("kiam.action.email.send", fresh, 10s);
  ASSERT_EQ(ok.status, NATS_OK);
  EXPECT_EQ(json_field(parse_json(ok.data), "ok"), "true") << ok.data;
  EXPECT_EQ(mails().size(), 1u);
  EXPECT_EQ(total(&dispatcher_stats::expired), 1u);
}

TEST_P(MessageServiceFlows, IdempotentRetryIsNotExecutedTwice) {
  const std::string action = R"({"to":"once@example.com","subject":"Once","body":"b","correlationId":"idem-1"})";
  std::vector<std::string> replies;
  for (int i = 0; i < 6; ++i) {
    const auto r = app_->request("kiam.action.email.send", action, 10s);
    ASSERT_EQ(r.status, NATS_OK);
    replies.push_back(r.data);
  }
  for (const auto& reply : replies) EXPECT_EQ(reply, replies[0]);
  EXPECT_EQ(json_field(parse_json(replies[0]), "ok"), "true");
  // The Nats-Msg-Id header is a key too (and wins over the correlationId).
  for (int i = 0; i < 4; ++i) {
    const auto r = app_->request("kiam.action.email.send",
                                 R"({"to":"hdr@example.com","subject":"Hdr","body":"b","correlationId":"c-)" +
                                     std::to_string(i) + R"("})",
                                 10s, "msg-77");
    ASSERT_EQ(r.status, NATS_OK);
  }
  std::this_thread::sleep_for(300ms);
  const auto received = mails();
  ASSERT_EQ(received.size(), 2u) << "each key must send exactly one mail";
  EXPECT_EQ(json_field(received[0], "subject"), "Once");
  EXPECT_EQ(json_field(received[1], "subject"), "Hdr");
}

TEST_P(MessageServiceFlows, SmtpDownGivesAClearErrorInTimeAndNothingElseStalls) {
  std::promise<test::nats_reply> down_reply;
  std::thread caller([&] {
    test::libnats_client other(url_, "app", "app-pass");
    down_reply.set_value(other.request("kiam.action.email.down",
                                       R"({"to":"x@example.com","subject":"s","body":"b","correlationId":"down-1"})",
                                       8s));
  });
  // Meanwhile, other actions and events go through.
  const auto ok = app_->request("kiam.action.email.send", R"({"to":"y@example.com","subject":"Fine","body":"b"})", 8s);
  EXPECT_EQ(ok.status, NATS_OK);
  EXPECT_EQ(json_field(parse_json(ok.data), "ok"), "true");
  ASSERT_EQ(app_->publish("kiam.event.ping", R"({"correlationId":"p-1"})"), NATS_OK);
  ASSERT_TRUE(test::wait_until([&] { return http_requests().size() == 1; }, 10s));

  auto future = down_reply.get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  const auto r = future.get();
  caller.join();
  ASSERT_EQ(r.status, NATS_OK) << "a clear error reply, not a timeout: " << natsStatus_GetText(r.status);
  const auto reply = parse_json(r.data);
  EXPECT_EQ(json_field(reply, "ok"), "false");
  EXPECT_NE(json_field(reply, "error").find("mail_down"), std::string::npos) << r.data;
  EXPECT_EQ(json_field(reply, "correlationId"), "down-1");
}

TEST_P(MessageServiceFlows, HttpTargetDownIsRetriedThenDeadLettered) {
  test::libnats_client auditor(url_, "auditor", "auditor-pass");
  ASSERT_TRUE(auditor.connected());
  natsSubscription* dead = auditor.subscribe("kiam.deadletter.>");
  ASSERT_EQ(auditor.flush(), NATS_OK);
  ASSERT_EQ(app_->publish("kiam.event.sms.unreachable", R"({"correlationId":"dl-1","user":{"phone":"+1 555"}})"),
            NATS_OK);
  const auto letter = test::libnats_client::next(dead, 15s);
  ASSERT_TRUE(letter.has_value());
  EXPECT_EQ(letter->subject, "kiam.deadletter.sms_down");
  const auto body = parse_json(letter->data);
  EXPECT_EQ(json_field(body, "correlationId"), "dl-1");
  EXPECT_EQ(json_field(body, "subject"), "kiam.event.sms.unreachable");
  // sms_down's own retry policy (2 attempts) replaces event_retry (3).
  EXPECT_EQ(json_field(body, "attempts"), "2") << letter->data;
  EXPECT_NE(json_field(body, "error"), "<absent>");
  EXPECT_EQ(json_field(body, "message.user.phone"), "+1 555");
  EXPECT_EQ(total(&dispatcher_stats::dead_letters), 1u);
  // Two runs, one request each, both failed (not 3 x 2: issue 18).
  EXPECT_EQ(total(&dispatcher_stats::handler_failures), 2u);
}

TEST_P(MessageServiceFlows, UnknownActionGetsNoRespondersAtOnce) {
  const auto started = std::chrono::steady_clock::now();
  const auto r = app_->request("kiam.action.nobody.home", R"({"x":1})", 30s);
  EXPECT_EQ(r.status, NATS_NO_RESPONDERS) << natsStatus_GetText(r.status);
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s) << "at once, not at the 30 s timeout";
}

TEST_P(MessageServiceFlows, BadInputGetsAClearErrorAndNeverACrash) {
  const auto check_refused = [&](const std::string& payload, const std::string& expected_in_error) {
    const auto r = app_->request("kiam.action.email.send", payload, 10s);
    ASSERT_EQ(r.status, NATS_OK) << natsStatus_GetText(r.status);
    const auto reply = parse_json(r.data);
    EXPECT_EQ(json_field(reply, "ok"), "false") << r.data;
    EXPECT_NE(json_field(reply, "error").find(expected_in_error), std::string::npos) << r.data;
  };
  check_refused("this is not json", "JSON");
  check_refused("[1,2,3]", "JSON object");
  check_refused(R"({"subject":"no recipient","body":"b"})", "to");
  check_refused(R"({"to":"a@example.com","subject":"Hi\r\nBcc: victim@example.com","body":"b"})", "subject");
  check_refused(R"({"to":"a@example.com\r\nRCPT TO:<x@y>","subject":"s","body":"b"})", "to");
  // A large but allowed payload (close to the 1 MiB max_payload).
  const std::string big = R"({"to":"big@example.com","subject":"Big","body":")" + std::string(1000 * 1000, 'x') + "\"}";
  const auto r = app_->request("kiam.action.email.send", big, 20s);
  ASSERT_EQ(r.status, NATS_OK);
  EXPECT_EQ(json_field(parse_json(r.data), "ok"), "true") << r.data.substr(0, 300);
  // Bad events are logged, not fatal.
  ASSERT_EQ(app_->publish("kiam.event.login.abnormal", "{{{"), NATS_OK);
  ASSERT_EQ(app_->publish("kiam.event.login.abnormal", R"({"ip":"1.2.3.4"})"), NATS_OK);
  ASSERT_EQ(app_->flush(), NATS_OK);
  // Still serving.
  const auto after = app_->request("kiam.action.email.send", R"({"to":"after@example.com","subject":"After","body":"b"})", 10s);
  ASSERT_EQ(after.status, NATS_OK);
  EXPECT_EQ(json_field(parse_json(after.data), "ok"), "true");
  // Only the two good actions sent mail: nothing malformed reached SMTP.
  ASSERT_TRUE(test::wait_until([&] { return mails().size() == 2; }));
  for (const auto& mail : mails()) EXPECT_EQ(json_field(mail, "data").find("victim"), std::string::npos);
}

TEST_P(MessageServiceFlows, EachActionRunsExactlyOnceWhateverTheNumberOfInstances) {
  constexpr int actions = 20;
  for (int i = 0; i < actions; ++i) {
    const auto r = app_->request("kiam.action.email.send",
                                 R"({"to":"n)" + std::to_string(i) + R"(@example.com","subject":"N","body":"b"})", 10s);
    ASSERT_EQ(r.status, NATS_OK);
  }
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(mails().size(), static_cast<std::size_t>(actions));
  EXPECT_EQ(total(&dispatcher_stats::received), static_cast<std::uint64_t>(actions));
  if (runners_.size() > 1) {
    for (const auto& r : runners_) EXPECT_GT(r->services().stats().received, 0u) << "queue group spreads the work";
  }
}

TEST_P(MessageServiceFlows, MscClientOverTcpGivesResultsAndClearErrors) {
  tcp_bus_options options;
  options.urls = "nats://app:app-pass@127.0.0.1:" + url_.substr(url_.rfind(':') + 1);
  tcp_bus bus(options);
  ASSERT_TRUE(bus.wait_connected(5s));
  client msc(bus, "kiam");
  const auto ok = msc.action("email.send", R"({"to":"msc@example.com","subject":"From msc","body":"b"})", 10s);
  EXPECT_TRUE(ok) << ok.error;
  EXPECT_EQ(mails().size(), 1u);

  const auto none = msc.action("no.such.action", R"({})", 5s);
  EXPECT_EQ(none.failure, action_failure::no_handler);
  EXPECT_NE(none.error.find("no handler"), std::string::npos) << none.error;

  const auto down = msc.action("email.down", R"({"to":"a@example.com","subject":"s","body":"b"})", 10s);
  EXPECT_EQ(down.failure, action_failure::refused);
  EXPECT_NE(down.error.find("mail_down"), std::string::npos) << down.error;

  const auto audited = msc.audit_confirmed("login.ok", R"({"user":"dave"})", 10s);
  EXPECT_TRUE(audited) << audited.error;
  EXPECT_EQ(audit_records().size(), 1u);

  msc.event("ping", R"({"from":"msc"})");
  ASSERT_TRUE(test::wait_until([&] { return http_requests().size() == 1; }));

  const auto bad_name = msc.action("has space", "{}", 1s);
  EXPECT_EQ(bad_name.failure, action_failure::invalid);
}

INSTANTIATE_TEST_SUITE_P(Deployments, MessageServiceFlows,
                         ::testing::Values(deployment::embedded, deployment::courier_tcp, deployment::nats_server),
                         [](const auto& info) {
                           switch (info.param) {
                             case deployment::embedded: return std::string("embedded");
                             case deployment::courier_tcp: return std::string("courier_tcp");
                             case deployment::nats_server: return std::string("nats_server_two_instances");
                           }
                           return std::string("unknown");
                         });

}  // namespace
}  // namespace courier::mss
