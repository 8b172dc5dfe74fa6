// The registry of connections: live ones with their counters and CONNECT
// identity, closed ones with their close reason, read without stopping the
// data path.
#include "broker/connection_registry.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <istream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "broker/in_process.hpp"
#include "broker/server.hpp"

namespace courier::broker {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

class connection_registry_test : public ::testing::Test {
 protected:
  void SetUp() override {
    conf::server_options options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 1;
    server_ = std::make_unique<server>(options);
    server_->start();
  }
  void TearDown() override { server_->shutdown(); }

  std::string read_line() {
    // The server's own keepalive PING (its first comes a second or two after
    // CONNECT, mid-exchange on a slow machine) is answered as a client would.
    for (;;) {
      asio::read_until(socket_, buffer_, "\r\n");
      std::istream in(&buffer_);
      std::string line;
      std::getline(in, line);
      if (line == "PING\r") {
        asio::write(socket_, asio::buffer(std::string_view("PONG\r\n")));
        continue;
      }
      return line + "\n";
    }
  }

  std::unique_ptr<server> server_;
  asio::io_context context_;
  asio::ip::tcp::socket socket_{context_};
  asio::streambuf buffer_;
};

TEST_F(connection_registry_test, live_counters_and_identity_then_closed_with_reason) {
  socket_.connect({asio::ip::make_address("127.0.0.1"), server_->port()});
  read_line();  // INFO
  const std::string ops =
      "CONNECT {\"verbose\":false,\"name\":\"probe\",\"lang\":\"cpp\",\"version\":\"1.2\"}\r\n"
      "SUB x 1\r\nPUB x 2\r\nhi\r\nPING\r\n";
  asio::write(socket_, asio::buffer(ops));
  ASSERT_EQ(read_line(), "MSG x 1 2\r\n");
  ASSERT_EQ(read_line(), "hi\r\n");
  ASSERT_EQ(read_line(), "PONG\r\n");

  auto open = server_->connections().open_info();
  ASSERT_EQ(open.size(), 1u);
  const auto& info = open.front();
  EXPECT_EQ(info.identity.name, "probe");
  EXPECT_EQ(info.identity.lang, "cpp");
  EXPECT_EQ(info.identity.version, "1.2");
  EXPECT_EQ(info.identity.account, "$G");
  EXPECT_EQ(info.remote_ip, "127.0.0.1");
  EXPECT_EQ(info.msgs_in, 1u);
  EXPECT_EQ(info.bytes_in, 2u);
  EXPECT_EQ(info.msgs_out, 1u);
  EXPECT_EQ(info.bytes_out, 2u);
  EXPECT_EQ(info.subscriptions, 1u);
  EXPECT_FALSE(info.reason.has_value());
  EXPECT_GE(info.last_activity, info.start);

  socket_.close();
  for (int i = 0; i < 200 && server_->connections().closed_info().empty(); ++i) std::this_thread::sleep_for(10ms);
  auto closed = server_->connections().closed_info();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed.front().cid, info.cid);
  EXPECT_EQ(closed.front().reason, close_reason::client_closed);
  EXPECT_EQ(closed.front().msgs_in, 1u);
  // As nats-server: a closed connection shows the subscriptions it had.
  EXPECT_EQ(closed.front().subscriptions, 1u);
  ASSERT_EQ(closed.front().closed_subscriptions.size(), 1u);
  EXPECT_EQ(closed.front().closed_subscriptions[0].subject, "x");
  EXPECT_EQ(closed.front().closed_subscriptions[0].msgs, 1u);
  EXPECT_EQ(server_->connections().live_count(), 0u);
}

TEST_F(connection_registry_test, in_process_clients_are_listed_with_their_traffic) {
  auto a = server_->connect({.name = "app"});
  auto b = server_->connect({.name = "worker"});
  b->subscribe("jobs", [](const message&) {});
  a->publish("jobs", "12345");
  ASSERT_TRUE(b->flush(5s));
  auto open = server_->connections().open_info();
  ASSERT_EQ(open.size(), 2u);
  EXPECT_TRUE(open[0].in_process);
  EXPECT_EQ(open[0].identity.name, "app");
  EXPECT_EQ(open[0].identity.account, "$G");
  EXPECT_EQ(open[0].msgs_in, 1u);
  EXPECT_EQ(open[0].bytes_in, 5u);
  EXPECT_EQ(open[1].identity.name, "worker");
  EXPECT_EQ(open[1].msgs_out, 1u);
  EXPECT_EQ(open[1].subscriptions, 1u);

  a->close();
  auto closed = server_->connections().closed_info();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed.front().identity.name, "app");
  EXPECT_EQ(closed.front().reason, close_reason::client_closed);
  b->close();
  EXPECT_EQ(server_->connections().closed_info().size(), 2u);
  EXPECT_TRUE(server_->connections().open_info().empty());
}

