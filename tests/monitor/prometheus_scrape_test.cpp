// A real Prometheus scraping a real Courier: the courier executable runs
// conf/identity-service.conf (message services against local SMTP and HTTP
// peers) with monitoring on (-m PORT); Prometheus scrapes its /metrics
// every second; stock clients send known traffic; the values Prometheus
// answers over its query API must become exactly what was sent, and equal
// what /metrics itself says. Polls with generous deadlines: CI runs on a
// busy 2-core machine. Prometheus must be installed: a missing one fails.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>

#include "exposition.hpp"
#include "identity_service.hpp"
#include "prometheus_process.hpp"
#include "tests/mss/broker_process.hpp"

namespace courier::monitor {
namespace {

using namespace std::chrono_literals;

TEST(prometheus, is_installed) {
  ASSERT_EQ(::access(COURIER_PROMETHEUS, X_OK), 0)
      << COURIER_PROMETHEUS << " is missing: install Debian's prometheus package (tools/install-deps.sh)";
}

TEST(prometheus, scrapes_the_traffic_sent_to_a_running_courier) {
  test::identity_service peers;
  ASSERT_TRUE(peers.ok());
  mss::test::io_thread io;
  const int monitor_port = mss::test::unused_port();
  mss::test::broker_process courier;
  const std::string courier_log = peers.work().file("courier.log");
  ASSERT_TRUE(courier.start(mss::test::courier_binary(),
                            {"-c", peers.config_file(0), "-m", std::to_string(monitor_port)}, 0, courier_log))
      << mss::test::read_file(courier_log);
  const std::string metrics_url = "http://127.0.0.1:" + std::to_string(monitor_port) + "/metrics";
  ASSERT_TRUE(mss::test::wait_until([&] { return test::http_get(io, metrics_url, 5s).has_value(); }, 60s))
      << "no /metrics on " << metrics_url << "\n" << mss::test::read_file(courier_log);

  test::prometheus_process prometheus;
  ASSERT_TRUE(prometheus.start(COURIER_PROMETHEUS, "127.0.0.1:" + std::to_string(monitor_port), io))
      << prometheus.log();

  test::send_traffic(courier.url());
  ASSERT_FALSE(HasFatalFailure());

  // Exact values, as sent.
  const std::string email = R"(service="kiam",handler="send_email",type="email")";
  const std::vector<std::pair<std::string, double>> expected{
      {R"(up{job="courier"})", 1},
      {"courier_mss_handler_sent_total{" + email + "}", test::traffic::mails},
      {"courier_mss_handler_failed_total{" + email + "}", test::traffic::bad_mails},
      {"courier_mss_handler_messages_total{" + email + "}", test::traffic::mails + test::traffic::bad_mails},
      {"courier_mss_handler_duration_seconds_count{" + email + "}", test::traffic::mails + test::traffic::bad_mails},
      {R"(courier_mss_handler_messages_total{handler="siem_hook"})", test::traffic::account_events},
      {R"(courier_mss_handler_sent_total{handler="log"})", test::traffic::account_events},
      {R"(courier_mss_audit_log_records_total{service="kiam"})", test::traffic::audits},
      {R"(courier_connections_closed_total{reason="Authentication Failure"})", test::traffic::refused_logins},
      {R"(courier_account_connections{account="$G"})", 1},  // the services' in-process connection
  };
  std::string last_seen;
  const auto all_match = [&] {
    for (const auto& [expression, want] : expected) {
      const auto got = prometheus.value(expression);
      if (!got || *got != want) {
        last_seen = expression + " = " + (got ? std::to_string(*got) : "<none>") + ", want " + std::to_string(want);
        return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(mss::test::wait_until(all_match, 180s))
      << "last mismatch: " << last_seen << "\nPrometheus log:\n" << prometheus.log();
  for (const auto& [expression, want] : expected)
    std::cout << "Prometheus: " << expression << " = " << prometheus.value(expression).value_or(-1) << "\n";

  // The traffic has stopped: what Prometheus scraped last must equal what
  // /metrics says now (poll: the next scrape may still be on its way).
  const std::vector<std::string> settled{"courier_in_msgs_total", "courier_in_bytes_total", "courier_out_msgs_total",
                                         "courier_out_bytes_total", "courier_connections_total",
                                         R"(courier_connections{state="closed"})"};
  const auto scraped_equals_document = [&] {
    const auto body = test::http_get(io, metrics_url, 5s);
    if (!body) return false;
    const auto doc = test::parse_exposition(*body);
    for (const auto& series : settled) {
      const auto direct = doc.find(series);
      const auto got = prometheus.value(series);
      if (!direct || !got || *direct != *got) {
        last_seen = series + ": /metrics " + (direct ? std::to_string(*direct) : "<none>") + ", Prometheus " +
                    (got ? std::to_string(*got) : "<none>");
        return false;
      }
    }
    return true;
  };
  ASSERT_TRUE(mss::test::wait_until(scraped_equals_document, 120s)) << "last mismatch: " << last_seen;
  EXPECT_GE(prometheus.value("courier_in_msgs_total").value_or(0), test::traffic::orders);
  EXPECT_GE(prometheus.value("courier_out_msgs_total").value_or(0), test::traffic::orders);
  // Three stock clients and the refused ones (plus broker_process's probes of the port).
  EXPECT_GE(prometheus.value("courier_connections_total").value_or(0), 3 + test::traffic::refused_logins);

  // A histogram Prometheus can compute with: the median send time is a bucket bound, not NaN.
  const auto median =
      prometheus.value("histogram_quantile(0.5, courier_mss_handler_duration_seconds_bucket{" + email + "})");
  ASSERT_TRUE(median.has_value());
  EXPECT_GT(*median, 0);
  EXPECT_LE(*median, 30);
}

}  // namespace
}  // namespace courier::monitor
