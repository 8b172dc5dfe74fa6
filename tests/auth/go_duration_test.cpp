#include "auth/go_duration.hpp"

#include <gtest/gtest.h>

using namespace std::chrono_literals;
using courier::auth::parse_go_duration;

TEST(go_duration, accepts_what_go_accepts) {
  EXPECT_EQ(parse_go_duration("0"), 0ns);
  EXPECT_EQ(parse_go_duration("2m"), 2min);
  EXPECT_EQ(parse_go_duration("1h30m"), 90min);
  EXPECT_EQ(parse_go_duration("1.5s"), 1500ms);
  EXPECT_EQ(parse_go_duration("500ms"), 500ms);
  EXPECT_EQ(parse_go_duration("10us"), 10us);
  EXPECT_EQ(parse_go_duration("10\xC2\xB5s"), 10us);
  EXPECT_EQ(parse_go_duration("7ns"), 7ns);
  EXPECT_EQ(parse_go_duration("-1s"), -1s);
  EXPECT_EQ(parse_go_duration("+3h"), 3h);
  EXPECT_EQ(parse_go_duration(".5s"), 500ms);
  EXPECT_EQ(parse_go_duration("1m0.25s"), 60250ms);
}

TEST(go_duration, refuses_what_go_refuses) {
  for (const char* bad : {"", "5", "s", "1x", "1.s.", "--1s", "1 s", "1sm", "abc", ".s", "1e3s"}) {
    EXPECT_FALSE(parse_go_duration(bad)) << bad;
  }
}
