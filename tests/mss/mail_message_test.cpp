// Pure mail formatting: validation (header injection), dot-stuffing,
// quoted-printable, base64, RFC 2047 subjects.
#include "mss/peers/mail_message.hpp"

#include <gtest/gtest.h>

namespace courier::mss {
namespace {

mail_message valid() {
  mail_message m;
  m.from = "a@example.com";
  m.to = {"b@example.com"};
  m.subject = "Hi";
  m.body = "text";
  return m;
}

TEST(MailMessage, ValidMessagePasses) { EXPECT_EQ(validate_mail(valid()), ""); }

TEST(MailMessage, InjectionAndBadAddressesAreRefused) {
  const std::vector<std::pair<std::string, std::function<void(mail_message&)>>> cases = {
      {"CR in subject", [](mail_message& m) { m.subject = "a\rb"; }},
      {"LF in subject", [](mail_message& m) { m.subject = "a\nBcc: x@y"; }},
      {"NUL in subject", [](mail_message& m) { m.subject = std::string("a\0b", 3); }},
      {"CRLF in from", [](mail_message& m) { m.from = "a@b.c\r\n"; }},
      {"CRLF in to", [](mail_message& m) { m.to = {"x@y.z\r\nRCPT TO:<v@w>"}; }},
      {"angle in to", [](mail_message& m) { m.to = {"x@y.z>"}; }},
      {"space in from", [](mail_message& m) { m.from = "a b@c.d"; }},
      {"no at", [](mail_message& m) { m.to = {"nobody"}; }},
      {"at at end", [](mail_message& m) { m.to = {"nobody@"}; }},
      {"no recipient", [](mail_message& m) { m.to.clear(); }},
      {"header CRLF", [](mail_message& m) { m.headers = {{"X-A", "1\r\nBcc: x@y"}}; }},
      {"header name colon", [](mail_message& m) { m.headers = {{"X:A", "1"}}; }},
      {"override subject", [](mail_message& m) { m.headers = {{"subject", "other"}}; }},
      {"NUL in body", [](mail_message& m) { m.body = std::string("a\0b", 3); }},
  };
  for (const auto& [what, apply] : cases) {
    mail_message m = valid();
    apply(m);
    EXPECT_NE(validate_mail(m), "") << what;
  }
}

TEST(MailMessage, DotStuffing) {
  EXPECT_EQ(dot_stuff(""), ".\r\n");
  EXPECT_EQ(dot_stuff("a"), "a\r\n.\r\n");
  EXPECT_EQ(dot_stuff("a\r\n"), "a\r\n.\r\n");
  EXPECT_EQ(dot_stuff("."), "..\r\n.\r\n");
  EXPECT_EQ(dot_stuff(".a\n..b\nc.d\n"), "..a\r\n...b\r\nc.d\r\n.\r\n");
  EXPECT_EQ(dot_stuff("x\r.y"), "x\r\n..y\r\n.\r\n");
  EXPECT_EQ(dot_stuff("x\n\n.\n"), "x\r\n\r\n..\r\n.\r\n");
}

TEST(MailMessage, FormatHasHeadersAndCrlf) {
  mail_message m = valid();
  m.from_name = "Ops \"Team\"";
  m.to = {"b@example.com", "c@example.com"};
  m.headers = {{"Reply-To", "noreply@example.com"}};
  m.body = "line1\nline2";
  const std::string text = format_mail(m, "mx.test");
  EXPECT_NE(text.find("From: \"Ops \\\"Team\\\"\" <a@example.com>\r\n"), std::string::npos) << text;
  EXPECT_NE(text.find("To: b@example.com, c@example.com\r\n"), std::string::npos);
  EXPECT_NE(text.find("Subject: Hi\r\n"), std::string::npos);
  EXPECT_NE(text.find("Reply-To: noreply@example.com\r\n"), std::string::npos);
  EXPECT_NE(text.find("@mx.test>\r\n"), std::string::npos);
  EXPECT_NE(text.find("Content-Transfer-Encoding: 7bit\r\n\r\nline1\r\nline2"), std::string::npos);
  // No bare LF anywhere.
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      ASSERT_TRUE(i > 0 && text[i - 1] == '\r') << i;
    }
  }
}

TEST(MailMessage, NonAsciiSubjectIsEncodedWordsWithShortLines) {
  mail_message m = valid();
  m.subject = std::string(40, 'a') + "é" + std::string(60, 'b') + "✓";
  const std::string text = format_mail(m, "h");
  const std::size_t start = text.find("Subject: ");
  ASSERT_NE(start, std::string::npos);
  EXPECT_NE(text.find("=?UTF-8?B?", start), std::string::npos);
  std::size_t line_start = 0;
  while (line_start < text.size()) {
    std::size_t end = text.find("\r\n", line_start);
    if (end == std::string::npos) end = text.size();
    EXPECT_LE(end - line_start, 78u) << text.substr(line_start, end - line_start);
    line_start = end + 2;
  }
}

TEST(MailMessage, QuotedPrintable) {
  EXPECT_EQ(quoted_printable("abc"), "abc");
  EXPECT_EQ(quoted_printable("a=b"), "a=3Db");
  EXPECT_EQ(quoted_printable("é"), "=C3=A9");
  EXPECT_EQ(quoted_printable("end \r\nnext\t"), "end=20\r\nnext=09");
  const std::string encoded = quoted_printable(std::string(200, 'x'));
  std::size_t start = 0;
  while (start < encoded.size()) {
    std::size_t end = encoded.find("\r\n", start);
    if (end == std::string::npos) end = encoded.size();
    EXPECT_LE(end - start, 76u);
    start = end + 2;
  }
}

TEST(MailMessage, Base64RoundTrip) {
  EXPECT_EQ(base64_encode(""), "");
  EXPECT_EQ(base64_encode("f"), "Zg==");
  EXPECT_EQ(base64_encode("fo"), "Zm8=");
  EXPECT_EQ(base64_encode("foo"), "Zm9v");
  EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64_encode(std::string("\0user\0pw", 8)), "AHVzZXIAcHc=");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  std::string decoded;
  ASSERT_TRUE(base64_decode(base64_encode(all), decoded));
  EXPECT_EQ(decoded, all);
  EXPECT_FALSE(base64_decode("abc", decoded));
  EXPECT_FALSE(base64_decode("a=bc", decoded));
  EXPECT_FALSE(base64_decode("ab!c", decoded));
}

TEST(MailMessage, AddressValidation) {
  EXPECT_TRUE(valid_mail_address("user+tag@sub.example.com"));
  EXPECT_FALSE(valid_mail_address(""));
  EXPECT_FALSE(valid_mail_address("@example.com"));
  EXPECT_FALSE(valid_mail_address("a,b@example.com"));
  EXPECT_FALSE(valid_mail_address(std::string(400, 'a') + "@x"));
}

}  // namespace
}  // namespace courier::mss
