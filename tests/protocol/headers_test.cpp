#include "protocol/headers.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace courier::protocol {
namespace {

TEST(headers_view, minimal_block) {
  const auto view = headers_view::parse("NATS/1.0\r\n\r\n");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->status(), 0);
  EXPECT_TRUE(view->description().empty());
  EXPECT_TRUE(view->empty());
  EXPECT_EQ(view->begin(), view->end());
}

TEST(headers_view, no_responders) {
  EXPECT_EQ(no_responders_headers.size(), 16u);
  const auto view = headers_view::parse(no_responders_headers);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->status(), header_status::no_responders);
  EXPECT_TRUE(view->description().empty());
  EXPECT_EQ(view->size(), 0u);
}

TEST(headers_view, status_with_description_and_fields) {
  const std::string block =
      "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 1\r\nNats-Pending-Bytes: 0\r\n\r\n";
  const auto view = headers_view::parse(block);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->status(), 408);
  EXPECT_EQ(view->description(), "Request Timeout");
  EXPECT_EQ(view->size(), 2u);
  EXPECT_EQ(view->get("Nats-Pending-Messages"), "1");
  EXPECT_EQ(view->get("Nats-Pending-Bytes"), "0");
}

TEST(headers_view, repeated_keys_and_case_are_kept) {
  const std::string block = "NATS/1.0\r\nfoo: 1\r\nFoo: 2\r\nfoo:3\r\nBar:   spaced value  \r\nEmpty:\r\n\r\n";
  const auto view = headers_view::parse(block);
  ASSERT_TRUE(view);
  std::vector<std::string> seen;
  for (const header_field& field : *view) seen.push_back(std::string(field.name) + "=" + std::string(field.value));
  EXPECT_EQ(seen, (std::vector<std::string>{"foo=1", "Foo=2", "foo=3", "Bar=spaced value", "Empty="}));
  EXPECT_EQ(view->get("foo"), "1");
  EXPECT_EQ(view->get("Foo"), "2");
  EXPECT_EQ(view->get("FOO"), std::nullopt);
  EXPECT_EQ(view->get_ignore_case("FOO"), "1");
  EXPECT_EQ(view->get_all("foo"), (std::vector<std::string_view>{"1", "3"}));
  EXPECT_EQ(view->get("Empty"), "");
  EXPECT_EQ(view->get("missing"), std::nullopt);
  // Views point into the block.
  const std::string_view value = *view->get("Bar");
  EXPECT_GE(value.data(), block.data());
  EXPECT_LE(value.data() + value.size(), block.data() + block.size());
}

TEST(headers_view, value_may_hold_colons) {
  const auto view = headers_view::parse("NATS/1.0\r\nUrl: http://x:80/a\r\n\r\n");
  ASSERT_TRUE(view);
  EXPECT_EQ(view->get("Url"), "http://x:80/a");
}

TEST(headers_view, rejects_malformed_blocks) {
  const std::vector<std::string> bad = {
      "",
      "NATS/1.0",
      "NATS/1.0\r\n",                      // no blank line
      "NATS/2.0\r\n\r\n",
      "nats/1.0\r\n\r\n",
      "NATS/1.0\n\n",
      "NATS/1.0503\r\n\r\n",               // status needs a blank before it
      "NATS/1.0 50\r\n\r\n",
      "NATS/1.0 5x3\r\n\r\n",
      "NATS/1.0 5030\r\n\r\n",
      "NATS/1.0 000 0+'O\r\n\r\n",       // below 100: found by fuzz_headers
      "NATS/1.0 099\r\n\r\n",
      "NATS/1.0\r\nno colon\r\n\r\n",
      "NATS/1.0\r\n: empty name\r\n\r\n",
      "NATS/1.0\r\nsp ace: x\r\n\r\n",
      "NATS/1.0\r\nA: b\nc\r\n\r\n",        // bare LF inside a line
      "NATS/1.0\r\nA: b\r\n",               // missing final blank line
      "NATS/1.0\r\n\r\nextra",              // bytes after the block
      "NATS/1.0\r\nA: b\r\n\r\n\r\n",
  };
  for (const auto& block : bad) {
    EXPECT_FALSE(headers_view::parse(block)) << block;
  }
}

TEST(headers_builder, builds_what_the_view_reads) {
  headers_builder builder(503, "No Responders");
  EXPECT_TRUE(builder.add("A", "1"));
  EXPECT_TRUE(builder.add("a", "2"));
  EXPECT_TRUE(builder.add("Multi-Word", "x y z"));
  EXPECT_FALSE(builder.add("bad name", "v"));
  EXPECT_FALSE(builder.add("Bad:Name", "v"));
  EXPECT_FALSE(builder.add("Name", "line\r\nbreak"));
  const std::string block = builder.finish();
  EXPECT_EQ(block, "NATS/1.0 503 No Responders\r\nA: 1\r\na: 2\r\nMulti-Word: x y z\r\n\r\n");
  const auto view = headers_view::parse(block);
  ASSERT_TRUE(view);
  EXPECT_EQ(view->status(), 503);
  EXPECT_EQ(view->description(), "No Responders");
  EXPECT_EQ(view->get("a"), "2");
  EXPECT_EQ(view->size(), 3u);
}

TEST(headers_builder, plain_and_status_only) {
  EXPECT_EQ(headers_builder().finish(), "NATS/1.0\r\n\r\n");
  EXPECT_EQ(headers_builder(503).finish(), no_responders_headers);
  std::string out = "prefix:";
  headers_builder builder;
  builder.add("K", "V");
  builder.finish_into(out);
  EXPECT_EQ(out, "prefix:NATS/1.0\r\nK: V\r\n\r\n");
}

}  // namespace
}  // namespace courier::protocol
