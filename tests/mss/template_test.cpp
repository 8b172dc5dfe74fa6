// Template engine: field paths, value kinds, missing-field policies, the
// escaping modes (header refuses CR/LF), no re-expansion of values.
#include "mss/common/template.hpp"

#include <gtest/gtest.h>

#include "tests/json_support.hpp"

namespace courier::mss {
namespace {

using courier::test::parse_json;

const picojson::value message = parse_json(R"({
  "user": {"name": "Alice", "email": "alice@example.com", "tags": ["a", "b"]},
  "ip": "10.0.0.1", "count": 3, "big": 9007199254740993, "ratio": 0.5, "ok": true, "none": null,
  "evil": "x\r\nBcc: victim@example.com", "braces": "{{ip}}", "quote": "say \"hi\"\n", "path": "a b/c&d"
})");

std::string render_ok(const std::string& source, render_options options = {}) {
  const auto r = render_template(source, message, options);
  EXPECT_TRUE(r.ok) << source << ": " << r.error;
  return r.text;
}

TEST(Template, SubstitutesFieldsAndPaths) {
  EXPECT_EQ(render_ok("Hello {{user.name}}, login from {{ ip }}."), "Hello Alice, login from 10.0.0.1.");
  EXPECT_EQ(render_ok("{{user.tags.1}}"), "b");
  EXPECT_EQ(render_ok("no fields"), "no fields");
  EXPECT_EQ(render_ok(""), "");
  EXPECT_EQ(render_ok("a }} b"), "a }} b");
}

TEST(Template, ValueKinds) {
  EXPECT_EQ(render_ok("{{count}}"), "3");
  EXPECT_EQ(render_ok("{{big}}"), "9007199254740993");  // int64 kept exactly
  EXPECT_EQ(render_ok("{{ratio}}"), "0.5");
  EXPECT_EQ(render_ok("{{ok}}"), "true");
  EXPECT_EQ(render_ok("[{{none}}]"), "[]");
  EXPECT_EQ(render_ok("{{user.tags}}"), R"(["a","b"])");
}

TEST(Template, MissingFieldIsErrorByDefaultOrEmpty) {
  auto r = render_template("Hi {{user.phone}}", message);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error, "missing field: user.phone");
  r = render_template("{{user.tags.5}}", message);
  EXPECT_FALSE(r.ok);
  r = render_template("{{ip.x}}", message);
  EXPECT_FALSE(r.ok);
  render_options lenient;
  lenient.missing = missing_field::empty;
  EXPECT_EQ(render_ok("Hi {{user.phone}}!", lenient), "Hi !");
}

TEST(Template, ValuesAreNeverReExpanded) { EXPECT_EQ(render_ok("{{braces}}"), "{{ip}}"); }

TEST(Template, HeaderEscapingRefusesLineBreaks) {
  render_options header;
  header.escape = template_escape::header;
  auto r = render_template("Alert: {{evil}}", message, header);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.error.find("CR/LF"), std::string::npos);
  EXPECT_NE(r.error.find("evil"), std::string::npos);
  r = render_template("Alert\r\nBcc: x {{ip}}", message, header);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(render_ok("Login from {{ip}}", header), "Login from 10.0.0.1");
  // In a body (no escaping) line breaks are fine.
  EXPECT_EQ(render_ok("{{evil}}"), "x\r\nBcc: victim@example.com");
}

TEST(Template, JsonAndUrlEscaping) {
  render_options j;
  j.escape = template_escape::json;
  EXPECT_EQ(render_ok(R"({"text":"{{quote}}","n":{{count}}})", j), R"({"text":"say \"hi\"\n","n":3})");
  render_options u;
  u.escape = template_escape::url;
  EXPECT_EQ(render_ok("/q?p={{path}}", u), "/q?p=a%20b%2Fc%26d");
}

TEST(Template, ParseErrors) {
  for (const char* bad : {"{{", "a {{b", "{{}}", "{{ }}", "{{a..b}}", "{{.a}}", "{{a.}}", "{{a b}}"}) {
    text_template t;
    std::string error;
    EXPECT_FALSE(t.parse(bad, error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
  text_template t;
  std::string error;
  ASSERT_TRUE(t.parse("{{a}} and {{b.c}}", error));
  EXPECT_EQ(t.fields(), (std::vector<std::string>{"a", "b.c"}));
  EXPECT_FALSE(t.is_literal());
}

TEST(Template, NonObjectRootHasNoFields) {
  EXPECT_FALSE(render_template("{{a}}", picojson::value("text")).ok);
  EXPECT_TRUE(render_template("plain", picojson::value()).ok);
}

}  // namespace
}  // namespace courier::mss
