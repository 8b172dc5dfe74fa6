// Dispatcher: actions, events and audit messages routed to real handlers
// (email to aiosmtpd, webhook to the HTTP recorder, audit to a file):
// reply only after the effect, idempotent repeats, expiry, retries then
// dead letter, audit acknowledgement after durability.
#include "mss/handlers/dispatcher.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>

#include "conf/config_parser.hpp"
#include "mss/config/dispatcher_config.hpp"
#include "mss/handlers/idempotency_cache.hpp"
#include "test_support.hpp"

namespace courier::mss {
namespace {

using namespace std::chrono_literals;
using test::child_process;
using test::temp_dir;

using test::json_field;
using test::parse_json;

route_table rules(const std::string& json) {
  route_table table;
  std::string error;
  EXPECT_TRUE(table.load(parse_json(json), error)) << error;
  return table;
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    smtp_port_ = test::start_server(smtp_, "smtp_server.py", {"--dir", mail_dir_.path()});
    ASSERT_GT(smtp_port_, 0);
    http_port_ = test::start_server(http_, "http_recorder.py", {"--log", work_.file("http.jsonl"), "--fail-first", "1000"});
    ASSERT_GT(http_port_, 0);
    const std::string config = R"(
      mss {
        smtp { host: 127.0.0.1, port: )" + std::to_string(smtp_port_) + R"(, tls: none, timeout: "3s" }
        handlers {
          email_user { type: email, from: "mss@courier.test", to: "{{to}}", subject: "{{subject}}", body: "{{body}}" }
          hook { type: webhook, url: "http://127.0.0.1:)" + std::to_string(http_port_) + R"(/h",
                 retry { attempts: 2, initial_delay: "20ms" } }
          templated { type: sms, url: "http://127.0.0.1:)" + std::to_string(http_port_) + R"(/s", body: "{{missing.field}}" }
          audit { type: audit, file: ")" + work_.file("audit.jsonl") + R"(" }
          log { type: log }
        }
      }
    )";
    const auto document = conf::parse_config_string(config);
    config_fault fault;
    handler_build_options build;
    build.sink = [this](const std::string& line) { remember(line); };
    ASSERT_TRUE(
        build_handlers(document.root.get<picojson::object>().at("mss"), io_.executor(), handlers_, fault, build))
        << fault.message;
    dispatcher_options options;
    options.prefix = "kiam";
    options.event_retry.max_attempts = 3;
    options.event_retry.initial_delay = 20ms;
    dispatcher_ = std::make_unique<dispatcher>(
        io_.executor(), options,
        rules(R"([{"action":"send_email","handlers":"email_user"},
                  {"action":"mail.*","when":{"order":"deliver"},"handlers":"email_user"}])"),
        rules(R"([{"event":"login.abnormal","handlers":["hook","log"]},
                  {"event":"bad.template","handlers":"templated"},
                  {"event":"login.*","handlers":"log"}])"),
        route_table{}, handlers_,
        [this](const std::string& subject, const std::string& payload) {
          std::lock_guard lock(mutex_);
          published_.emplace_back(subject, payload);
        },
        [this](const std::string& line) { remember(line); });
  }

  // As service::~service does: stop the audit writers before the
  // dispatcher, handlers and io_context go. A completion the writer thread
  // is still holding (just after it answered a request()) owns the audit
  // handler and the retry state, whose timer belongs to io_; released
  // there after the fixture's members, it destroyed the audit log on its
  // own thread (std::terminate) or the timer after its io_context
  // (heap-use-after-free under ASan).
  ~DispatcherTest() override {
    for (const auto& log : handlers_.audit_logs) log->close();
  }

  void remember(const std::string& line) {
    std::lock_guard lock(mutex_);
    log_.push_back(line);
  }

  /// Sends a message and waits for its reply.
  picojson::value request(const std::string& subject, const std::string& payload, const std::string& msg_id = {}) {
    auto promise = std::make_shared<std::promise<std::string>>();
    auto future = promise->get_future();
    dispatcher_->on_message(subject, payload, [promise](const std::string& r) { promise->set_value(r); }, msg_id);
    if (future.wait_for(30s) != std::future_status::ready) {
      ADD_FAILURE() << "no reply";
      return {};
    }
    return parse_json(future.get());
  }

  std::size_t mail_count() const {
    std::size_t n = 0;
    for (const auto& entry : std::filesystem::directory_iterator(mail_dir_.path()))
      n += entry.path().extension() == ".json";
    return n;
  }

  std::size_t http_count() const { return test::read_lines(work_.file("http.jsonl")).size(); }

  temp_dir mail_dir_;
  temp_dir work_;
  child_process smtp_;
  child_process http_;
  int smtp_port_ = -1;
  int http_port_ = -1;
  test::io_thread io_;
  handler_set handlers_;
  std::unique_ptr<dispatcher> dispatcher_;
  std::mutex mutex_;
  std::vector<std::string> log_;
  std::vector<std::pair<std::string, std::string>> published_;
};

