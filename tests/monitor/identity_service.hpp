// The shipped identity-service configuration (conf/identity-service.conf)
// made runnable in a test: its SMTP server, SMS gateway, webhook and mail
// platform replaced by the real local peers of the mss tests (aiosmtpd,
// the python HTTP recorder), its audit file moved to a temporary
// directory; and a known mix of traffic from stock clients (libnats) to
// check the /metrics document against.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "tests/mss/libnats_client.hpp"
#include "tests/mss/test_support.hpp"

namespace courier::monitor::test {

using namespace std::chrono_literals;
namespace mss_test = courier::mss::test;

/// Replaces the one occurrence of `from` in `text`; fails the test if absent.
inline void replace_once(std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  ASSERT_NE(at, std::string::npos) << "conf/identity-service.conf no longer has: " << from;
  text.replace(at, from.size(), to);
}

/// The peers and the adapted configuration.
class identity_service {
 public:
  /// Starts the peers; check ok().
  identity_service() {
    smtp_port_ = mss_test::start_server(smtp_, "smtp_server.py", {"--dir", mail_dir_.path()});
    http_port_ = mss_test::start_server(http_, "http_recorder.py", {"--log", work_.file("http.jsonl")});
  }
  bool ok() const { return smtp_port_ > 0 && http_port_ > 0; }

  /// conf/identity-service.conf with local peers, listening on 127.0.0.1:`port`.
  std::string config(int port) const {
    std::string text = mss_test::read_file(std::string(COURIER_SOURCE_DIR) + "/conf/identity-service.conf");
    const std::string http = "http://127.0.0.1:" + std::to_string(http_port_);
    replace_once(text, "listen: 127.0.0.1:4222", "listen: 127.0.0.1:" + std::to_string(port));
    const auto smtp_begin = text.find("  smtp {");
    const auto smtp_end = text.find("\n  }\n", smtp_begin);
    EXPECT_TRUE(smtp_begin != std::string::npos && smtp_end != std::string::npos);
    text.replace(smtp_begin, smtp_end + 4 - smtp_begin,
                 "  smtp { host: 127.0.0.1, port: " + std::to_string(smtp_port_) + ", tls: none, timeout: \"10s\" }");
    replace_once(text, "https://sms.example.com/v1/messages", http + "/sms");
    replace_once(text, "https://siem.example.com/hooks/courier", http + "/siem");
    replace_once(text, "https://mail-platform.example.com/deliver", http + "/deliver");
    replace_once(text, "/var/lib/courier/kiam-audit.jsonl", audit_file());
    return text;
  }

  /// Writes config(port) to a file; returns its path.
  std::string config_file(int port) const {
    const std::string path = work_.file("identity-service.conf");
    std::ofstream(path) << config(port);
    return path;
  }

  std::string audit_file() const { return work_.file("kiam-audit.jsonl"); }
  const mss_test::temp_dir& work() const { return work_; }

 private:
  mss_test::temp_dir work_;
  mss_test::temp_dir mail_dir_;
  mss_test::child_process smtp_;
  mss_test::child_process http_;
  int smtp_port_ = -1;
  int http_port_ = -1;
};

/// What send_traffic sends, for the checks.
struct traffic {
  static constexpr int orders = 50;           ///< "orders.new" messages, 10 bytes each, one subscriber
  static constexpr int mails = 3;             ///< kiam.action.email.send that succeed
  static constexpr int bad_mails = 1;         ///< ... without a recipient: the handler fails
  static constexpr int account_events = 2;   ///< kiam.event.account.created: siem_hook and log
  static constexpr int audits = 2;            ///< kiam.audit.user.deleted requests
  static constexpr int refused_logins = 1;    ///< connections with a wrong password
};

/// Sends `traffic` to the identity service at `url` (nats://127.0.0.1:port)
/// as its users would, waiting for every reply and delivery.
inline void send_traffic(const std::string& url) {
  using mss_test::libnats_client;
  libnats_client worker(url, "mss", "change-me-mss");
  libnats_client shop(url, "mss", "change-me-mss");
  ASSERT_TRUE(worker.connected() && shop.connected());
  natsSubscription* orders = worker.subscribe("orders.>");
  ASSERT_NE(orders, nullptr);
  ASSERT_EQ(worker.flush(), NATS_OK);
  for (int i = 0; i < traffic::orders; ++i) ASSERT_EQ(shop.publish("orders.new", "0123456789"), NATS_OK);
  ASSERT_EQ(shop.flush(), NATS_OK);
  for (int i = 0; i < traffic::orders; ++i) ASSERT_TRUE(libnats_client::next(orders, 30s)) << "order " << i;

  libnats_client identity(url, "identity", "change-me-identity");
  ASSERT_TRUE(identity.connected());
  for (int i = 0; i < traffic::mails; ++i) {
    const auto r = identity.request("kiam.action.email.send",
                                    R"({"to":"a@example.com","subject":"Hi","body":"Welcome","correlationId":"m-)" +
                                        std::to_string(i) + R"("})",
                                    60s);
    ASSERT_EQ(r.status, NATS_OK);
    ASSERT_NE(r.data.find("\"ok\":true"), std::string::npos) << r.data;
  }
  for (int i = 0; i < traffic::bad_mails; ++i) {
    const auto r = identity.request("kiam.action.email.send", R"({"subject":"no recipient"})", 60s);
    ASSERT_EQ(r.status, NATS_OK);
    ASSERT_NE(r.data.find("\"ok\":false"), std::string::npos) << r.data;
  }
  for (int i = 0; i < traffic::account_events; ++i)
    ASSERT_EQ(identity.publish("kiam.event.account.created", R"({"user":"ann"})"), NATS_OK);
  for (int i = 0; i < traffic::audits; ++i) {
    const auto r = identity.request("kiam.audit.user.deleted", R"({"user":"bob","by":"admin"})", 60s);
    ASSERT_EQ(r.status, NATS_OK);
    ASSERT_NE(r.data.find("\"ok\":true"), std::string::npos) << r.data;
  }
  ASSERT_EQ(identity.flush(), NATS_OK);
  for (int i = 0; i < traffic::refused_logins; ++i) {
    libnats_client intruder(url, "identity", "wrong");
    ASSERT_FALSE(intruder.connected());
  }
}

}  // namespace courier::monitor::test
