#include "monitor/dashboard.hpp"

#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace {

// The build embeds monitor/dashboard.html byte for byte: a raw string
// literal that ended early, or a lost line, would show up here.
TEST(Dashboard, EmbedsThePageByteForByte) {
  std::ifstream file(COURIER_SOURCE_DIR "/monitor/dashboard.html", std::ios::binary);
  ASSERT_TRUE(file) << "cannot read monitor/dashboard.html";
  const std::string expected{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  EXPECT_EQ(courier::monitor::dashboard_html(), expected);
}

TEST(Dashboard, IsOneSelfContainedPage) {
  const auto html = courier::monitor::dashboard_html();
  EXPECT_TRUE(html.starts_with("<!doctype html>"));
  EXPECT_NE(html.find("</html>"), std::string_view::npos);
  // Nothing is loaded from elsewhere: the page must work offline.
  for (const char* external : {"src=", "href=\"http", "href=\"//", "@import", "url(", "@font-face"}) {
    EXPECT_EQ(html.find(external), std::string_view::npos) << external;
  }
}

}  // namespace