const char* mail_payload = R"({"correlationId":"m-1","to":"alice@example.com","subject":"Hi","body":"Body"})";

TEST_F(DispatcherTest, ClassifyAndSubscriptions) {
  EXPECT_EQ(dispatcher_->classify("kiam.action.send_email"), std::make_pair(message_kind::action, std::string("send_email")));
  EXPECT_EQ(dispatcher_->classify("kiam.event.a.b"), std::make_pair(message_kind::event, std::string("a.b")));
  EXPECT_EQ(dispatcher_->classify("kiam.audit.x"), std::make_pair(message_kind::audit, std::string("x")));
  EXPECT_FALSE(dispatcher_->classify("kiam.action"));
  EXPECT_FALSE(dispatcher_->classify("kiam.action."));
  EXPECT_FALSE(dispatcher_->classify("other.action.x"));
  EXPECT_FALSE(dispatcher_->classify("kiamx.action.x"));
  std::vector<std::string> subjects;
  for (const auto& s : dispatcher_->subscriptions()) {
    subjects.push_back(s.subject);
    EXPECT_EQ(s.queue, "mss");
  }
  EXPECT_EQ(subjects, (std::vector<std::string>{"kiam.action.send_email", "kiam.action.mail.*",
                                                "kiam.event.login.abnormal", "kiam.event.bad.template",
                                                "kiam.event.login.*", "kiam.audit.>"}));
}

TEST_F(DispatcherTest, ActionRepliesAfterTheMailIsDelivered) {
  std::size_t mails_at_reply = 0;
  auto promise = std::make_shared<std::promise<std::string>>();
  dispatcher_->on_message("kiam.action.send_email", mail_payload, [&, promise](const std::string& r) {
    mails_at_reply = mail_count();
    promise->set_value(r);
  });
  auto future = promise->get_future();
  ASSERT_EQ(future.wait_for(30s), std::future_status::ready);
  const auto reply = parse_json(future.get());
  EXPECT_EQ(json_field(reply, "ok"), "true");
  EXPECT_EQ(json_field(reply, "correlationId"), "m-1");
  EXPECT_EQ(json_field(reply, "results.email_user.smtp_code"), "250");
  EXPECT_EQ(mails_at_reply, 1u);
  // Order-style routing: mail.* only when order == deliver.
  EXPECT_EQ(json_field(request("kiam.action.mail.out", R"({"order":"deliver","to":"b@example.com","subject":"s","body":"b"})"), "ok"),
            "true");
  const auto refused = request("kiam.action.mail.out", R"({"order":"cancel","to":"b@example.com"})");
  EXPECT_EQ(json_field(refused, "ok"), "false");
  EXPECT_NE(json_field(refused, "error").find("no handler"), std::string::npos);
  EXPECT_EQ(mail_count(), 2u);
}

TEST_F(DispatcherTest, RepeatedActionIsAnsweredFromTheFirstRun) {
  const auto first = request("kiam.action.send_email", mail_payload);
  const auto second = request("kiam.action.send_email", mail_payload);
  EXPECT_EQ(first.serialize(), second.serialize());
  // Concurrent repeats with a Nats-Msg-Id header: still one execution.
  std::vector<std::future<std::string>> replies;
  for (int i = 0; i < 5; ++i) {
    auto promise = std::make_shared<std::promise<std::string>>();
    replies.push_back(promise->get_future());
    dispatcher_->on_message("kiam.action.send_email",
                            R"({"to":"c@example.com","subject":"concurrent","body":"x"})",
                            [promise](const std::string& r) { promise->set_value(r); }, "msg-id-9");
  }
  for (auto& r : replies) {
    ASSERT_EQ(r.wait_for(30s), std::future_status::ready);
    EXPECT_EQ(json_field(parse_json(r.get()), "ok"), "true");
  }
  EXPECT_EQ(mail_count(), 2u);
  EXPECT_EQ(dispatcher_->stats().duplicates, 5u);
}

