// The message services' metrics (mss/service/metrics) on a runner over an
// embedded server: per handler, messages, attempts, outcomes, retries (the
// dispatcher's and the webhook's own), dead letters and the duration
// histogram follow what the handlers really did against a real HTTP peer
// and a real audit file; the runner's source is gone once it stops.
#include "mss/service/metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "broker/in_process.hpp"
#include "broker/server.hpp"
#include "conf/config_loader.hpp"
#include "broker/prometheus_text.hpp"
#include "mss/handlers/handler_metrics.hpp"
#include "mss/service/runner.hpp"
#include "test_support.hpp"
#include "tests/monitor/exposition.hpp"

namespace courier::mss {
namespace {

using namespace std::chrono_literals;
using monitor::test::exposition;
using monitor::test::parse_exposition;

std::string series(const std::string& name, const std::string& handler, const std::string& type,
                   const std::string& extra = {}) {
  return name + "{service=\"kiam\",handler=\"" + handler + "\",type=\"" + type + "\"" + extra + "}";
}

class MssMetrics : public ::testing::Test {
 protected:
  void SetUp() override {
    // The first webhook request is answered 500: the dispatcher retries it
    // under the webhook's own policy.
    http_port_ = test::start_server(http_, "http_recorder.py", {"--log", work_.file("http.jsonl"), "--fail-first", "1"});
    ASSERT_GT(http_port_, 0);
    const std::string hook_url = "http://127.0.0.1:" + std::to_string(http_port_) + "/hook";
    conf::load_config_string(R"(
mss {
  prefix: kiam
  event_retry { attempts: 2, initial_delay: "10ms" }
  handlers {
    greet { type: log }
    hook { type: webhook, url: ")" + hook_url + R"(", retry { attempts: 3, initial_delay: "10ms" } }
    down { type: webhook, url: "http://127.0.0.1:1/nobody", retry { attempts: 1 } }
    bad { type: sms, url: ")" + hook_url + R"(", body: "{{missing.field}}" }
    trail { type: audit, file: ")" + work_.file("audit.jsonl") + R"(" }
  }
  actions: [ { action: hello, handlers: greet } ]
  events: [ { event: signup, handlers: [hook, bad] }, { event: crash, handlers: down } ]
}
)",
                             options_);
    options_.port = -1;
    server_ = std::make_unique<broker::server>(options_);
    server_->start();
    services_ = start_message_services(server_.get(), options_);
    ASSERT_NE(services_, nullptr);
  }
  void TearDown() override {
    services_.reset();
    if (server_) server_->shutdown();
  }

  exposition metrics() const {
    std::string out;
    server_->metrics_sources().write_all(out);
    return parse_exposition(out);
  }

  /// Polls until `done(metrics())` holds (generous: CI machines are busy).
  template <typename Done>
  exposition wait_for(Done done) const {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    exposition doc = metrics();
    while (!done(doc) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(20ms);
      doc = metrics();
    }
    return doc;
  }

