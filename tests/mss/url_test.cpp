// http(s) URL parsing: accepted forms and inputs that must fail.
#include "mss/peers/url.hpp"

#include <gtest/gtest.h>

namespace courier::mss {
namespace {

TEST(HttpUrl, AcceptedForms) {
  http_url u;
  std::string error;
  ASSERT_TRUE(parse_http_url("http://example.com", u, error)) << error;
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.target, "/");
  EXPECT_EQ(u.host_header(), "example.com");

  ASSERT_TRUE(parse_http_url("HTTPS://api.example.com:8443/v1/sms?x=1#frag", u, error)) << error;
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.port, 8443);
  EXPECT_EQ(u.target, "/v1/sms?x=1");
  EXPECT_EQ(u.host_header(), "api.example.com:8443");

  ASSERT_TRUE(parse_http_url("https://[::1]:9000/h", u, error)) << error;
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 9000);
  EXPECT_EQ(u.host_header(), "[::1]:9000");

  ASSERT_TRUE(parse_http_url("http://h?q=1", u, error)) << error;
  EXPECT_EQ(u.target, "/?q=1");
  ASSERT_TRUE(parse_http_url("https://h", u, error));
  EXPECT_EQ(u.port, 443);
}

TEST(HttpUrl, RejectedForms) {
  for (const char* bad : {"", "example.com", "ftp://h/", "http://", "http://:80/", "http://h:/", "http://h:0/",
                          "http://h:65536/", "http://h:12a/", "http://u:p@h/", "http://h/a b", "http://h/\r\nX: y",
                          "http://[::1/", "http://[::1]x/", "http://h:123456/"}) {
    http_url u;
    std::string error;
    EXPECT_FALSE(parse_http_url(bad, u, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

}  // namespace
}  // namespace courier::mss
