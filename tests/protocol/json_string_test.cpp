// protocol/json_string against Go's encoding/json: every expected text below
// is what json.Marshal (go 1.19, as nats-server 2.9.10 is built) printed for
// the same string.
#include "protocol/json_string.hpp"

#include <gtest/gtest.h>

namespace courier::protocol {
namespace {

std::string quoted(std::string_view text) {
  std::string out;
  append_json_string(out, text);
  return out;
}

TEST(json_string, html_characters_and_controls_as_go_writes_them) {
  EXPECT_EQ(quoted("a<b&c>d\te"), R"("a\u003cb\u0026c\u003ed\te")");
  EXPECT_EQ(quoted("q\"b\\s/\n\r\x01\x1f\x7f"), "\"q\\\"b\\\\s/\\n\\r\\u0001\\u001f\x7f\"");
  EXPECT_EQ(quoted(""), R"("")");
}

TEST(json_string, unicode_is_copied_but_line_and_paragraph_separators) {
  EXPECT_EQ(quoted("\u2028\u2029é€😀"), "\"\\u2028\\u2029é€😀\"");
}

TEST(json_string, each_byte_outside_well_formed_utf8_becomes_a_replacement_character) {
  // A stray byte, a lead without its tail, a truncated sequence, an overlong
  // form, a surrogate, a code point above U+10FFFF, a lead at the very end.
  EXPECT_EQ(quoted("\xff\xc3(\xe2\x82\xe0\x80\xaf\xed\xa0\x80\xf4\x90\x80\x80x\xc2"),
            R"("\ufffd\ufffd(\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffdx\ufffd")");
}

}  // namespace
}  // namespace courier::protocol
