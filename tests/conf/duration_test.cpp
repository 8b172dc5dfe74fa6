#include "conf/duration.hpp"

#include <string>

#include <gtest/gtest.h>

namespace courier::conf {
namespace {

using namespace std::chrono_literals;

TEST(duration, parses_go_durations) {
  struct parse_case {
    const char* text;
    std::chrono::nanoseconds expected;
  };
  const parse_case cases[] = {
      {"0", 0ns},
      {"-0", 0ns},
      {"2s", 2s},
      {"500ms", 500ms},
      {"1m30s", 90s},
      {"1h", 1h},
      {"1h2m3s4ms5us6ns", 1h + 2min + 3s + 4ms + 5us + 6ns},
      {"1.5s", 1500ms},
      {".5s", 500ms},
      {"1.s", 1s},
      {"2.25h", 2h + 15min},
      {"-1.5m", -90s},
      {"+3s", 3s},
      {"10us", 10us},
      {"10\xC2\xB5s", 10us},
      {"10\xCE\xBCs", 10us},
      {"7ns", 7ns},
      {"0s", 0ns},
      {"2562047h47m16.854775807s", std::chrono::nanoseconds(INT64_MAX)},
      {"-2562047h47m16.854775808s", std::chrono::nanoseconds(INT64_MIN)},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    std::string error;
    const auto parsed = parse_go_duration(c.text, error);
    ASSERT_TRUE(parsed) << error;
    EXPECT_EQ(*parsed, c.expected);
  }
}

TEST(duration, refuses_what_go_refuses) {
  for (const char* bad : {"", "5", "s", "1x", "1.s.", "--1s", "1 s", "1sm", "abc", ".s", "1e3s", "+", "1..5s"}) {
    std::string error;
    EXPECT_FALSE(parse_go_duration(bad, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(duration, mixed_units_and_fractions) {
  std::string error;
  EXPECT_EQ(parse_go_duration("1m0.25s", error), 60250ms);
  EXPECT_EQ(parse_go_duration("2m", error), 2min);
  EXPECT_EQ(parse_go_duration("1h30m", error), 90min);
  EXPECT_EQ(parse_go_duration("-1s", error), -1s);
  // Go truncates a fraction past the unit's resolution instead of rounding.
  EXPECT_EQ(parse_go_duration("1.9999999999s", error), 1999999999ns);
}

TEST(duration, rejects_with_go_messages) {
  struct error_case {
    const char* text;
    const char* message;
  };
  const error_case cases[] = {
      {"", "time: invalid duration \"\""},
      {"abc", "time: invalid duration \"abc\""},
      {"5", "time: missing unit in duration \"5\""},
      {"1m5", "time: missing unit in duration \"1m5\""},
      {"5x", "time: unknown unit \"x\" in duration \"5x\""},
      {"5 s", "time: unknown unit \" s\" in duration \"5 s\""},
      {".s", "time: invalid duration \".s\""},
      {"-", "time: invalid duration \"-\""},
      {"2562047h47m16.854775808s", "time: invalid duration \"2562047h47m16.854775808s\""},
      {"9999999999999999999999h", "time: invalid duration \"9999999999999999999999h\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    std::string error;
    EXPECT_FALSE(parse_go_duration(c.text, error));
    EXPECT_EQ(error, c.message);
  }
}

TEST(duration, formats_like_go) {
  EXPECT_EQ(format_go_duration(0ns), "0s");
  EXPECT_EQ(format_go_duration(10s), "10s");
  EXPECT_EQ(format_go_duration(90s), "1m30s");
  EXPECT_EQ(format_go_duration(2min), "2m0s");
  EXPECT_EQ(format_go_duration(2h), "2h0m0s");
  EXPECT_EQ(format_go_duration(1500ms), "1.5s");
  EXPECT_EQ(format_go_duration(500ms), "500ms");
  EXPECT_EQ(format_go_duration(1500us), "1.5ms");
  EXPECT_EQ(format_go_duration(10us), "10\xC2\xB5s");
  EXPECT_EQ(format_go_duration(7ns), "7ns");
  EXPECT_EQ(format_go_duration(-30s), "-30s");
  EXPECT_EQ(format_go_duration(1h + 1ns), "1h0m0.000000001s");
}

TEST(duration, round_trips) {
  const std::chrono::nanoseconds values[] = {1ns, 999ns, 1us, 1234567ns, 1s, 61s, 3601s, 86400s};
  for (const auto value : values) {
    std::string error;
    const auto parsed = parse_go_duration(format_go_duration(value), error);
    ASSERT_TRUE(parsed) << error;
    EXPECT_EQ(*parsed, value);
  }
}

}  // namespace
}  // namespace courier::conf
