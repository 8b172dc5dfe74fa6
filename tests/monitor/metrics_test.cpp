// render_metrics on an embedded server: every family has HELP and TYPE,
// counters follow the traffic sent (open and closed connections), accounts
// are kept apart, label values are escaped, and registered sources are
// appended until removed.
#include "monitor/metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <istream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "broker/in_process.hpp"
#include "broker/server.hpp"
#include "conf/config_loader.hpp"
#include "exposition.hpp"

namespace courier::monitor {
namespace {

using namespace std::chrono_literals;
using test::parse_exposition;
namespace asio = boost::asio;

std::unique_ptr<broker::server> start_server(const std::string& config = {}, const std::string& name = {}) {
  conf::server_options options;
  if (!config.empty()) conf::load_config_string(config, options);
  options.host = "127.0.0.1";
  options.port = 0;
  options.threads = 1;
  options.server_name = name;
  auto server = std::make_unique<broker::server>(options);
  server->start();
  return server;
}

TEST(render_metrics, every_family_is_declared_once_before_its_samples) {
  auto server = start_server();
  const std::string text = render_metrics(*server);
  std::set<std::string> declared;
  std::string current;  // the family whose samples may follow
  std::istringstream in(text);
  std::string line;
  int samples = 0;
  while (std::getline(in, line)) {
    ASSERT_FALSE(line.empty());
    if (line.rfind("# HELP ", 0) == 0) {
      current = line.substr(7, line.find(' ', 7) - 7);
      EXPECT_TRUE(declared.insert(current).second) << "declared twice: " << current;
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      EXPECT_EQ(line.substr(7, current.size() + 1), current + " ") << line;
      continue;
    }
    const std::string name = line.substr(0, line.find_first_of("{ "));
    ++samples;
    EXPECT_EQ(name.rfind("courier_", 0), 0u) << line;
    EXPECT_TRUE(name == current || name == current + "_bucket" || name == current + "_sum" ||
                name == current + "_count")
        << line << " (family " << current << ")";
  }
  EXPECT_GT(samples, 20);
  EXPECT_EQ(text.back(), '\n');
  const auto doc = parse_exposition(text);
  EXPECT_EQ(doc.duplicate_series, 0);
  for (const auto& [family, type] : doc.types) {
    if (type == "counter") {
      EXPECT_TRUE(family.size() > 6 && family.substr(family.size() - 6) == "_total") << family;
    }
  }
}

TEST(render_metrics, a_fresh_server_reports_itself_and_zero_traffic) {
  auto server = start_server();
  const auto doc = parse_exposition(render_metrics(*server));
  EXPECT_EQ(doc.types.at("courier_info"), "gauge");
  EXPECT_EQ(doc.value("courier_info{version=\"" + std::string(broker::courier_version) + "\",nats_version=\"2.9.10\","
                      "server_id=\"" + server->id() + "\",server_name=\"" + server->name() + "\"}"),
            1);
  EXPECT_EQ(doc.value("courier_in_msgs_total"), 0);
  EXPECT_EQ(doc.value("courier_out_msgs_total"), 0);
  EXPECT_EQ(doc.value("courier_connections{state=\"open\"}"), 0);
  EXPECT_EQ(doc.value("courier_connections{state=\"closed\"}"), 0);
  EXPECT_EQ(doc.value("courier_connections_total"), 0);
  EXPECT_EQ(doc.value("courier_subscriptions"), 0);
  EXPECT_EQ(doc.value("courier_max_payload_bytes"), 1024 * 1024);
  EXPECT_EQ(doc.value("courier_max_connections"), 64 * 1024);
  EXPECT_EQ(doc.value("courier_account_connections{account=\"$G\"}"), 0);
  EXPECT_EQ(doc.value("courier_lame_duck"), 0);
}

TEST(render_metrics, traffic_of_open_and_closed_connections_adds_up) {
  auto server = start_server();
  auto publisher = server->connect({.name = "publisher"});
  auto receiver = server->connect({.name = "receiver"});
  receiver->subscribe("orders.*", [](const broker::message&) {});
  receiver->subscribe("other", [](const broker::message&) {});
  for (int i = 0; i < 7; ++i) publisher->publish("orders.new", "0123456789");  // 7 x 10 bytes
  publisher->publish("nobody", "abc");                                         // in, not out
  ASSERT_TRUE(receiver->flush(10s));

  auto doc = parse_exposition(render_metrics(*server));
  EXPECT_EQ(doc.value("courier_in_msgs_total"), 8);
  EXPECT_EQ(doc.value("courier_in_bytes_total"), 73);
  EXPECT_EQ(doc.value("courier_out_msgs_total"), 7);
  EXPECT_EQ(doc.value("courier_out_bytes_total"), 70);
  EXPECT_EQ(doc.value("courier_connections{state=\"open\"}"), 2);
  EXPECT_EQ(doc.value("courier_subscriptions"), 2);
  EXPECT_EQ(doc.value("courier_account_subscriptions{account=\"$G\"}"), 2);
  EXPECT_EQ(doc.value("courier_account_in_msgs_total{account=\"$G\"}"), 8);

  // Closing keeps the counts (they move to the registry's closed totals).
  publisher->close();
  receiver->close();
  doc = parse_exposition(render_metrics(*server));
  EXPECT_EQ(doc.value("courier_in_msgs_total"), 8);
  EXPECT_EQ(doc.value("courier_out_bytes_total"), 70);
  EXPECT_EQ(doc.value("courier_account_out_msgs_total{account=\"$G\"}"), 7);
  EXPECT_EQ(doc.value("courier_connections{state=\"open\"}"), 0);
  EXPECT_EQ(doc.value("courier_connections{state=\"closed\"}"), 2);
  EXPECT_EQ(doc.value("courier_connections_closed_total{reason=\"Client Closed\"}"), 2);
  EXPECT_EQ(doc.value("courier_subscriptions"), 0);
}

TEST(render_metrics, tcp_clients_count_as_connections_and_by_close_reason) {
  auto server = start_server();
  asio::io_context context;
  asio::ip::tcp::socket socket(context);
  socket.connect({asio::ip::make_address("127.0.0.1"), server->port()});
  asio::streambuf buffer;
  asio::read_until(socket, buffer, "\r\n");  // INFO
  buffer.consume(buffer.size());
  asio::write(socket, asio::buffer(std::string("CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPUB a 5\r\nhello\r\nPING\r\n")));
  asio::read_until(socket, buffer, "PONG\r\n");
  auto doc = parse_exposition(render_metrics(*server));
  EXPECT_EQ(doc.value("courier_connections_total"), 1);
  EXPECT_EQ(doc.value("courier_connections{state=\"open\"}"), 1);
  EXPECT_EQ(doc.value("courier_account_connections{account=\"$G\"}"), 1);
  EXPECT_EQ(doc.value("courier_in_msgs_total"), 1);
  EXPECT_EQ(doc.value("courier_out_msgs_total"), 1);
  // A protocol error closes it with its reason.
  asio::write(socket, asio::buffer(std::string("BOGUS\r\n")));
  for (int i = 0; i < 3000 && server->connections().live_count() > 0; ++i) std::this_thread::sleep_for(10ms);
  doc = parse_exposition(render_metrics(*server));
  EXPECT_EQ(doc.value("courier_connections{state=\"open\"}"), 0);
  double closed_for_errors = 0;
  for (const auto& [series, value] : doc.samples)
    if (series.rfind("courier_connections_closed_total{", 0) == 0) closed_for_errors += value;
  EXPECT_EQ(closed_for_errors, 1);
  EXPECT_EQ(doc.find("courier_connections_closed_total{reason=\"Client Closed\"}"), std::nullopt);
  EXPECT_EQ(doc.value("courier_in_msgs_total"), 1);
}

TEST(render_metrics, accounts_are_reported_apart) {
  auto server = start_server(R"(
accounts {
  sales { users: [ { user: s, password: s } ] }
  ops { users: [ { user: o, password: o } ] }
}
)");
  auto sales = server->connect({.user = "s", .password = "s"});
  auto ops = server->connect({.user = "o", .password = "o"});
  sales->subscribe("x", [](const broker::message&) {});
  sales->subscribe("y", [](const broker::message&) {});
  ops->subscribe("x", [](const broker::message&) {});
  sales->publish("x", "12");
  ASSERT_TRUE(sales->flush(10s));
  const auto doc = parse_exposition(render_metrics(*server));
  EXPECT_EQ(doc.value("courier_account_subscriptions{account=\"sales\"}"), 2);
  EXPECT_EQ(doc.value("courier_account_subscriptions{account=\"ops\"}"), 1);
  EXPECT_EQ(doc.value("courier_account_subscriptions{account=\"$G\"}"), 0);
  EXPECT_EQ(doc.value("courier_account_connections{account=\"sales\"}"), 1);
  EXPECT_EQ(doc.value("courier_account_in_msgs_total{account=\"sales\"}"), 1);
  EXPECT_EQ(doc.value("courier_account_out_msgs_total{account=\"sales\"}"), 1);
  EXPECT_EQ(doc.value("courier_account_out_msgs_total{account=\"ops\"}"), 0);
  EXPECT_EQ(doc.value("courier_subscriptions"), 3);
}

TEST(render_metrics, label_values_are_escaped) {
  auto server = start_server({}, "edge \"one\" \\ west");
  const std::string text = render_metrics(*server);
  EXPECT_NE(text.find("server_name=\"edge \\\"one\\\" \\\\ west\""), std::string::npos) << text.substr(0, 600);
}

TEST(render_metrics, registered_sources_are_appended_until_removed) {
  auto server = start_server();
  auto handle = server->metrics_sources().add("test", [](std::string& out) {
    out += "# HELP courier_test_widgets Widgets.\n# TYPE courier_test_widgets gauge\ncourier_test_widgets 42\n";
  });
  std::string text = render_metrics(*server);
  const auto at = text.find("# HELP courier_test_widgets");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(text.substr(at), "# HELP courier_test_widgets Widgets.\n# TYPE courier_test_widgets gauge\ncourier_test_widgets 42\n");
  handle.reset();
  text = render_metrics(*server);
  EXPECT_EQ(text.find("courier_test_widgets"), std::string::npos);
}

}  // namespace
}  // namespace courier::monitor
