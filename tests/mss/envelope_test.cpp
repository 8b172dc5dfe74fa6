// Envelope checks: JSON detection, correlationId, timestamp + timeout
// expiry, idempotency key choice, malformed fields.
#include "mss/handlers/envelope.hpp"

#include <gtest/gtest.h>

namespace courier::mss {
namespace {

using namespace std::chrono_literals;

std::chrono::system_clock::time_point at_ms(std::int64_t ms) {
  return std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
}

TEST(Envelope, ExtractsFields) {
  const auto e = inspect_message(R"({"correlationId":"c-1","timestamp":1000,"timeout":500,"x":1})");
  ASSERT_TRUE(e.is_json);
  EXPECT_EQ(e.correlation_id, "c-1");
  EXPECT_EQ(e.timestamp_ms, 1000);
  EXPECT_EQ(e.timeout_ms, 500);
  EXPECT_TRUE(e.field_errors.empty());
  EXPECT_FALSE(e.expired(at_ms(1500)));
  EXPECT_TRUE(e.expired(at_ms(1501)));
}

TEST(Envelope, ZeroOrMissingTimeoutNeverExpires) {
  EXPECT_FALSE(inspect_message(R"({"timestamp":1,"timeout":0})").expired(at_ms(1'000'000'000'000)));
  EXPECT_FALSE(inspect_message(R"({"timestamp":1})").expired(at_ms(1'000'000'000'000)));
  EXPECT_FALSE(inspect_message(R"({"timeout":5})").expired());
  EXPECT_FALSE(inspect_message(R"({"timestamp":9000000000000000000,"timeout":9000000000000000000})").expired());
}

TEST(Envelope, RealClockExpiry) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_TRUE(inspect_message(R"({"timestamp":)" + std::to_string(now - 10'000) + R"(,"timeout":1000})").expired());
  EXPECT_FALSE(inspect_message(R"({"timestamp":)" + std::to_string(now) + R"(,"timeout":60000})").expired());
}

TEST(Envelope, NumericStringsAndNumbersAccepted) {
  const auto e = inspect_message(R"({"correlationId":42,"timestamp":"1000","timeout":2.0})");
  EXPECT_EQ(e.correlation_id, "42");
  EXPECT_EQ(e.timestamp_ms, 1000);
  EXPECT_EQ(e.timeout_ms, 2);
}

TEST(Envelope, MalformedFieldsAreReportedNotFatal) {
  const auto e = inspect_message(R"({"correlationId":{"a":1},"timestamp":"yesterday","timeout":-5})");
  EXPECT_TRUE(e.is_json);
  EXPECT_FALSE(e.correlation_id);
  EXPECT_FALSE(e.timestamp_ms);
  EXPECT_FALSE(e.timeout_ms);
  EXPECT_EQ(e.field_errors.size(), 3u);
  EXPECT_FALSE(e.expired());
}

TEST(Envelope, NonJsonAndNonObjectPayloads) {
  auto e = inspect_message("hello");
  EXPECT_FALSE(e.is_json);
  EXPECT_FALSE(e.parse_error.empty());
  EXPECT_TRUE(e.message.is<picojson::null>());
  e = inspect_message("{\"a\":1} junk");
  EXPECT_FALSE(e.is_json);
  e = inspect_message("[1,2]");
  EXPECT_TRUE(e.is_json);
  EXPECT_FALSE(e.correlation_id);
  e = inspect_message(std::string(200, '[') + std::string(200, ']'));  // deeper than picojson's limit
  EXPECT_FALSE(e.is_json);
  e = inspect_message("");
  EXPECT_FALSE(e.is_json);
}

TEST(Envelope, NumbersBeyondRangeAreErrorsNotCrashes) {
  // Beyond a double: the JSON reader refuses the document (picojson itself
  // throws std::overflow_error for it, which once ended a whole server).
  auto e = inspect_message(R"({"timestamp":1e999,"correlationId":"c"})");
  EXPECT_FALSE(e.is_json);
  EXPECT_NE(e.parse_error.find("number out of range"), std::string::npos) << e.parse_error;
  EXPECT_FALSE(e.correlation_id);
  EXPECT_FALSE(e.expired());
  // A double, but no int64 of milliseconds: a field error.
  e = inspect_message(R"({"timestamp":1e300,"timeout":-1e300,"correlationId":1e300})");
  ASSERT_TRUE(e.is_json);
  EXPECT_FALSE(e.timestamp_ms);
  EXPECT_FALSE(e.timeout_ms);
  EXPECT_EQ(e.field_errors.size(), 2u);
  EXPECT_TRUE(e.correlation_id);  // a number is taken as its text
  EXPECT_FALSE(e.expired());
}

TEST(Envelope, IdempotencyKeyPrefersHeader) {
  const auto e = inspect_message(R"({"correlationId":"c-9"})");
  EXPECT_EQ(e.idempotency_key(), "c-9");
  EXPECT_EQ(e.idempotency_key("msg-1"), "msg-1");
  EXPECT_FALSE(inspect_message("{}").idempotency_key());
  EXPECT_EQ(inspect_message("{}").idempotency_key("h"), "h");
}

}  // namespace
}  // namespace courier::mss
