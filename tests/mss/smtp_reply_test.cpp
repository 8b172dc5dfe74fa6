// SMTP reply parser: single and multi-line replies, every split point,
// byte-at-a-time feeding, and inputs that must fail.
#include "mss/peers/smtp_reply.hpp"

#include <gtest/gtest.h>

namespace courier::mss {
namespace {

/// Feeds `input` in pieces cut at `cuts` and collects the replies.
std::vector<smtp_reply> parse_in_pieces(const std::string& input, const std::vector<std::size_t>& cuts,
                                        bool& failed) {
  smtp_reply_parser parser;
  std::vector<smtp_reply> replies;
  std::string buffer;
  std::size_t previous = 0;
  failed = false;
  auto feed = [&](std::string_view piece) {
    buffer.append(piece);
    while (true) {
      const auto status = parser.consume(buffer);
      if (status == smtp_reply_parser::status::done) {
        replies.push_back(parser.reply());
        parser.reset();
        continue;
      }
      if (status == smtp_reply_parser::status::error) failed = true;
      break;
    }
  };
  for (std::size_t cut : cuts) {
    feed(std::string_view(input).substr(previous, cut - previous));
    previous = cut;
  }
  feed(std::string_view(input).substr(previous));
  return replies;
}

TEST(SmtpReplyParser, SingleLine) {
  bool failed;
  const auto replies = parse_in_pieces("220 mail.example.com ESMTP ready\r\n", {}, failed);
  ASSERT_FALSE(failed);
  ASSERT_EQ(replies.size(), 1u);
  EXPECT_EQ(replies[0].code, 220);
  EXPECT_EQ(replies[0].text(), "mail.example.com ESMTP ready");
  EXPECT_TRUE(replies[0].positive());
}

TEST(SmtpReplyParser, MultiLineGrindEverySplitAndByteByByte) {
  const std::string input =
      "250-mail.example.com\r\n250-SIZE 33554432\r\n250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n250 HELP\r\n"
      "354 End data with <CR><LF>.<CR><LF>\r\n";
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    bool failed;
    const auto replies = parse_in_pieces(input, {cut}, failed);
    ASSERT_FALSE(failed) << cut;
    ASSERT_EQ(replies.size(), 2u) << cut;
    EXPECT_EQ(replies[0].code, 250);
    ASSERT_EQ(replies[0].lines.size(), 5u);
    EXPECT_EQ(replies[0].lines[3], "AUTH PLAIN LOGIN");
    EXPECT_EQ(replies[1].code, 354);
    EXPECT_TRUE(replies[1].intermediate());
  }
  std::vector<std::size_t> every;
  for (std::size_t i = 1; i < input.size(); ++i) every.push_back(i);
  bool failed;
  EXPECT_EQ(parse_in_pieces(input, every, failed).size(), 2u);
  EXPECT_FALSE(failed);
}

TEST(SmtpReplyParser, BareCodeAndBareLfAreAccepted) {
  bool failed;
  const auto replies = parse_in_pieces("250\r\n550 no such user\n", {}, failed);
  ASSERT_FALSE(failed);
  ASSERT_EQ(replies.size(), 2u);
  EXPECT_EQ(replies[0].code, 250);
  EXPECT_EQ(replies[1].code, 550);
  EXPECT_TRUE(replies[1].permanent_failure());
  EXPECT_EQ(replies[1].text(), "no such user");
}

TEST(SmtpReplyParser, IncompleteReplyNeedsMore) {
  smtp_reply_parser parser;
  std::string buffer = "250-first\r\n250-second\r\n";
  EXPECT_EQ(parser.consume(buffer), smtp_reply_parser::status::need_more);
  EXPECT_TRUE(buffer.empty());
  buffer = "250 last";
  EXPECT_EQ(parser.consume(buffer), smtp_reply_parser::status::need_more);
  buffer += "\r\n";
  EXPECT_EQ(parser.consume(buffer), smtp_reply_parser::status::done);
  EXPECT_EQ(parser.reply().lines.size(), 3u);
}

TEST(SmtpReplyParser, MalformedRepliesFail) {
  const std::vector<std::string> bad = {
      "25\r\n",                     // short
      "2x0 ok\r\n",                 // not digits
      "250_ok\r\n",                 // bad separator
      "650 out of range\r\n",       // first digit must be 2..5
      "150 out of range\r\n",
      "250-one\r\n251 two\r\n",     // code changed mid-reply
      std::string(5000, 'a'),       // over-long line without newline
      "250 " + std::string(5000, 'a') + "\r\n",
  };
  for (const auto& input : bad) {
    smtp_reply_parser parser;
    std::string buffer = input;
    smtp_reply_parser::status status;
    while ((status = parser.consume(buffer)) == smtp_reply_parser::status::done) parser.reset();
    EXPECT_EQ(status, smtp_reply_parser::status::error) << input.substr(0, 40);
    EXPECT_FALSE(parser.error().empty());
    // A failed parser stays failed.
    std::string more = "250 ok\r\n";
    EXPECT_EQ(parser.consume(more), smtp_reply_parser::status::error);
  }
}

TEST(SmtpReplyParser, TooManyLinesFail) {
  smtp_reply_parser parser;
  std::string buffer;
  for (std::size_t i = 0; i <= smtp_reply_parser::max_lines; ++i) buffer += "250-x\r\n";
  EXPECT_EQ(parser.consume(buffer), smtp_reply_parser::status::error);
}

}  // namespace
}  // namespace courier::mss
