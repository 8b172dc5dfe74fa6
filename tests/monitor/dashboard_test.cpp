#include "monitor/dashboard.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "../clients/raw_client.hpp"
#include "broker/server.hpp"
#include "monitor/monitoring.hpp"

namespace courier::monitor {
namespace {

using namespace std::chrono_literals;

std::string dashboard_file() {
  std::ifstream file(COURIER_SOURCE_DIR "/monitor/dashboard.html", std::ios::binary);
  EXPECT_TRUE(file) << "cannot read monitor/dashboard.html";
  return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
}

// The build embeds monitor/dashboard.html byte for byte: a raw string
// literal that ended early, or a lost line, would show up here.
TEST(dashboard, embeds_the_page_byte_for_byte) {
  EXPECT_EQ(dashboard_html(), dashboard_file());
}

TEST(dashboard, is_one_self_contained_page) {
  const auto html = dashboard_html();
  EXPECT_TRUE(html.starts_with("<!doctype html>"));
  EXPECT_NE(html.find("</html>"), std::string_view::npos);
  // Nothing is loaded from elsewhere: the page must work offline.
  for (const char* external : {"src=", "href=\"http", "href=\"//", "@import", "url(", "@font-face"}) {
    EXPECT_EQ(html.find(external), std::string_view::npos) << external;
  }
}

// GET <http_base_path>/dashboard answers the page as HTML.
TEST(dashboard, is_served_at_dashboard_under_the_base_path) {
  conf::server_options options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.threads = 1;
  options.http_port = -1;  // any free port
  options.http_base_path = "/mon";
  broker::server server(options);
  server.start();
  monitoring monitoring(server);
  monitoring.start();
  auto get = [&](const std::string& path) {
    test::raw_client http(monitoring.http_port(), 0, test::raw_client::server_pings::keep);
    http.send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    EXPECT_TRUE(http.wait_closed(30s)) << path;
    return http.buffer();
  };
  const std::string reply = get("/mon/dashboard");
  EXPECT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply.substr(0, 200);
  EXPECT_NE(reply.find("Content-Type: text/html; charset=utf-8\r\n"), std::string::npos);
  const auto body = reply.find("\r\n\r\n");
  ASSERT_NE(body, std::string::npos);
  EXPECT_EQ(reply.substr(body + 4), dashboard_file());
  EXPECT_EQ(get("/dashboard").rfind("HTTP/1.1 404", 0), 0u);
  monitoring.stop();
  server.shutdown();
}

}  // namespace
}  // namespace courier::monitor