TEST_F(connection_registry_test, closed_connections_add_their_traffic_to_the_totals) {
  EXPECT_EQ(server_->connections().all_traffic().closed_connections, 0u);
  auto a = server_->connect({.name = "app"});
  auto b = server_->connect({.name = "worker"});
  b->subscribe("jobs", [](const message&) {});
  a->publish("jobs", "12345");
  a->publish("jobs", "678");
  ASSERT_TRUE(b->flush(5s));
  a->close();
  auto closed = server_->connections().closed_by_account();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed.at("$G").closed_connections, 1u);
  EXPECT_EQ(closed.at("$G").msgs_in, 2u);
  EXPECT_EQ(closed.at("$G").bytes_in, 8u);
  EXPECT_EQ(closed.at("$G").msgs_out, 0u);
  traffic_totals all = server_->connections().all_traffic();
  EXPECT_EQ(all.live_connections, 1u);
  EXPECT_EQ(all.closed_connections, 1u);
  EXPECT_EQ(all.msgs_in, 2u);
  EXPECT_EQ(all.msgs_out, 2u);
  b->close();
  closed = server_->connections().closed_by_account();
  EXPECT_EQ(closed.at("$G").closed_connections, 2u);
  EXPECT_EQ(closed.at("$G").msgs_in, 2u);
  EXPECT_EQ(closed.at("$G").msgs_out, 2u);
  EXPECT_EQ(closed.at("$G").bytes_out, 8u);
  all = server_->connections().all_traffic();
  EXPECT_EQ(all.live_connections, 0u);
  EXPECT_EQ(all.closed_connections, 2u);
  EXPECT_EQ(all.bytes_out, 8u);
  const auto reasons = server_->connections().closed_by_reason();
  ASSERT_EQ(reasons.size(), 1u);
  EXPECT_EQ(reasons.at(close_reason::client_closed), 2u);
}

TEST_F(connection_registry_test, totals_are_not_bounded_by_the_closed_connections_kept) {
  // The closed list drops its oldest entries; the sums keep counting.
  const std::size_t n = connection_registry::max_closed + 5;
  for (std::size_t i = 0; i < n; ++i) {
    auto c = server_->connect();
    c->publish("x", "ab");
    c->close();
  }
  EXPECT_EQ(server_->connections().closed_info().size(), connection_registry::max_closed);
  const auto all = server_->connections().all_traffic();
  EXPECT_EQ(all.closed_connections, n);
  EXPECT_EQ(all.msgs_in, n);
  EXPECT_EQ(all.bytes_in, 2 * n);
  EXPECT_EQ(server_->connections().closed_by_account().at("$G").closed_connections, n);
}

TEST_F(connection_registry_test, live_and_closed_sums_count_a_closing_connection_once) {
  // Every client has published; while they close one by one, live counters
  // plus closed totals (one snapshot) must always add up to all messages.
  constexpr int clients = 40;
  constexpr int each = 3;
  std::vector<std::shared_ptr<local_client>> open;
  for (int i = 0; i < clients; ++i) {
    open.push_back(server_->connect());
    for (int m = 0; m < each; ++m) open.back()->publish("nobody.listens", "x");
  }
  std::thread closer([&] {
    for (auto& c : open) c->close();
  });
  std::uint64_t snapshots = 0;
  std::uint64_t wrong = 0;  // the first sum that was off, or 0
  while (true) {
    std::map<std::string, traffic_totals, std::less<>> closed;
    const auto live = server_->connections().open_info(closed);
    std::uint64_t msgs = 0;
    for (const auto& info : live) msgs += info.msgs_in;
    for (const auto& [account, sums] : closed) msgs += sums.msgs_in;
    if (msgs != std::uint64_t{clients * each}) {
      wrong = msgs;
      break;
    }
    ++snapshots;
    if (live.empty()) break;
  }
  closer.join();
  EXPECT_EQ(wrong, 0u) << "after " << snapshots << " consistent snapshots";
  EXPECT_EQ(server_->connections().all_traffic().closed_connections, std::uint64_t{clients});
}

}  // namespace
}  // namespace courier::broker
