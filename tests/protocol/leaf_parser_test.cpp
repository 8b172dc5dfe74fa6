// The leafnode protocol parser: every operation, split at every offset,
// and the inputs nats-server refuses.
#include "protocol/leaf_parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker/outbound_buffer.hpp"
#include "leaf_recorder.hpp"

namespace courier::protocol {
namespace {

using recorder = testing::leaf_recorder;

const std::string session =
    "INFO {\"server_id\":\"N\",\"leafnode_urls\":[\"127.0.0.1:7422\"]} \r\n"
    "LS+ foo\r\n"
    "LS+ bar q1 3\r\n"
    "LS- bar q1\r\n"
    "LS- foo\r\n"
    "LMSG foo 5\r\nhello\r\n"
    "LMSG foo rep 2\r\nhi\r\n"
    "LMSG bar | q1 q2 1\r\nx\r\n"
    "LMSG bar + rep q1 0\r\n\r\n"
    "HMSG foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    "HMSG bar + rep q1 q2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n"
    "PING\r\nPONG\r\n+OK\r\n-ERR 'Loop detected'\r\n";

const std::vector<std::string> expected = {
    "INFO {\"server_id\":\"N\",\"leafnode_urls\":[\"127.0.0.1:7422\"]} ",
    "LS+ foo||0",
    "LS+ bar|q1|3",
    "LS- bar|q1",
    "LS- foo|",
    "MSG foo||||hello",
    "MSG foo|rep|||hi",
    "MSG bar||q1,q2,||x",
    "MSG bar|rep|q1,||",
    "MSG foo|||NATS/1.0\r\n\r\n|hi",
    "MSG bar|rep|q1,q2,|NATS/1.0\r\n\r\n|hi",
    "PING",
    "PONG",
    "+OK",
    "ERR Loop detected",
};

TEST(leaf_parser, whole_session) {
  recorder r;
  leaf_parser<recorder> parser(4096, 1 << 20);
  EXPECT_EQ(parser.feed(session.data(), session.size(), r), session.size());
  EXPECT_EQ(r.ops, expected);
  EXPECT_TRUE(parser.idle());
}

TEST(leaf_parser, split_at_every_offset) {
  for (std::size_t cut = 0; cut <= session.size(); ++cut) {
    recorder r;
    leaf_parser<recorder> parser(4096, 1 << 20);
    parser.feed(session.data(), cut, r);
    parser.feed(session.data() + cut, session.size() - cut, r);
    ASSERT_EQ(r.ops, expected) << "cut at " << cut;
  }
}

TEST(leaf_parser, one_byte_at_a_time) {
  recorder r;
  leaf_parser<recorder> parser(4096, 1 << 20);
  for (char c : session) parser.feed(&c, 1, r);
  EXPECT_EQ(r.ops, expected);
}

TEST(leaf_parser, refused_inputs) {
  const std::pair<std::string, leaf_parse_error> cases[] = {
      {"LMSG qq r2 grp 2\r\nqr\r\n", leaf_parse_error::bad_message_args},  // reply and queue without "+"
      {"LMSG foo\r\n", leaf_parse_error::bad_message_args},
      {"LMSG foo x\r\n", leaf_parse_error::bad_message_args},
      {"HMSG foo 20 10\r\n", leaf_parse_error::bad_message_args},
      {"LMSG foo 2\r\nabc\r\n", leaf_parse_error::bad_payload_end},
      {"LMSG foo 3000000\r\n", leaf_parse_error::max_payload},
      {"LS+\r\n", leaf_parse_error::bad_interest_args},
      {"LS+ a b c d\r\n", leaf_parse_error::bad_interest_args},
      {"LS- a b c\r\n", leaf_parse_error::bad_interest_args},
      {"PUB foo 1\r\nx\r\n", leaf_parse_error::unknown_operation},
      {std::string("LS+ ") + std::string(5000, 'a') + "\r\n", leaf_parse_error::max_control_line},
  };
  for (const auto& [input, error] : cases) {
    recorder r;
    leaf_parser<recorder> parser(4096, 1 << 20);
    parser.feed(input.data(), input.size(), r);
    ASSERT_FALSE(r.ops.empty()) << input;
    EXPECT_EQ(r.ops.back(), "ERROR " + std::to_string(static_cast<int>(error))) << input;
    // Failed for good.
    EXPECT_EQ(parser.feed("PING\r\n", 6, r), 0u);
  }
}

// Found by the leaf_parser fuzz target: one token between the subject and
// the size is the reply even when it is "|" or "+" (nats-server's
// processLeafMsgArgs takes args[1] when there are three), so a message whose
// reply is "|", written out without queues, reads back the same.
TEST(leaf_parser, a_lone_marker_token_is_the_reply) {
  const std::string input =
      "LMSG s | 3\r\nabc\r\n"
      "LMSG s + 1\r\nx\r\n"
      "HMSG s | 12 12\r\nNATS/1.0\r\n\r\n\r\n"
      "LMSG s + | 1\r\ny\r\n";
  recorder r;
  leaf_parser<recorder> parser(4096, 1 << 20);
  EXPECT_EQ(parser.feed(input.data(), input.size(), r), input.size());
  EXPECT_EQ(r.ops, (std::vector<std::string>{"MSG s|||||abc", "MSG s|+|||x", "MSG s||||NATS/1.0\r\n\r\n|",
                                             "MSG s|||||y"}));
  broker::outbound_buffer out;
  const std::vector<std::string_view> none;
  append_leaf_message(out, "s", "|", none, "", "y");
  recorder again;
  leaf_parser<recorder> reparse(4096, 1 << 20);
  reparse.feed(out.data(), out.size(), again);
  EXPECT_EQ(again.ops, (std::vector<std::string>{"MSG s|||||y"}));
}

TEST(leaf_parser, encoder_writes_what_the_parser_reads) {
  broker::outbound_buffer out;
  const std::vector<std::string_view> none, queues = {"q1", "q2"};
  append_leaf_message(out, "foo", "", none, "", "hello");
  append_leaf_message(out, "foo", "rep", none, "", "hi");
  append_leaf_message(out, "bar", "", queues, "", "x");
  append_leaf_message(out, "bar", "rep", queues, "NATS/1.0\r\n\r\n", "hi");
  const std::string wire(out.data(), out.size());
  EXPECT_EQ(wire,
            "LMSG foo 5\r\nhello\r\n"
            "LMSG foo rep 2\r\nhi\r\n"
            "LMSG bar | q1 q2 1\r\nx\r\n"
            "HMSG bar + rep q1 q2 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
}

}  // namespace
}  // namespace courier::protocol
