// Handlers built from an `mss` config block written in the real config
// language, run against real servers: email via aiosmtpd, sms and webhook
// via the python HTTP recorder, audit into a file, log into a sink.
// Covers fan-out of one message to several handlers and bad input.
#include "mss/config/handler_config.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>

#include "conf/config_parser.hpp"
#include "mss/handlers/email_handler.hpp"
#include "test_support.hpp"

namespace courier::mss {
namespace {

using namespace std::chrono_literals;
using test::child_process;
using test::temp_dir;

using test::json_field;
using test::parse_json;

class HandlerConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    smtp_port_ = test::start_server(smtp_, "smtp_server.py", {"--dir", mail_dir_.path()});
    ASSERT_GT(smtp_port_, 0);
    http_port_ = test::start_server(http_, "http_recorder.py", {"--log", http_log(), "--hmac-key", "hooksecret"});
    ASSERT_GT(http_port_, 0);
  }

  std::string http_log() const { return work_.file("http.jsonl"); }
  std::string audit_file() const { return work_.file("audit.jsonl"); }

  std::string config_text() const {
    const std::string http = "http://127.0.0.1:" + std::to_string(http_port_);
    return R"(
      mss {
        smtp { host: 127.0.0.1, port: )" + std::to_string(smtp_port_) + R"(, tls: none, timeout: "5s" }
        handlers {
          email_user {
            type: email
            from: "security@courier.test"
            from_name: "Courier Security"
            to: "{{user.email}}"
            subject: "Login from {{ip}}"
            body: "Hello {{user.name}},\nwe saw a login from {{ip}}.\n"
          }
          sms_user {
            type: sms
            url: ")" + http + R"(/sms?to={{user.phone}}"
            headers { Authorization: "Bearer gw-token", X-User: "{{user.name}}" }
            body: "{\"to\":\"{{user.phone}}\",\"text\":\"Login from {{ip}} for {{user.name}}\"}"
            timeout: 2000
            retry { attempts: 2, initial_delay: "50ms" }
          }
          hook {
            type: webhook
            url: ")" + http + R"(/hook"
            secret: hooksecret
          }
          audit { type: audit, file: ")" + audit_file() + R"(", max_bytes: 1048576, max_files: 3 }
          log { type: log }
        }
      }
    )";
  }

  bool build(handler_set& set, std::string& error) {
    const auto document = conf::parse_config_string(config_text());
    config_fault fault;
    handler_build_options options;
    options.sink = [this](const std::string& line) {
      std::lock_guard lock(log_mutex_);
      log_lines_.push_back(line);
    };
    const bool ok =
        build_handlers(document.root.get<picojson::object>().at("mss"), io_.executor(), set, fault, options);
    error = fault.message;
    return ok;
  }

  handler_result run(handler& h, const std::shared_ptr<const handler_input>& input) {
    auto promise = std::make_shared<std::promise<handler_result>>();
    auto future = promise->get_future();
    h.run(input, [promise](handler_result r) { promise->set_value(std::move(r)); });
    if (future.wait_for(30s) != std::future_status::ready) {
      ADD_FAILURE() << "handler did not complete";
      return {};
    }
    return future.get();
  }

  std::vector<picojson::value> mails() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(mail_dir_.path()))
      if (entry.path().extension() == ".json") names.push_back(entry.path().string());
    std::sort(names.begin(), names.end());
    std::vector<picojson::value> out;
    for (const auto& name : names) out.push_back(parse_json(test::read_file(name)));
    return out;
  }

  std::vector<picojson::value> requests() const {
    std::vector<picojson::value> out;
    for (const auto& line : test::read_lines(http_log())) out.push_back(parse_json(line));
    return out;
  }

  static std::shared_ptr<const handler_input> login_event(const std::string& name = "Alice") {
    return handler_input::make("kiam.event.login.abnormal", "login.abnormal",
                               R"({"correlationId":"corr-7","ip":"10.0.0.1","user":{"name":")" + name +
                                   R"(","email":"alice@example.com","phone":"+33 6 12"}})");
  }

  temp_dir mail_dir_;
  temp_dir work_;
  child_process smtp_;
  child_process http_;
  int smtp_port_ = -1;
  int http_port_ = -1;
  test::io_thread io_;
  std::mutex log_mutex_;
  std::vector<std::string> log_lines_;
};

