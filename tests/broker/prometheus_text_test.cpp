// The text exposition format pieces: escaping, number formatting, family
// headers, histograms (cumulative buckets, +Inf equal to _count).
#include "broker/prometheus_text.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace courier::broker::prometheus {
namespace {

std::string label_value(std::string_view value) {
  std::string out;
  append_label_value(out, value);
  return out;
}

std::string value_text(double value) {
  std::string out;
  append_value(out, value);
  return out;
}

TEST(prometheus_text, label_values_escape_backslash_quote_and_newline_only) {
  EXPECT_EQ(label_value("plain"), "plain");
  EXPECT_EQ(label_value(R"(a\b)"), R"(a\\b)");
  EXPECT_EQ(label_value(R"(say "hi")"), R"(say \"hi\")");
  EXPECT_EQ(label_value("two\nlines"), R"(two\nlines)");
  EXPECT_EQ(label_value("tab\tand é"), "tab\tand é");  // UTF-8 and tabs pass through
  EXPECT_EQ(label_value(""), "");
}

TEST(prometheus_text, help_text_escapes_backslash_and_newline_but_not_quotes) {
  std::string out;
  append_help_text(out, "a \"b\" \\ c\nd");
  EXPECT_EQ(out, R"(a "b" \\ c\nd)");
}

TEST(prometheus_text, values_round_trip_and_spell_special_values) {
  EXPECT_EQ(value_text(0), "0");
  EXPECT_EQ(value_text(1), "1");
  EXPECT_EQ(value_text(0.001), "0.001");
  EXPECT_EQ(value_text(2.5), "2.5");
  EXPECT_EQ(value_text(-3), "-3");
  EXPECT_EQ(value_text(1e21), "1e+21");
  EXPECT_EQ(std::stod(value_text(0.1 + 0.2)), 0.1 + 0.2);
  EXPECT_EQ(value_text(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(value_text(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(value_text(std::nan("")), "NaN");
}

TEST(prometheus_text, family_and_samples) {
  std::string out;
  family(out, "courier_things_total", metric_type::counter, "Things.\nCounted");
  sample(out, "courier_things_total", {}, std::uint64_t{18446744073709551615u});
  sample(out, "courier_things_total", {{"kind", "a\"b"}, {"where", "x"}}, std::uint64_t{7});
  family(out, "courier_level", metric_type::gauge, "Level.");
  sample(out, "courier_level", {{"k", "v"}}, 0.25);
  sample(out, "courier_level", std::vector<label>{{"k", "w"}}, -1.0);
  EXPECT_EQ(out,
            "# HELP courier_things_total Things.\\nCounted\n"
            "# TYPE courier_things_total counter\n"
            "courier_things_total 18446744073709551615\n"
            "courier_things_total{kind=\"a\\\"b\",where=\"x\"} 7\n"
            "# HELP courier_level Level.\n"
            "# TYPE courier_level gauge\n"
            "courier_level{k=\"v\"} 0.25\n"
            "courier_level{k=\"w\"} -1\n");
}

TEST(prometheus_text, histogram_buckets_are_cumulative_and_end_with_inf_equal_to_count) {
  std::string out;
  histogram(out, "courier_wait_seconds", {{"who", "me"}}, {0.001, 0.5, 30}, {2, 0, 5, 1}, 12.5);
  EXPECT_EQ(out,
            "courier_wait_seconds_bucket{who=\"me\",le=\"0.001\"} 2\n"
            "courier_wait_seconds_bucket{who=\"me\",le=\"0.5\"} 2\n"
            "courier_wait_seconds_bucket{who=\"me\",le=\"30\"} 7\n"
            "courier_wait_seconds_bucket{who=\"me\",le=\"+Inf\"} 8\n"
            "courier_wait_seconds_sum{who=\"me\"} 12.5\n"
            "courier_wait_seconds_count{who=\"me\"} 8\n");
}

TEST(prometheus_text, histogram_without_labels_has_only_le) {
  std::string out;
  histogram(out, "h", {}, {1}, {0, 0}, 0);
  EXPECT_EQ(out, "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 0\nh_sum 0\nh_count 0\n");
}

}  // namespace
}  // namespace courier::broker::prometheus
