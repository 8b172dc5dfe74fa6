// Routing rules: wildcard patterns, JSON field conditions (the mail
// platform's `order`), de-duplication, and loading from the real config
// language through conf's parser.
#include "mss/handlers/rules.hpp"

#include <gtest/gtest.h>

#include "conf/config_parser.hpp"
#include "tests/json_support.hpp"

namespace courier::mss {
namespace {

using courier::test::parse_json;

TEST(Rules, WildcardsAndOrder) {
  route_table table;
  std::string error;
  ASSERT_TRUE(table.add({"login.abnormal", {}, {"email_user", "sms_user"}}, error)) << error;
  ASSERT_TRUE(table.add({"login.*", {}, {"audit_log", "email_user"}}, error)) << error;
  ASSERT_TRUE(table.add({"user.>", {}, {"webhook"}}, error)) << error;
  const auto none = picojson::value();
  EXPECT_EQ(table.match("login.abnormal", none), (std::vector<std::string>{"email_user", "sms_user", "audit_log"}));
  EXPECT_EQ(table.match("login.ok", none), (std::vector<std::string>{"audit_log", "email_user"}));
  EXPECT_EQ(table.match("login.ok.extra", none), std::vector<std::string>{});
  EXPECT_EQ(table.match("user.created", none), std::vector<std::string>{"webhook"});
  EXPECT_EQ(table.match("user.a.b.c", none), std::vector<std::string>{"webhook"});
  EXPECT_EQ(table.match("user", none), std::vector<std::string>{});
  EXPECT_EQ(table.match("other", none), std::vector<std::string>{});
}

TEST(Rules, FieldConditions) {
  route_table table;
  std::string error;
  ASSERT_TRUE(table.load(parse_json(R"([
    {"event": "outboundSMTP", "when": {"order": "deliver"}, "handlers": "smtp_deliver"},
    {"event": "contactAction", "when": {"order": ["contact_update", "discover_key"]}, "handlers": ["contacts"]},
    {"event": "alarm", "when": {"level": 3, "device.kind": "meter", "urgent": true}, "handlers": ["sms"]}
  ])"), error)) << error;
  EXPECT_EQ(table.match("outboundSMTP", parse_json(R"({"order":"deliver","message_id":"m"})")),
            std::vector<std::string>{"smtp_deliver"});
  EXPECT_TRUE(table.match("outboundSMTP", parse_json(R"({"order":"cancel"})")).empty());
  EXPECT_TRUE(table.match("outboundSMTP", parse_json(R"({"message_id":"m"})")).empty());
  EXPECT_TRUE(table.match("outboundSMTP", parse_json(R"("deliver")")).empty());
  EXPECT_TRUE(table.match("outboundSMTP", picojson::value()).empty());
  EXPECT_EQ(table.match("contactAction", parse_json(R"({"order":"discover_key"})")), std::vector<std::string>{"contacts"});
  EXPECT_TRUE(table.match("contactAction", parse_json(R"({"order":"publish_key"})")).empty());
  EXPECT_EQ(table.match("alarm", parse_json(R"({"level":3.0,"device":{"kind":"meter"},"urgent":true})")),
            std::vector<std::string>{"sms"});
  EXPECT_TRUE(table.match("alarm", parse_json(R"({"level":"3","device":{"kind":"meter"},"urgent":true})")).empty());
  EXPECT_TRUE(table.match("alarm", parse_json(R"({"level":3,"device":{"kind":"meter"},"urgent":false})")).empty());
}

TEST(Rules, InvalidRulesAreRejectedWithReasons) {
  const std::vector<std::string> bad = {
      R"({"event":"a"})",
      R"([{"handlers":["x"]}])",
      R"([{"event":"a..b","handlers":["x"]}])",
      R"([{"event":"a.>.b","handlers":["x"]}])",
      R"([{"event":"a b","handlers":["x"]}])",
      R"([{"event":"a","handlers":[]}])",
      R"([{"event":"a","handlers":[1]}])",
      R"([{"event":"a","handlers":[""]}])",
      R"([{"event":"a","handlers":"x","when":{"o":{"nested":1}}}])",
      R"([{"event":"a","handlers":"x","when":{"o":[]}}])",
      R"([{"event":"a","handlers":"x","when":{"a..b":1}}])",
      R"([{"event":"a","handlers":"x","when":"order"}])",
      R"([{"event":"a","handlers":"x","typo":1}])",
      R"([{"event":"a","action":"b","handlers":"x"}])",
      R"(["a"])",
  };
  for (const auto& text : bad) {
    route_table table;
    std::string error;
    EXPECT_FALSE(table.load(parse_json(text), error)) << text;
    EXPECT_FALSE(error.empty()) << text;
  }
}

TEST(Rules, LoadsFromTheConfigLanguage) {
  const auto document = conf::parse_config_string(R"(
    mss {
      rules: [
        { event: "login.abnormal", handlers: [email_user, sms_user] }
        { event: "outboundSMTP", when: { order: deliver }, handlers: smtp_deliver }
        { event: "meter.*", when: { level: 3 }, handlers: [sms_user] }
      ]
    }
  )");
  const auto& mss = document.root.get<picojson::object>().at("mss").get<picojson::object>();
  route_table table;
  std::string error;
  ASSERT_TRUE(table.load(mss.at("rules"), error)) << error;
  ASSERT_EQ(table.rules().size(), 3u);
  EXPECT_EQ(table.match("login.abnormal", picojson::value()), (std::vector<std::string>{"email_user", "sms_user"}));
  EXPECT_EQ(table.match("outboundSMTP", parse_json(R"({"order":"deliver"})")), std::vector<std::string>{"smtp_deliver"});
  EXPECT_EQ(table.match("meter.m1", parse_json(R"({"level":3})")), std::vector<std::string>{"sms_user"});
}

}  // namespace
}  // namespace courier::mss