TEST_F(HandlerConfigTest, EventFansOutToEmailSmsWebhookAuditAndLog) {
  handler_set set;
  std::string error;
  ASSERT_TRUE(build(set, error)) << error;
  ASSERT_EQ(set.by_name.size(), 5u);
  const auto input = login_event();
  // Start all handlers at once, as the dispatcher does for an event.
  std::vector<std::future<handler_result>> results;
  for (const char* name : {"email_user", "sms_user", "hook", "audit", "log"}) {
    auto h = set.find(name);
    ASSERT_NE(h, nullptr) << name;
    auto promise = std::make_shared<std::promise<handler_result>>();
    results.push_back(promise->get_future());
    h->run(input, [promise](handler_result r) { promise->set_value(std::move(r)); });
  }
  for (auto& f : results) {
    ASSERT_EQ(f.wait_for(30s), std::future_status::ready);
    const auto r = f.get();
    EXPECT_TRUE(r.ok) << r.error;
  }

  ASSERT_TRUE(test::wait_until([&] { return mails().size() == 1; }));
  const auto mail = mails()[0];
  EXPECT_EQ(json_field(mail, "rcpt_tos"), R"(["alice@example.com"])");
  EXPECT_EQ(json_field(mail, "subject"), "Login from 10.0.0.1");
  EXPECT_EQ(json_field(mail, "from"), "Courier Security <security@courier.test>");
  EXPECT_EQ(json_field(mail, "body"), "Hello Alice,\nwe saw a login from 10.0.0.1.\n");

  const auto reqs = requests();
  ASSERT_EQ(reqs.size(), 2u);
  const picojson::value* sms = nullptr;
  const picojson::value* hook = nullptr;
  for (const auto& r : reqs) (json_field(r, "path").rfind("/sms", 0) == 0 ? sms : hook) = &r;
  ASSERT_TRUE(sms && hook);
  EXPECT_EQ(json_field(*sms, "path"), "/sms?to=%2B33%206%2012");
  EXPECT_EQ(json_field(*sms, "headers.authorization"), "Bearer gw-token");
  EXPECT_EQ(json_field(*sms, "headers.x-user"), "Alice");
  const auto sms_body = parse_json(json_field(*sms, "body"));
  EXPECT_EQ(json_field(sms_body, "to"), "+33 6 12");
  EXPECT_EQ(json_field(sms_body, "text"), "Login from 10.0.0.1 for Alice");
  EXPECT_EQ(json_field(*hook, "body"), input->payload);  // raw payload
  EXPECT_EQ(json_field(*hook, "signature_ok"), "true");

  const auto audit_lines = test::read_lines(audit_file());
  ASSERT_EQ(audit_lines.size(), 1u);
  const auto record = parse_json(audit_lines[0]);
  EXPECT_EQ(json_field(record, "subject"), "kiam.event.login.abnormal");
  EXPECT_EQ(json_field(record, "correlationId"), "corr-7");
  EXPECT_EQ(json_field(record, "message.ip"), "10.0.0.1");

  std::lock_guard lock(log_mutex_);
  ASSERT_EQ(log_lines_.size(), 1u);
  EXPECT_NE(log_lines_[0].find("correlationId=corr-7"), std::string::npos) << log_lines_[0];
  EXPECT_NE(log_lines_[0].find("subject=kiam.event.login.abnormal"), std::string::npos);
}

