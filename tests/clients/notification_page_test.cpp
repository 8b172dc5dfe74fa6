// The notification gateway as a person sees it: the courier binary runs the
// shipped example config (examples/notifications/courier.conf, its ports
// changed), the example's auth backend checks tokens over HTTP, the example
// page runs in a real headless Chromium driven through its DOM
// (tests/browser/notify_page.mjs), and libnats publishes the notifications.
#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <regex>
#include <thread>

#include "server_process.hpp"
#include "tests/mss/libnats_client.hpp"
#include "tests/mss/test_support.hpp"
#include "ws_peer.hpp"

namespace courier::test {
namespace {

/// The example config with the gateway on any free port and the backend on `backend_port`.
std::string example_config(int backend_port) {
  std::string text = mss::test::read_file(std::string(COURIER_SOURCE_DIR) + "/examples/notifications/courier.conf");
  const auto replace = [&](const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << "the example config no longer has " << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
  };
  replace("listen: \"127.0.0.1:8095\"", "listen: \"127.0.0.1:0\"");
  replace("http://127.0.0.1:8096/authorize", "http://127.0.0.1:" + std::to_string(backend_port) + "/authorize");
  return text;
}

/// The gateway's port, from the server's log line announcing it.
int gateway_port(const server_process& server) {
  const std::regex announced(R"(notifications: listening on ws://127\.0\.0\.1:(\d+)/notifications)");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    std::smatch match;
    const std::string log = server.log_text();
    if (std::regex_search(log, match, announced)) return std::stoi(match[1]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ADD_FAILURE() << "no gateway in the log:\n" << server.log_text();
  return -1;
}

std::int64_t number(const picojson::object& o, const std::string& key) {
  const auto it = o.find(key);
  return it != o.end() && it->second.is<std::int64_t>() ? it->second.get<std::int64_t>() : -1;
}

/// The ids of the items of an event ("list" or "pushes").
std::vector<std::int64_t> item_ids(const picojson::value& event) {
  std::vector<std::int64_t> out;
  if (!event.is<picojson::object>()) return out;
  const auto& o = event.get<picojson::object>();
  const auto it = o.find("items");
  if (it == o.end() || !it->second.is<picojson::array>()) return out;
  for (const auto& item : it->second.get<picojson::array>()) out.push_back(number(item.get<picojson::object>(), "id"));
  return out;
}

/// Publishes a notification as a request; the id the gateway gave it.
std::int64_t notify(mss::test::libnats_client& client, const std::string& subject, const std::string& type,
                    const std::string& document) {
  const auto reply =
      client.request(subject, R"({"type":")" + type + R"(","document":)" + document + "}", std::chrono::seconds(10));
  EXPECT_EQ(reply.status, NATS_OK) << subject;
  picojson::value value;
  picojson::parse(value, reply.data);
  return value.is<picojson::object>() ? number(value.get<picojson::object>(), "id") : -1;
}

TEST(NotificationPage, ChromiumAuthorizesListsReceivesAPushFromLibnatsAndMarksRead) {
  mss::test::child_process backend;
  const int backend_port =
      mss::test::start_server(backend, "../../examples/notifications/auth_backend.py",
                              {"--port", "0", "--token", "secret-alice=alice", "--token", "secret-bob=bob"});
  ASSERT_GT(backend_port, 0);
  server_process server(example_config(backend_port));
  ASSERT_TRUE(server.start(std::chrono::seconds(60)));
  const int port = gateway_port(server);
  ASSERT_GT(port, 0);
  mss::test::libnats_client publisher(server.url());
  ASSERT_TRUE(publisher.connected());
  const auto older = notify(publisher, "wss.alice", "order", R"({"order":1042,"status":"shipped"})");
  notify(publisher, "wss.bob", "alert", R"({"text":"not for alice"})");
  const auto newer = notify(publisher, "wss.all", "news", R"({"title":"Maintenance at 22:00"})");

  ws_peer page("notify_page.mjs",
               {"--gateway", "ws://127.0.0.1:" + std::to_string(port) + "/notifications", "--chromium", COURIER_CHROMIUM,
                "--timeout-ms", "30000"},
               "the notification page");
  ASSERT_TRUE(page.ready());
  page.send(command({{"cmd", picojson::value("authorize")}, {"token", picojson::value("wrong")}}));
  const auto refused = page.wait_for("error");
  ASSERT_TRUE(refused.is<picojson::object>());
  EXPECT_EQ(ws_peer::field(refused.get<picojson::object>(), "message"), "invalid token");
  page.send(command({{"cmd", picojson::value("authorize")}, {"token", picojson::value("secret-alice")}}));
  const auto authorized = page.wait_for("authorized");
  ASSERT_TRUE(authorized.is<picojson::object>());
  EXPECT_EQ(ws_peer::field(authorized.get<picojson::object>(), "user"), "alice");

  page.send(command({{"cmd", picojson::value("list")}}));
  const auto listed = page.wait_for("list");
  EXPECT_EQ(item_ids(listed), (std::vector<std::int64_t>{newer, older}));
  ASSERT_TRUE(listed.is<picojson::object>());
  EXPECT_EQ(number(listed.get<picojson::object>(), "unread"), 2);

  page.send(command({{"cmd", picojson::value("subscribe")}, {"groups", picojson::value("alert")}}));
  const auto subscribed = page.wait_for("subscribed");
  ASSERT_TRUE(subscribed.is<picojson::object>());
  EXPECT_EQ(subscribed.get<picojson::object>().at("groups").serialize(), R"(["alert"])");

  // Not pushed (another type), then pushed.
  notify(publisher, "wss.alice", "order", R"({"order":1043})");
  const auto pushed = notify(publisher, "wss.alice", "alert", R"({"text":"login from a new device"})");
  page.send(command({{"cmd", picojson::value("wait_push")}, {"count", picojson::value(std::int64_t{1})}}));
  const auto pushes = page.wait_for("pushes");
  EXPECT_EQ(item_ids(pushes), (std::vector<std::int64_t>{pushed}));
  ASSERT_TRUE(pushes.is<picojson::object>());
  const auto& item = pushes.get<picojson::object>().at("items").get<picojson::array>().at(0).get<picojson::object>();
  EXPECT_EQ(item.at("document").serialize(), R"({"text":"login from a new device"})");

  page.send(command({{"cmd", picojson::value("read")}, {"id", picojson::value(pushed)}}));
  const auto read = page.wait_for("read");
  ASSERT_TRUE(read.is<picojson::object>());
  EXPECT_EQ(number(read.get<picojson::object>(), "unread"), 3);  // older, newer, the order not pushed
  page.send(command({{"cmd", picojson::value("read_all")}}));
  const auto all_read = page.wait_for("read");
  ASSERT_TRUE(all_read.is<picojson::object>());
  EXPECT_EQ(number(all_read.get<picojson::object>(), "unread"), 0);

  // Into a directory of the test's own (it wrote into the working directory).
  mss::test::temp_dir shots;
  const std::string shot = shots.file("notifications.png");
  page.send(command({{"cmd", picojson::value("screenshot")}, {"path", picojson::value(shot)}}));
  page.wait_for("screenshot");
  std::ifstream png(shot, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(png), std::istreambuf_iterator<char>()};
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << shot << ": " << bytes.size() << " bytes";
  page.drain(std::chrono::milliseconds(200));
  for (const auto& error : page.take_all("page_error"))
    ADD_FAILURE() << "page error: " << picojson::value(error).serialize();
}

}  // namespace
}  // namespace courier::test