TEST_F(DispatcherTest, IdempotencyKeysAreScopedByAction) {
  // The same correlationId on two different actions: both run.
  EXPECT_EQ(json_field(request("kiam.action.send_email", mail_payload), "ok"), "true");
  EXPECT_EQ(json_field(request("kiam.action.mail.x", R"({"correlationId":"m-1","order":"deliver","to":"d@example.com","subject":"s","body":"b"})"),
                "ok"),
            "true");
  EXPECT_EQ(mail_count(), 2u);
  EXPECT_EQ(dispatcher_->stats().duplicates, 0u);
}

TEST_F(DispatcherTest, ExpiredEventIsNotRunButExpiredAuditIsRecorded) {
  dispatcher_->on_message("kiam.event.login.abnormal", R"({"correlationId":"late","timestamp":1,"timeout":1})");
  EXPECT_EQ(dispatcher_->stats().expired, 1u);
  EXPECT_EQ(dispatcher_->stats().handler_runs, 0u);
  const auto reply = request("kiam.audit.login", R"({"correlationId":"late-audit","timestamp":1,"timeout":1})");
  EXPECT_EQ(json_field(reply, "ok"), "true");
  const auto lines = test::read_lines(work_.file("audit.jsonl"));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(json_field(parse_json(lines[0]), "correlationId"), "late-audit");
  EXPECT_EQ(http_count(), 0u);
}

TEST_F(DispatcherTest, ExpiredActionIsNotExecuted) {
  const auto reply = request("kiam.action.send_email",
                             R"({"correlationId":"old","timestamp":1000,"timeout":5000,"to":"a@b.c","subject":"s","body":"b"})");
  EXPECT_EQ(json_field(reply, "ok"), "false");
  EXPECT_EQ(json_field(reply, "expired"), "true");
  EXPECT_EQ(json_field(reply, "correlationId"), "old");
  EXPECT_EQ(dispatcher_->stats().expired, 1u);
  EXPECT_EQ(mail_count(), 0u);
  std::lock_guard lock(mutex_);
  ASSERT_FALSE(log_.empty());
  EXPECT_NE(log_.back().find("correlationId=old"), std::string::npos) << log_.back();
  EXPECT_NE(log_.back().find("expired"), std::string::npos) << log_.back();
}

TEST_F(DispatcherTest, FailedActionIsAClearErrorAndIsNotCached) {
  smtp_.stop();
  const auto start = std::chrono::steady_clock::now();
  const auto reply = request("kiam.action.send_email", mail_payload);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_EQ(json_field(reply, "ok"), "false");
  EXPECT_NE(json_field(reply, "error").find("cannot connect"), std::string::npos) << reply.serialize();
  EXPECT_EQ(json_field(reply, "results.email_user.smtp_error"), "connect_failed");
  // A retry with the same key runs again (failures are not remembered).
  request("kiam.action.send_email", mail_payload);
  EXPECT_EQ(dispatcher_->stats().duplicates, 0u);
  EXPECT_EQ(dispatcher_->stats().handler_runs, 2u);
}

TEST_F(DispatcherTest, EventHandlerFailureIsRetriedThenDeadLettered) {
  const std::string payload = R"({"correlationId":"ev-1","user":"alice"})";
  const auto reply = request("kiam.event.login.abnormal", payload);  // reply waits for all handlers
  EXPECT_EQ(json_field(reply, "ok"), "false");
  // hook: its own retry policy (2 attempts) replaces event_retry (3): two
  // requests, all answered 500, never 3 x 2 (issue 18).
  EXPECT_EQ(http_count(), 2u);
  std::lock_guard lock(mutex_);
  ASSERT_EQ(published_.size(), 1u);
  EXPECT_EQ(published_[0].first, "kiam.deadletter.hook");
  const auto letter = parse_json(published_[0].second);
  EXPECT_EQ(json_field(letter, "handler"), "hook");
  EXPECT_EQ(json_field(letter, "subject"), "kiam.event.login.abnormal");
  EXPECT_EQ(json_field(letter, "attempts"), "2");
  EXPECT_EQ(json_field(letter, "correlationId"), "ev-1");
  EXPECT_EQ(json_field(letter, "message.user"), "alice");
  EXPECT_NE(json_field(letter, "error").find("HTTP 500"), std::string::npos);
  // The log handler matched twice (login.abnormal and login.*) but ran once.
  std::size_t log_runs = 0;
  for (const auto& line : log_) log_runs += line.rfind("[mss log]", 0) == 0;
  EXPECT_EQ(log_runs, 1u);
  bool logged_with_correlation = false;
  for (const auto& line : log_)
    logged_with_correlation |= line.find("handler=hook correlationId=ev-1 attempt=2 failed") != std::string::npos;
  EXPECT_TRUE(logged_with_correlation);
}

