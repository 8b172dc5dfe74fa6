// The executable says "Server is ready" once everything it runs is up, as
// nats-server does: tools and scripts wait for that line and then use the
// monitoring port and the client port at once. Runs the courier executable
// with the shipped identity-service configuration (message services against
// local SMTP and HTTP peers), ports picked by the server itself (-1). And what
// it logs from its monitoring port to "Server is ready", and when a signal
// stops it, is what nats-server 2.9.10 logs.
#include <gtest/gtest.h>

#include <signal.h>

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "identity_service.hpp"
#include "prometheus_process.hpp"
#include "tests/mss/broker_process.hpp"
#include "tests/spawn.hpp"

namespace courier::monitor {
namespace {

using namespace std::chrono_literals;

int port_in(const std::string& log, const std::string& line) {
  std::smatch match;
  if (!std::regex_search(log, match, std::regex(line + " on [^ \n]*:([0-9]+)"))) return 0;
  return std::stoi(match[1]);
}

TEST(startup_log, ready_comes_after_the_monitoring_port_and_the_services) {
  test::identity_service peers;
  ASSERT_TRUE(peers.ok());
  mss::test::io_thread io;
  const std::string log_file = peers.work().file("courier.log");
  courier::test::spawn_options options;
  options.log = log_file;
  const pid_t pid = courier::test::spawn(
      {mss::test::courier_binary(), "-c", peers.config_file(0), "-a", "127.0.0.1", "-p", "-1", "-m", "-1"}, options);
  ASSERT_GT(pid, 0);
  std::string log;
  const bool ready = mss::test::wait_until(
      [&] {
        log = mss::test::read_file(log_file);
        return log.find("Server is ready") != std::string::npos;
      },
      60s);
  // Before anything else can happen: the ports must answer now, not after a retry.
  const int client_port = port_in(log, "Listening for client connections");
  const int monitor_port = port_in(log, "Starting http monitor");
  const auto varz =
      monitor_port > 0 ? test::http_get(io, "http://127.0.0.1:" + std::to_string(monitor_port) + "/varz", 30s)
                       : std::nullopt;
  const bool client_port_open = client_port > 0 && mss::test::port_open(client_port);
  ::kill(pid, SIGTERM);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ASSERT_TRUE(ready) << log;
  EXPECT_GT(client_port, 0) << log;
  EXPECT_GT(monitor_port, 0) << log;
  ASSERT_TRUE(varz.has_value()) << log;
  // The message services had subscribed: their handlers' subscriptions count.
  std::smatch subscriptions;
  ASSERT_TRUE(std::regex_search(*varz, subscriptions, std::regex("\"subscriptions\": *([0-9]+)"))) << *varz;
  EXPECT_GT(std::stoi(subscriptions[1]), 0) << *varz;
  EXPECT_TRUE(client_port_open) << log;
  const auto ready_at = log.find("Server is ready");
  // In nats-server's order: the monitoring port, the client port, ready.
  EXPECT_LT(log.find("Starting http monitor"), log.find("Listening for client connections")) << log;
  EXPECT_LT(log.find("Listening for client connections"), ready_at) << log;
  EXPECT_EQ(log.find("Server is ready", ready_at + 1), std::string::npos) << "said twice:\n" << log;
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << log;
}

/// Runs `command` until it logs "Server is ready" (60 s at most), stops it
/// with `signal`, and returns its log's lines from the first one containing
/// `from` on, without the "[pid] date time " prefix.
std::vector<std::string> logged_lines(const std::vector<std::string>& command, int signal,
                                      const std::string& log_file, const std::string& from) {
  courier::test::spawn_options options;
  options.log = log_file;
  const pid_t pid = courier::test::spawn(command, options);
  EXPECT_GT(pid, 0);
  const bool ready = mss::test::wait_until(
      [&] { return mss::test::read_file(log_file).find("Server is ready") != std::string::npos; }, 60s);
  ::kill(pid, signal);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const std::string log = mss::test::read_file(log_file);
  EXPECT_TRUE(ready) << log;
  std::vector<std::string> out;
  const std::size_t at = log.find(from);
  std::istringstream in(at == std::string::npos ? std::string() : log.substr(log.rfind('\n', at) + 1));  // npos + 1: 0
  std::string line;
  const std::regex prefix(R"(^\[[0-9]+\] [0-9/]+ [0-9:.]+ )");
  while (std::getline(in, line)) out.push_back(std::regex_replace(line, prefix, ""));
  return out;
}

/// The lines `binary` logs from "Server is ready" on when started bare and
/// stopped with `signal`.
std::vector<std::string> lines_after_ready(const std::string& binary, int signal, const std::string& log_file) {
  return logged_lines({binary, "-a", "127.0.0.1", "-p", "-1"}, signal, log_file, "Server is ready");
}

/// The lines `binary` logs from "Starting http monitor" to "Server is ready"
/// with `config`, every port as PORT.
std::vector<std::string> listening_lines(const std::string& binary, const std::string& config,
                                         const std::string& log_file) {
  auto lines = logged_lines({binary, "-c", config, "-a", "127.0.0.1", "-p", "-1", "-m", "-1"}, SIGTERM, log_file,
                            "Starting http monitor");
  const auto ready = std::find_if(lines.begin(), lines.end(),
                                  [](const std::string& line) { return line.find("Server is ready") != std::string::npos; });
  if (ready != lines.end()) lines.erase(ready + 1, lines.end());
  const std::regex port(R"(:[0-9]+$)");
  for (auto& line : lines) line = std::regex_replace(line, port, ":PORT");
  return lines;
}

TEST(startup_log, websocket_and_leafnode_ports_are_logged_in_nats_servers_order) {
  mss::test::temp_dir dir;
  const std::string config = dir.file("listeners.conf");
  std::ofstream(config) << "websocket { host: 127.0.0.1, port: -1, no_tls: true }\n"
                           "leafnodes { host: 127.0.0.1, port: -1 }\n";
  const auto ours = listening_lines(mss::test::courier_binary(), config, dir.file("courier.log"));
  const auto theirs = listening_lines(COURIER_NATS_SERVER, config, dir.file("nats-server.log"));
  // Monitor, websocket (and its TLS warning), leafnode, client port, ready.
  ASSERT_EQ(theirs.size(), 6u);
  EXPECT_EQ(ours, theirs);
}

/// The banner's labels ("  Version:", ...) from "Starting nats-server" to the
/// first listening line; the values differ (ids, Courier's own version).
std::vector<std::string> banner_labels(const std::string& binary, const std::string& log_file) {
  auto lines = logged_lines({binary, "-a", "127.0.0.1", "-p", "-1"}, SIGTERM, log_file, "Starting nats-server");
  std::vector<std::string> labels;
  for (const auto& line : lines) {
    if (line.find("Listening for") != std::string::npos) break;
    labels.push_back(line.substr(0, line.find(':') == std::string::npos ? line.size() : line.find(':') + 1));
  }
  return labels;
}

TEST(startup_log, the_banner_has_nats_servers_lines) {
  mss::test::temp_dir dir;
  const auto ours = banner_labels(mss::test::courier_binary(), dir.file("courier.log"));
  const auto theirs = banner_labels(COURIER_NATS_SERVER, dir.file("nats-server.log"));
  // Starting, Version, Git, Name, ID.
  ASSERT_EQ(theirs.size(), 5u);
  EXPECT_EQ(ours, theirs);
}

TEST(startup_log, a_signal_to_stop_is_logged_as_nats_server_logs_it) {
  mss::test::temp_dir dir;
  for (const int signal : {SIGTERM, SIGINT}) {
    const auto ours = lines_after_ready(mss::test::courier_binary(), signal, dir.file("courier-" + std::to_string(signal)));
    const auto theirs = lines_after_ready(COURIER_NATS_SERVER, signal, dir.file("nats-server-" + std::to_string(signal)));
    EXPECT_EQ(ours, theirs) << "signal " << signal;
    EXPECT_FALSE(theirs.empty());
  }
}

}  // namespace
}  // namespace courier::monitor
