// The message services' guarantees across the loss of the cluster member
// they are connected to (issue 17): the services (mss/service/runner, as
// `courier --mss-only` runs them) are a client of a 3-node nats-server
// 2.9.10 cluster, given every member's URL; an application on another
// member sends actions (email through a real SMTP server, aiosmtpd) and
// confirmed audit records, retrying each with the same correlationId until
// it is acknowledged, as a production client does. Meanwhile the member the
// services use is killed with SIGKILL, and later started again.
//
// Checked afterwards: every action that got a success reply sent exactly
// one mail (the idempotency key absorbs the retries), no action sent two,
// and every acknowledged audit record is in the audit log on disk.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "../leaf/hub_cluster.hpp"
#include "client/tcp_bus.hpp"
#include "conf/config_parser.hpp"
#include "mss/service/client.hpp"
#include "mss/service/runner.hpp"
#include "test_support.hpp"

namespace courier::mss {
namespace cluster_failover_test {
namespace {

using namespace std::chrono_literals;

/// Generous: CI is a busy 2-core machine running sanitizer builds.
constexpr auto patience = 60s;

/// What the application saw acknowledged.
struct acknowledged {
  std::mutex mutex;
  std::vector<std::string> actions;  ///< correlationIds with a success reply
  std::vector<std::string> audits;   ///< correlationIds of confirmed audit records
  std::vector<std::string> given_up; ///< ids never acknowledged within `patience`
  std::size_t count() {
    std::lock_guard lock(mutex);
    return actions.size() + audits.size();
  }
};

/// Sends `call` until it succeeds or `patience` passes; true on success.
template <class Call>
bool until_acknowledged(Call call, const std::atomic<bool>& stop) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < deadline) {
    if (call()) return true;
    if (stop) return false;
    std::this_thread::sleep_for(50ms);  // a client's retry pause, not a wait for the test
  }
  return false;
}

TEST(ClusterMemberLoss, ActionsRunOnceAndAcknowledgedAuditsAreLogged) {
  leaf_test::hub_cluster cluster(3);
  ASSERT_TRUE(cluster.start());
  test::temp_dir mail_dir;
  test::temp_dir work;
  test::child_process smtp;
  const int smtp_port = test::start_server(smtp, "smtp_server.py", {"--dir", mail_dir.path()});
  ASSERT_GT(smtp_port, 0);
  const std::string audit_file = work.file("audit.jsonl");
  const auto document = conf::parse_config_string(R"(
mss {
  prefix: kiam
  smtp { host: 127.0.0.1, port: )" + std::to_string(smtp_port) + R"(, tls: none, timeout: "10s" }
  handlers {
    mail { type: email, from: "noreply@courier.test", to: "{{to}}", subject: "{{subject}}", body: "b" }
    audit { type: audit, file: ")" + audit_file + R"(" }
  }
  actions: [ { action: "email.send", handlers: mail } ]
}
)");
  // Every member, the first one first: the services start on member 0.
  const std::string urls = cluster.client_url(0) + "," + cluster.client_url(1) + "," + cluster.client_url(2);
  runner services(nullptr, document.root.get<picojson::object>().at("mss"), urls);
  auto& services_bus = static_cast<tcp_bus&>(services.messages());
  ASSERT_TRUE(services_bus.wait_connected(patience));
  ASSERT_EQ(services_bus.describe(), cluster.client_url(0));

  // The application on members 1 and 2, away from the member to be killed.
  tcp_bus_options app_options;
  app_options.urls = cluster.client_url(1) + "," + cluster.client_url(2);
  tcp_bus app_bus(app_options);
  ASSERT_TRUE(app_bus.wait_connected(patience));
  client app(app_bus, "kiam");
  // The services' queue subscriptions reached member 1 over the route.
  ASSERT_TRUE(until_acknowledged([&] { return static_cast<bool>(app.audit_confirmed("warmup", "{}", 5s)); },
                                 std::atomic<bool>{false}));

  acknowledged acked;
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    for (int i = 0; !stop; ++i) {
      const std::string action_id = "act-" + std::to_string(i);
      const std::string action = R"({"to":")" + action_id + R"(@example.com","subject":")" + action_id +
                                 R"(","correlationId":")" + action_id + R"("})";
      const bool action_ok = until_acknowledged(
          [&] { return static_cast<bool>(app.action("email.send", action, 5s)); }, stop);
      const std::string audit_id = "aud-" + std::to_string(i);
      const bool audit_ok = until_acknowledged(
          [&] {
            return static_cast<bool>(
                app.audit_confirmed("user.changed", R"({"correlationId":")" + audit_id + R"("})", 5s));
          },
          stop);
      std::lock_guard lock(acked.mutex);
      (action_ok ? acked.actions : acked.given_up).push_back(action_id);
      (audit_ok ? acked.audits : acked.given_up).push_back(audit_id);
    }
  });
  struct joiner {
    std::atomic<bool>& stop;
    std::thread& thread;
    ~joiner() {
      stop = true;
      if (thread.joinable()) thread.join();
    }
  } join_sender{stop, sender};

  ASSERT_TRUE(test::wait_until([&] { return acked.count() >= 20; }, patience));
  cluster.kill(0);
  const std::size_t at_kill = acked.count();
  ASSERT_TRUE(test::wait_until([&] { return services_bus.connections() >= 2 && services_bus.connected(); }, patience));
  EXPECT_NE(services_bus.describe(), cluster.client_url(0));
  ASSERT_TRUE(test::wait_until([&] { return acked.count() >= at_kill + 20; }, patience))
      << "the services must work again on another member";

  ASSERT_TRUE(cluster.restart(0));
  const std::size_t at_restart = acked.count();
  ASSERT_TRUE(test::wait_until([&] { return acked.count() >= at_restart + 20; }, patience));
  stop = true;
  sender.join();

  // Every mail sent, by correlationId (the subject).
  std::map<std::string, int> mails;
  for (const auto& entry : std::filesystem::directory_iterator(mail_dir.path())) {
    if (entry.path().extension() != ".json") continue;
    ++mails[test::json_field(test::parse_json(test::read_file(entry.path().string())), "subject")];
  }
  std::set<std::string> audited;
  for (const auto& line : test::read_lines(audit_file))
    audited.insert(test::json_field(test::parse_json(line), "message.correlationId"));

  std::lock_guard lock(acked.mutex);
  EXPECT_TRUE(acked.given_up.empty()) << acked.given_up.size() << " requests never acknowledged, first "
                                      << acked.given_up.front();
  for (const auto& id : acked.actions) EXPECT_EQ(mails[id], 1) << "acknowledged action " << id;
  for (const auto& [id, count] : mails) EXPECT_LE(count, 1) << "action " << id << " ran twice";
  for (const auto& id : acked.audits) EXPECT_EQ(audited.count(id), 1u) << "acknowledged audit record " << id;
  std::cout << acked.actions.size() << " actions and " << acked.audits.size() << " audit records acknowledged; "
            << services_bus.connections() << " connections of the services" << std::endl;
}

}  // namespace
}  // namespace cluster_failover_test
}  // namespace courier::mss