TEST_F(DispatcherTest, BadInputIsDeadLetteredWithoutRetries) {
  dispatcher_->on_message("kiam.event.bad.template", "not even json");
  ASSERT_TRUE(test::wait_until([&] {
    std::lock_guard lock(mutex_);
    return !published_.empty();
  }));
  std::lock_guard lock(mutex_);
  const auto letter = parse_json(published_[0].second);
  EXPECT_EQ(json_field(letter, "attempts"), "0") << "refused before any request";
  EXPECT_EQ(json_field(letter, "message"), "not even json");
  EXPECT_NE(json_field(letter, "error").find("not JSON"), std::string::npos) << json_field(letter, "error");
  EXPECT_EQ(http_count(), 0u);
}

TEST_F(DispatcherTest, AuditIsAcknowledgedAfterTheRecordIsWritten) {
  std::size_t lines_at_reply = 0;
  auto promise = std::make_shared<std::promise<std::string>>();
  dispatcher_->on_message("kiam.audit.user.deleted", R"({"correlationId":"a-1","user":"bob"})",
                          [&, promise](const std::string& r) {
                            lines_at_reply = test::read_lines(work_.file("audit.jsonl")).size();
                            promise->set_value(r);
                          });
  auto future = promise->get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(json_field(parse_json(future.get()), "ok"), "true");
  EXPECT_EQ(lines_at_reply, 1u);
  const auto record = parse_json(test::read_lines(work_.file("audit.jsonl"))[0]);
  EXPECT_EQ(json_field(record, "subject"), "kiam.audit.user.deleted");
  EXPECT_EQ(json_field(record, "correlationId"), "a-1");
}

TEST_F(DispatcherTest, UnknownHandlerInRulesIsAConfigError) {
  EXPECT_THROW(dispatcher(io_.executor(), {}, rules(R"([{"action":"x","handlers":"nope"}])"), {}, {}, handlers_, {},
                          {}),
               std::invalid_argument);
}