TEST_F(HandlerConfigTest, InjectionInPayloadFieldsIsRefusedWithClearErrors) {
  handler_set set;
  std::string error;
  ASSERT_TRUE(build(set, error)) << error;
  // A name with CR/LF: the email subject is fine but the SMS header X-User
  // and the email body use it; the header use must be refused.
  const auto evil = login_event("Eve\\r\\nBcc: victim@example.com");  // JSON-escaped CR LF
  auto r = run(*set.find("sms_user"), evil);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("X-User"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("CR/LF"), std::string::npos) << r.error;
  // Email: the body may contain line breaks, so it is sent; the header
  // fields do not use the name.
  r = run(*set.find("email_user"), evil);
  EXPECT_TRUE(r.ok) << r.error;
  // But an address with CR/LF is refused before any SMTP traffic.
  const auto evil_address = handler_input::make(
      "kiam.action.mail", "mail", R"({"ip":"1.2.3.4","user":{"name":"x","email":"a@b.c\r\nRCPT TO:<v@w.x>"}})");  // \r\n JSON escapes
  r = run(*set.find("email_user"), evil_address);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("CR/LF"), std::string::npos) << r.error;
  ASSERT_TRUE(test::wait_until([&] { return mails().size() == 1; }));
  EXPECT_EQ(json_field(mails()[0], "rcpt_tos"), R"(["alice@example.com"])");
  EXPECT_TRUE(requests().empty());
}

TEST_F(HandlerConfigTest, MissingFieldsAndNonJsonPayloadsFailClearly) {
  handler_set set;
  std::string error;
  ASSERT_TRUE(build(set, error)) << error;
  auto r = run(*set.find("email_user"), handler_input::make("s", "n", R"({"ip":"1.2.3.4"})"));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("missing field: user.email"), std::string::npos) << r.error;
  r = run(*set.find("email_user"), handler_input::make("s", "n", "not json"));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("JSON"), std::string::npos) << r.error;
  r = run(*set.find("sms_user"), handler_input::make("s", "n", "not json"));
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("not JSON"), std::string::npos) << r.error;
  // The webhook forwards any payload, JSON or not; audit records it as a string.
  r = run(*set.find("hook"), handler_input::make("s", "n", "not json"));
  EXPECT_TRUE(r.ok) << r.error;
  r = run(*set.find("audit"), handler_input::make("s", "n", std::string(200000, 'h')));
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(mails().empty());
  EXPECT_EQ(requests().size(), 1u);
}

TEST_F(HandlerConfigTest, SmtpDownIsAClearErrorWithinTheTimeout) {
  smtp_.stop();
  handler_set set;
  std::string error;
  ASSERT_TRUE(build(set, error)) << error;
  const auto start = std::chrono::steady_clock::now();
  const auto r = run(*set.find("email_user"), login_event());
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("cannot connect"), std::string::npos) << r.error;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(json_field(picojson::value(r.details), "smtp_error"), "connect_failed");
}

TEST(HandlerConfigErrors, BadDefinitionsAreReportedWithTheirName) {
  test::io_thread io;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"(mss { handlers { a { type: fax } } })", "mss.handlers.a: unknown handler type"},
      {R"(mss { handlers { a { kind: log } } })", "mss.handlers.a: missing 'type'"},
      {R"(mss { handlers { a { type: log, colour: red } } })", "unknown key 'colour'"},
      {R"(mss { handlers { a { type: email, from: "x@y.z", to: "a@b.c", subject: s, body: b } } })",
       "no 'smtp' block"},
      {R"(mss { smtp { port: 99999 } })", "mss.smtp: 'port'"},
      {R"(mss { smtp { tls: maybe } })", "'tls' must be"},
      {R"(mss { smtp {}, handlers { a { type: email, from: "x@y.z", to: "a@b.c", subject: "{{oops", body: b } } })",
       "subject template: unterminated"},
      {R"(mss { handlers { a { type: webhook } } })", "missing 'url'"},
      {R"(mss { handlers { a { type: sms, url: "http://h/", timeout: "soon" } } })", "invalid duration"},
      {R"(mss { handlers { a { type: sms, url: "http://h/", retry { attempts: 0 } } } })", "'attempts'"},
      {R"(mss { handlers { a { type: audit, file: "/nonexistent-courier-dir/a.jsonl" } } })", "cannot open audit log"},
  };
  for (const auto& [text, expected] : cases) {
    const auto document = conf::parse_config_string(text);
    handler_set set;
    config_fault fault;
    EXPECT_FALSE(build_handlers(document.root.get<picojson::object>().at("mss"), io.executor(), set, fault)) << text;
    EXPECT_NE(fault.message.find(expected), std::string::npos) << text << " -> " << fault.message;
  }
}

}  // namespace
}  // namespace courier::mss
