// The text formats monitoring shares with nats-server: Go's indented JSON,
// RFC 3339 times, Go durations and nats-server's uptime text, and the query
// decoding of its endpoints.
#include <gtest/gtest.h>

#include "monitor/endpoints.hpp"
#include "monitor/go_format.hpp"
#include "monitor/http_reply.hpp"
#include "monitor/json_writer.hpp"

namespace courier::monitor {
namespace {

using namespace std::chrono;

TEST(json_writer, lays_out_as_go_marshal_indent) {
  json_writer out;
  out.begin_object();
  out.member("a", 1);
  out.key("empty").empty_object();
  out.key("none").empty_array();
  out.key("list").begin_array().value("x").value(true).end_array();
  out.key("nested").begin_object().member("f", 0.75).end_object();
  out.key("nothing").null();
  out.end_object();
  EXPECT_EQ(out.text(),
            "{\n  \"a\": 1,\n  \"empty\": {},\n  \"none\": [],\n  \"list\": [\n    \"x\",\n    true\n  ],\n"
            "  \"nested\": {\n    \"f\": 0.75\n  },\n  \"nothing\": null\n}");
}

TEST(json_writer, compact_as_go_marshal) {
  json_writer out(json_writer::layout::compact);
  out.begin_object().member("a", 1).key("b").begin_array().value("x").empty_object().end_array();
  out.key("c").empty_array().end_object();
  EXPECT_EQ(out.text(), R"({"a":1,"b":["x",{}],"c":[]})");
}

TEST(json_writer, escapes_strings_as_go) {
  std::string out;
  json_writer::append_string(out, "a\"b\\c\n<tag>&\x01\xE2\x80\xA8");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u003ctag\\u003e\\u0026\\u0001\\u2028\"");
}

TEST(json_writer, writes_floats_in_go_shortest_form) {
  auto text = [](double v) {
    json_writer out;
    out.value(v);
    return out.take();
  };
  EXPECT_EQ(text(0), "0");
  EXPECT_EQ(text(2), "2");
  EXPECT_EQ(text(0.8), "0.8");
  EXPECT_EQ(text(0.7142857142857143), "0.7142857142857143");
  EXPECT_EQ(text(1e-7), "1e-07");
}

TEST(go_format, rfc3339_nano_trims_the_fraction) {
  const auto base = system_clock::time_point(seconds(1796500953));  // 2026-12-05T20:02:33Z
  EXPECT_EQ(rfc3339_nano(base), "2026-12-05T20:02:33Z");
  EXPECT_EQ(rfc3339_nano(base + nanoseconds(96355870)), "2026-12-05T20:02:33.09635587Z");
  EXPECT_EQ(rfc3339_nano(base + nanoseconds(608931902)), "2026-12-05T20:02:33.608931902Z");
}

TEST(go_format, durations_as_go_prints_them) {
  EXPECT_EQ(go_duration(nanoseconds(0)), "0s");
  EXPECT_EQ(go_duration(nanoseconds(999)), "999ns");
  EXPECT_EQ(go_duration(microseconds(443)), "443µs");
  EXPECT_EQ(go_duration(nanoseconds(6976461)), "6.976461ms");
  EXPECT_EQ(go_duration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(go_duration(seconds(90)), "1m30s");
  EXPECT_EQ(go_duration(hours(2)), "2h0m0s");
  EXPECT_EQ(go_duration(nanoseconds(-1500)), "-1.5µs");
}

TEST(go_format, uptime_in_nats_server_units) {
  EXPECT_EQ(uptime_text(milliseconds(900)), "0s");
  EXPECT_EQ(uptime_text(seconds(42)), "42s");
  EXPECT_EQ(uptime_text(seconds(3 * 60 + 4)), "3m4s");
  EXPECT_EQ(uptime_text(seconds(3600 + 120 + 3)), "1h2m3s");
  EXPECT_EQ(uptime_text(hours(49) + seconds(5)), "2d1h0m5s");
  EXPECT_EQ(uptime_text(hours(24 * 367)), "1y2d0h0m0s");
}

TEST(query_params, decodes_like_go_parse_query) {
  query_params query("/connz?sort=bytes_to&subs=detail&acc=%24G&name=a+b&empty&x=1&x=2");
  EXPECT_EQ(query.get("sort"), "bytes_to");
  EXPECT_EQ(query.get("acc"), "$G");
  EXPECT_EQ(query.get("name"), "a b");
  EXPECT_TRUE(query.has("empty"));
  EXPECT_EQ(query.get("empty"), "");
  EXPECT_EQ(query.get("x"), "1");
  EXPECT_FALSE(query.has("missing"));
  EXPECT_FALSE(query_params("/varz").has("sort"));
}

// nats-server 2.9.10 answers /connz?limit=%zz and /connz?limit=3;a=b with
// its default limit (1024): Go's ParseQuery drops those pairs and the
// server ignores the error.
TEST(query_params, drops_pairs_go_refuses) {
  query_params query("/connz?limit=%zz&offset=1%&a=%4&b=3;c=4&sort=%63id&k%zz=1");
  EXPECT_FALSE(query.has("limit"));
  EXPECT_FALSE(query.has("offset"));
  EXPECT_FALSE(query.has("a"));
  EXPECT_FALSE(query.has("b"));
  EXPECT_FALSE(query.has("c"));
  EXPECT_FALSE(query.has("k%zz"));
  EXPECT_EQ(query.get("sort"), "cid");
}

TEST(query_params, booleans_as_strconv_parse_bool) {
  EXPECT_TRUE(decode_bool(query_params("/?subs=1"), "subs").value);
  EXPECT_TRUE(decode_bool(query_params("/?subs=true"), "subs").value);
  EXPECT_FALSE(decode_bool(query_params("/?subs=F"), "subs").value);
  EXPECT_FALSE(decode_bool(query_params("/"), "subs").value);
  EXPECT_EQ(decode_bool(query_params("/?subs=x"), "subs").error,
            "Error decoding boolean for 'subs': strconv.ParseBool: parsing \"x\": invalid syntax");
}

}  // namespace
}  // namespace courier::monitor
