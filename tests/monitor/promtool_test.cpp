// Prometheus' own checker on the /metrics document: `promtool check metrics`
// (Debian package prometheus) must accept, without a single remark, what
// render_metrics writes for a server with traffic and running message
// services (the shipped identity-service configuration against real SMTP
// and HTTP peers). promtool must be there: a missing one is a failure.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <sys/wait.h>

#include "broker/server.hpp"
#include "conf/config_loader.hpp"
#include "exposition.hpp"
#include "identity_service.hpp"
#include "monitor/metrics.hpp"
#include "mss/service/runner.hpp"

namespace courier::monitor {
namespace {

/// promtool's verdict on a document.
struct promtool_result {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr: every complaint
};

promtool_result promtool_check(const std::string& document, const mss::test::temp_dir& dir) {
  const std::string input = dir.file("metrics.txt");
  std::ofstream(input, std::ios::binary) << document;
  const std::string command = std::string(COURIER_PROMTOOL) + " check metrics < " + input + " 2>&1";
  promtool_result out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) out.output.append(buffer, n);
  const int status = ::pclose(pipe);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

TEST(promtool, is_installed) {
  ASSERT_EQ(::access(COURIER_PROMTOOL, X_OK), 0)
      << COURIER_PROMTOOL << " is missing: install Debian's prometheus package (tools/install-deps.sh)";
}

TEST(promtool, complains_about_a_broken_document) {
  // The check below is only worth something if promtool speaks up: a
  // counter without _total and a family declared twice.
  mss::test::temp_dir dir;
  const auto result = promtool_check(
      "# HELP courier_things Things.\n# TYPE courier_things counter\ncourier_things 1\n"
      "# HELP courier_things Again.\n# TYPE courier_things counter\ncourier_things 2\n",
      dir);
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("courier_things"), std::string::npos) << result.output;
}

TEST(promtool, accepts_the_metrics_of_a_busy_server_with_message_services) {
  test::identity_service peers;
  ASSERT_TRUE(peers.ok());
  conf::server_options options;
  conf::load_config_string(peers.config(0), options);
  options.port = 0;  // any free port
  broker::server server(options);
  server.start();
  auto services = mss::start_message_services(&server, options);
  ASSERT_NE(services, nullptr);
  auto in_process = server.connect({.name = "in-process"});
  in_process->publish("orders.new", "from inside");

  test::send_traffic("nats://127.0.0.1:" + std::to_string(server.port()));
  ASSERT_FALSE(HasFatalFailure());

  const std::string document = render_metrics(server);
  const auto result = promtool_check(document, peers.work());
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(result.output, "") << "promtool's remarks:\n" << result.output;

  // And the document is about this traffic, not an empty shell.
  const auto doc = test::parse_exposition(document);
  const auto handler = [](const std::string& name, const std::string& h, const std::string& type) {
    return name + "{service=\"kiam\",handler=\"" + h + "\",type=\"" + type + "\"}";
  };
  EXPECT_EQ(doc.value(handler("courier_mss_handler_sent_total", "send_email", "email")), test::traffic::mails);
  EXPECT_EQ(doc.value(handler("courier_mss_handler_failed_total", "send_email", "email")), test::traffic::bad_mails);
  EXPECT_EQ(doc.value(handler("courier_mss_handler_sent_total", "audit", "audit")), test::traffic::audits);
  EXPECT_GE(doc.value("courier_in_msgs_total"), test::traffic::orders + 1);
  EXPECT_GE(doc.value("courier_out_msgs_total"), test::traffic::orders);
  EXPECT_EQ(doc.value("courier_connections_closed_total{reason=\"Authentication Failure\"}"),
            test::traffic::refused_logins);
  EXPECT_GT(doc.value("courier_mss_audit_log_bytes{service=\"kiam\",file=\"" + peers.audit_file() + "\"}"), 0);

  services.reset();
  server.shutdown();
  // Closed connections keep counting, and the document stays valid.
  const auto after = promtool_check(render_metrics(server), peers.work());
  EXPECT_EQ(after.exit_code, 0) << after.output;
  EXPECT_EQ(after.output, "") << after.output;
}

}  // namespace
}  // namespace courier::monitor