// max_in_flight: against a peer that accepts and never answers, a handler
// works on at most its limit; one more message is refused at once (an
// event to the dead letter, an action with an error reply), never queued,
// and the places come back when the runs end at their timeout.
TEST(DispatcherLimits, HandlerAtMaxInFlightRefusesAtOnceUntilRunsEnd) {
  temp_dir work;
  child_process http;
  const int port = test::start_server(http, "http_recorder.py", {"--log", work.file("http.jsonl"), "--silent"});
  ASSERT_GT(port, 0);
  const auto document = conf::parse_config_string(R"(
    mss { handlers { stuck { type: webhook, url: "http://127.0.0.1:)" + std::to_string(port) + R"(/h",
                             timeout: "2s", retry { attempts: 1 }, max_in_flight: 2 } } })");
  test::io_thread io;
  handler_set handlers;
  config_fault fault;
  ASSERT_TRUE(build_handlers(document.root.get<picojson::object>().at("mss"), io.executor(), handlers, fault, {}))
      << fault.message;
  const auto stuck = handlers.find("stuck");
  ASSERT_TRUE(stuck);
  EXPECT_EQ(stuck->max_in_flight(), 2u);
  std::mutex mutex;
  std::vector<std::pair<std::string, std::string>> published;
  dispatcher d(
      io.executor(), {}, rules(R"([{"action":"poke","handlers":"stuck"}])"),
      rules(R"([{"event":"ping","handlers":"stuck"}])"), route_table{}, handlers,
      [&](const std::string& subject, const std::string& payload) {
        std::lock_guard lock(mutex);
        published.emplace_back(subject, payload);
      },
      [](const std::string&) {});
  const auto letters = [&] {
    std::lock_guard lock(mutex);
    return published;
  };

  d.on_message("kiam.event.ping", R"({"correlationId":"e1"})");
  d.on_message("kiam.event.ping", R"({"correlationId":"e2"})");
  EXPECT_EQ(stuck->in_flight(), 2u);
  d.on_message("kiam.event.ping", R"({"correlationId":"e3"})");
  // Refused before on_message returned: no wait, no request to the peer.
  auto now = letters();
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0].first, "kiam.deadletter.stuck");
  const auto letter = parse_json(now[0].second);
  EXPECT_EQ(json_field(letter, "correlationId"), "e3");
  EXPECT_EQ(json_field(letter, "attempts"), "0");
  EXPECT_EQ(json_field(letter, "error"), "handler stuck busy: 2 messages in flight (max_in_flight)");

  std::string answer;
  d.on_message("kiam.action.poke", R"({"correlationId":"a1"})", [&](const std::string& r) { answer = r; });
  const auto reply = parse_json(answer);
  EXPECT_EQ(json_field(reply, "ok"), "false");
  EXPECT_EQ(json_field(reply, "error"), "handler stuck busy: 2 messages in flight (max_in_flight)");
  EXPECT_EQ(json_field(reply, "results.stuck.ok"), "false");
  EXPECT_EQ(stuck->metrics().snapshot().busy, 2u);

  // The two runs end at their timeout (dead letters with attempts 1), and
  // the next message is taken again. A run leaves in_flight() before its
  // dead letter is published: wait for both letters too (waiting for the
  // count alone saw one letter once, under ThreadSanitizer).
  ASSERT_TRUE(test::wait_until([&] { return stuck->in_flight() == 0 && letters().size() == 3; }, 30s));
  now = letters();
  ASSERT_EQ(now.size(), 3u);
  for (std::size_t i = 1; i < now.size(); ++i) {
    const auto timed_out = parse_json(now[i].second);
    EXPECT_EQ(json_field(timed_out, "attempts"), "1");
    EXPECT_NE(json_field(timed_out, "error").find("timed out"), std::string::npos) << now[i].second;
  }
  d.on_message("kiam.event.ping", R"({"correlationId":"e4"})");
  EXPECT_EQ(stuck->in_flight(), 1u);
  ASSERT_TRUE(test::wait_until([&] { return stuck->in_flight() == 0 && letters().size() == 4; }, 30s));
  EXPECT_EQ(json_field(parse_json(letters()[3].second), "correlationId"), "e4");
  EXPECT_EQ(stuck->metrics().snapshot().busy, 2u);
}

TEST(DispatcherConfig, MaxInFlightIsCheckedForEveryType) {
  const auto build = [](const std::string& text, std::string& error) {
    const auto document = conf::parse_config_string(text);
    test::io_thread io;
    handler_set handlers;
    config_fault fault;
    handler_build_options options;
    options.open_audit_logs = false;
    const bool ok =
        build_handlers(document.root.get<picojson::object>().at("mss"), io.executor(), handlers, fault, options);
    error = fault.message;
    return ok ? handlers.find("h")->max_in_flight() : std::size_t(0);
  };
  std::string error;
  EXPECT_EQ(build("mss { handlers { h { type: log } } }", error), default_max_in_flight);
  EXPECT_EQ(build("mss { handlers { h { type: log, max_in_flight: 7 } } }", error), 7u);
  EXPECT_EQ(build("mss { handlers { h { type: audit, file: \"/tmp/x.jsonl\", max_in_flight: 1 } } }", error), 1u);
  EXPECT_EQ(build("mss { handlers { h { type: log, max_in_flight: 0 } } }", error), 0u);
  EXPECT_EQ(error, "mss.handlers.h: 'max_in_flight' must be an integer from 1 to 1000000");
  EXPECT_EQ(build("mss { handlers { h { type: webhook, url: \"http://127.0.0.1:1/\", max_in_flight: \"x\" } } }",
                  error),
            0u);
  EXPECT_EQ(error, "mss.handlers.h: 'max_in_flight' must be an integer from 1 to 1000000");
}