  test::temp_dir work_;
  test::child_process http_;
  int http_port_ = -1;
  conf::server_options options_;
  std::unique_ptr<broker::server> server_;
  std::unique_ptr<runner> services_;
};

TEST_F(MssMetrics, HandlersCountWhatTheyDid) {
  auto app = server_->connect({.name = "app"});
  for (int i = 0; i < 3; ++i) {
    auto r = app->request("kiam.action.hello", R"({"n":)" + std::to_string(i) + "}", 30s);
    ASSERT_EQ(r.status, broker::request_status::ok);
  }
  app->publish("kiam.event.signup", R"({"user":"ann"})");
  app->publish("kiam.event.signup", R"({"user":"bob"})");
  app->publish("kiam.event.crash", R"({"x":1})");
  for (int i = 0; i < 4; ++i) {
    auto r = app->request("kiam.audit.login", R"({"user":"ann"})", 30s);  // the reply means durable
    ASSERT_EQ(r.status, broker::request_status::ok);
  }
  const auto doc = wait_for([](const exposition& d) {
    return d.value(series("courier_mss_handler_sent_total", "hook", "webhook")) == 2 &&
           d.value(series("courier_mss_handler_failed_total", "bad", "sms")) == 2 &&
           d.value(series("courier_mss_handler_dead_letters_total", "down", "webhook")) == 1;
  });

  EXPECT_EQ(doc.value("courier_mss_messages_received_total{service=\"kiam\"}"), 3 + 3 + 4);
  EXPECT_EQ(doc.value("courier_mss_messages_unrouted_total{service=\"kiam\"}"), 0);
  EXPECT_EQ(doc.types.at("courier_mss_handler_duration_seconds"), "histogram");

  // The log handler: three actions, each once.
  EXPECT_EQ(doc.value(series("courier_mss_handler_messages_total", "greet", "log")), 3);
  EXPECT_EQ(doc.value(series("courier_mss_handler_attempts_total", "greet", "log")), 3);
  EXPECT_EQ(doc.value(series("courier_mss_handler_sent_total", "greet", "log")), 3);
  EXPECT_EQ(doc.value(series("courier_mss_handler_failed_total", "greet", "log")), 0);
  EXPECT_EQ(doc.value(series("courier_mss_handler_duration_seconds_count", "greet", "log")), 3);

  // The webhook: two events delivered, one of them after a retry (one run
  // is one request: three in all).
  EXPECT_EQ(doc.value(series("courier_mss_handler_messages_total", "hook", "webhook")), 2);
  EXPECT_EQ(doc.value(series("courier_mss_handler_attempts_total", "hook", "webhook")), 3);
  EXPECT_EQ(doc.value(series("courier_mss_handler_retries_total", "hook", "webhook")), 1);
  EXPECT_EQ(doc.value(series("courier_mss_handler_dead_letters_total", "hook", "webhook")), 0);
  // Nothing refused for max_in_flight, and every run has ended.
  EXPECT_EQ(doc.value(series("courier_mss_handler_busy_total", "hook", "webhook")), 0);
  EXPECT_EQ(doc.value(series("courier_mss_handler_in_flight", "hook", "webhook")), 0);

  // A template error is final: no retry, straight to the dead letters.
  EXPECT_EQ(doc.value(series("courier_mss_handler_attempts_total", "bad", "sms")), 2);
  EXPECT_EQ(doc.value(series("courier_mss_handler_retries_total", "bad", "sms")), 0);
  EXPECT_EQ(doc.value(series("courier_mss_handler_dead_letters_total", "bad", "sms")), 2);
  EXPECT_EQ(doc.value(series("courier_mss_handler_sent_total", "bad", "sms")), 0);

  // Nobody listens: the handler's own policy (one attempt) replaces
  // event_retry (two), so it gives up after one try.
  EXPECT_EQ(doc.value(series("courier_mss_handler_attempts_total", "down", "webhook")), 1);
  EXPECT_EQ(doc.value(series("courier_mss_handler_retries_total", "down", "webhook")), 0);
  EXPECT_EQ(doc.value(series("courier_mss_handler_failed_total", "down", "webhook")), 1);
  EXPECT_EQ(doc.value(series("courier_mss_handler_duration_seconds_count", "down", "webhook")), 1);

  // Audit records: durable when acknowledged, the file's size reported.
  EXPECT_EQ(doc.value(series("courier_mss_handler_sent_total", "trail", "audit")), 4);
  const std::string file = work_.file("audit.jsonl");
  const std::string labels = "{service=\"kiam\",file=\"" + file + "\"}";
  EXPECT_EQ(doc.value("courier_mss_audit_log_records_total" + labels), 4);
  EXPECT_EQ(doc.value("courier_mss_audit_log_bytes" + labels), static_cast<double>(std::filesystem::file_size(file)));
  EXPECT_GT(std::filesystem::file_size(file), 0u);
  EXPECT_EQ(doc.value("courier_mss_audit_log_failures_total" + labels), 0);
}

TEST_F(MssMetrics, HistogramBucketsAreCumulativeAndMatchTheCount) {
  auto app = server_->connect({.name = "app"});
  for (int i = 0; i < 5; ++i) ASSERT_EQ(app->request("kiam.action.hello", "{}", 30s).status, broker::request_status::ok);
  const auto doc = metrics();
  double previous = 0;
  for (double bound : handler_duration_bounds) {
    std::string le;
    broker::prometheus::append_value(le, bound);
    const double cumulative =
        doc.value(series("courier_mss_handler_duration_seconds_bucket", "greet", "log", ",le=\"" + le + "\""));
    EXPECT_GE(cumulative, previous) << "le=" << le;
    previous = cumulative;
  }
  const double all = doc.value(series("courier_mss_handler_duration_seconds_bucket", "greet", "log", ",le=\"+Inf\""));
  EXPECT_GE(all, previous);
  EXPECT_EQ(all, 5);
  EXPECT_EQ(doc.value(series("courier_mss_handler_duration_seconds_count", "greet", "log")), 5);
  const double sum = doc.value(series("courier_mss_handler_duration_seconds_sum", "greet", "log"));
  EXPECT_GE(sum, 0);
  EXPECT_LT(sum, 5 * 60.0);
  // Handlers that never ran have empty histograms, not missing ones.
  EXPECT_EQ(doc.value(series("courier_mss_handler_duration_seconds_count", "hook", "webhook")), 0);
}

TEST_F(MssMetrics, TheSourceIsRegisteredWhileTheRunnerRuns) {
  EXPECT_EQ(server_->metrics_sources().names(), (std::vector<std::string>{"mss"}));
  services_->stop();
  EXPECT_TRUE(server_->metrics_sources().names().empty());
  std::string out;
  server_->metrics_sources().write_all(out);
  EXPECT_EQ(out, "");
}

TEST(MssMetricsObserve, DurationsLandInTheirBuckets) {
  handler_metrics m;
  m.on_run_done(std::chrono::microseconds(500));  // <= 1 ms
  m.on_run_done(std::chrono::milliseconds(1));    // le is inclusive
  m.on_run_done(std::chrono::milliseconds(200));  // <= 0.25 s
  m.on_run_done(std::chrono::seconds(31));        // above every bound
  m.on_attempt(1);
  m.on_attempt(2);  // a retry
  m.on_attempt(3);  // another
  const auto counts = m.snapshot();
  ASSERT_EQ(counts.duration_buckets.size(), handler_duration_bounds.size() + 1);
  EXPECT_EQ(counts.duration_buckets[0], 2u);
  EXPECT_EQ(counts.duration_buckets[7], 1u);  // 0.25
  EXPECT_EQ(handler_duration_bounds[7], 0.25);
  EXPECT_EQ(counts.duration_buckets.back(), 1u);
  EXPECT_EQ(counts.retries, 2u);
  EXPECT_DOUBLE_EQ(counts.duration_sum_seconds, 0.0005 + 0.001 + 0.2 + 31);
}

}  // namespace
}  // namespace courier::mss