TEST(IdempotencyCache, WindowAndBound) {
  idempotency_cache cache(100ms, 2);
  std::string reply;
  EXPECT_EQ(cache.begin("a", {}, reply), idempotency_cache::state::started);
  std::string waited;
  EXPECT_EQ(cache.begin("a", [&](const std::string& r) { waited = r; }, reply), idempotency_cache::state::waiting);
  cache.complete("a", "R1", true);
  EXPECT_EQ(waited, "R1");
  EXPECT_EQ(cache.begin("a", {}, reply), idempotency_cache::state::completed);
  EXPECT_EQ(reply, "R1");
  // Failures are forgotten.
  EXPECT_EQ(cache.begin("f", {}, reply), idempotency_cache::state::started);
  cache.complete("f", "E", false);
  EXPECT_EQ(cache.begin("f", {}, reply), idempotency_cache::state::started);
  cache.complete("f", "ok", true);
  // Bound: a third completed key evicts the oldest completed one.
  EXPECT_EQ(cache.begin("c", {}, reply), idempotency_cache::state::started);
  cache.complete("c", "R3", true);
  EXPECT_LE(cache.size(), 2u);
  EXPECT_EQ(cache.begin("a", {}, reply), idempotency_cache::state::started);  // evicted
  cache.complete("a", "R1b", true);
  // Window: after it passes, keys are forgotten.
  std::this_thread::sleep_for(150ms);
  EXPECT_EQ(cache.begin("c", {}, reply), idempotency_cache::state::started);
}

}  // namespace
}  // namespace courier::mss

namespace courier::mss {
namespace {

TEST(DispatcherConfig, ReadsPrefixRetriesWindowAndRules) {
  const auto document = conf::parse_config_string(R"(
    mss {
      prefix: acme
      queue_group: workers
      event_retry { attempts: 5, initial_delay: "100ms", max_delay: "2s", multiplier: 3 }
      idempotency_window: "30s"
      idempotency_max: 500
      actions: [ { action: send_email, handlers: email_user } ]
      events: [ { event: "login.*", when: { level: high }, handlers: [email_user, sms_user] } ]
      url: "nats://elsewhere:4222"
    }
  )");
  dispatcher_config config;
  config_fault fault;
  ASSERT_TRUE(load_dispatcher_config(document.root.get<picojson::object>().at("mss"), config, fault)) << fault.message;
  EXPECT_EQ(config.options.prefix, "acme");
  EXPECT_EQ(config.options.queue_group, "workers");
  EXPECT_EQ(config.options.event_retry.max_attempts, 5u);
  EXPECT_EQ(config.options.event_retry.initial_delay, std::chrono::milliseconds(100));
  EXPECT_EQ(config.options.event_retry.max_delay, std::chrono::milliseconds(2000));
  EXPECT_EQ(config.options.event_retry.multiplier, 3.0);
  EXPECT_EQ(config.options.idempotency_window, std::chrono::milliseconds(30000));
  EXPECT_EQ(config.options.idempotency_max_entries, 500u);
  ASSERT_EQ(config.actions.rules().size(), 1u);
  ASSERT_EQ(config.events.rules().size(), 1u);
  EXPECT_EQ(config.events.match("login.x", parse_json(R"({"level":"high"})")),
            (std::vector<std::string>{"email_user", "sms_user"}));
  EXPECT_TRUE(config.audits.rules().empty());
}

TEST(DispatcherConfig, BadValuesAreErrors) {
  for (const auto& [text, expected] : std::vector<std::pair<std::string, std::string>>{
           {"mss { prefix: \"a.*\" }", "mss.prefix"},
           {"mss { prefix: \"\" }", "mss.prefix"},
           {"mss { event_retry { attempts: 0 } }", "mss.event_retry"},
           {"mss { idempotency_window: forever }", "mss.idempotency_window"},
           {"mss { idempotency_max: 0 }", "mss.idempotency_max"},
           {"mss { actions: [ { action: \"a..b\", handlers: x } ] }", "mss.actions: rule 1"},
           {"mss { events: { event: a } }", "mss.events"},
       }) {
    const auto document = conf::parse_config_string(text);
    dispatcher_config config;
    config_fault fault;
    EXPECT_FALSE(load_dispatcher_config(document.root.get<picojson::object>().at("mss"), config, fault)) << text;
    EXPECT_NE(fault.message.find(expected), std::string::npos) << text << " -> " << fault.message;
  }
}

}  // namespace
}  // namespace courier::mss
