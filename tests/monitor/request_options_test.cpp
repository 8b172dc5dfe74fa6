#include "monitor/request_options.hpp"

#include <gtest/gtest.h>

#include <string>

namespace courier::monitor {
namespace {

using kind = json_option::kind;

// ConnzEventOptions as nats-server 2.9.10 declares it (the fields used here).
const json_option connz_fields[] = {
    {"sort", kind::text, "server.SortOpt"},       {"subscriptions", kind::boolean, "bool"},
    {"offset", kind::signed_integer, "int"},      {"limit", kind::signed_integer, "int"},
    {"cid", kind::unsigned_integer, "uint64"},    {"state", kind::signed_integer, "server.ConnState"},
    {"acc", kind::text, "string"},                {"server_name", kind::text, "string"},
    {"tags", kind::text_list, "[]string"},
};

std::string error_of(std::string_view body) {
  return decode_json_options(body, "ConnzEventOptions", connz_fields).error;
}

// Every text below is what nats-server 2.9.10 answered on
// $SYS.REQ.SERVER.PING.CONNZ for that body.
TEST(request_options, syntax_errors_read_as_go_writes_them) {
  const std::pair<std::string, std::string> cases[] = {
      {"{bad", "invalid character 'b' looking for beginning of object key string"},
      {"{\"limit\":", "unexpected end of JSON input"},
      {" ", "unexpected end of JSON input"},
      {"{\"a\" 1}", "invalid character '1' after object key"},
      {"{\"a\":1 \"b\":2}", "invalid character '\"' after object key:value pair"},
      {"[1 2]", "invalid character '2' after array element"},
      {"tru", "invalid character ' ' in literal true (expecting 'e')"},
      {"trux", "invalid character 'x' in literal true (expecting 'e')"},
      {"nul", "invalid character ' ' in literal null (expecting 'l')"},
      {"{\"a\":tx}", "invalid character 'x' in literal true (expecting 'r')"},
      {"{\"a\":-}", "invalid character '}' in numeric literal"},
      {"-", "invalid character ' ' in numeric literal"},
      {"{\"a\":1.}", "invalid character '}' after decimal point in numeric literal"},
      {"{\"a\":1e}", "invalid character '}' in exponent of numeric literal"},
      {"{\"a\":\"\\x\"}", "invalid character 'x' in string escape code"},
      {"{\"a\":\"\\u12G4\"}", "invalid character 'G' in \\u hexadecimal character escape"},
      {"{\"a\":\"b\n\"}", "invalid character '\\n' in string literal"},
      {"{} x", "invalid character 'x' after top-level value"},
      {"01", "invalid character '1' after top-level value"},
      {"{\"a\":01}", "invalid character '1' after object key:value pair"},
      {"{'a':1}", "invalid character '\\'' looking for beginning of object key string"},
  };
  for (const auto& [body, expected] : cases) EXPECT_EQ(expected, error_of(body)) << body;
}

TEST(request_options, type_errors_name_the_struct_field_and_go_type) {
  const std::pair<std::string, std::string> cases[] = {
      {"{\"limit\":\"x\"}", "json: cannot unmarshal string into Go struct field ConnzEventOptions.limit of type int"},
      {"{\"LIMIT\":\"x\"}", "json: cannot unmarshal string into Go struct field ConnzEventOptions.limit of type int"},
      {"{\"limit\":1.5}", "json: cannot unmarshal number 1.5 into Go struct field ConnzEventOptions.limit of type int"},
      {"{\"limit\":99999999999999999999}",
       "json: cannot unmarshal number 99999999999999999999 into Go struct field ConnzEventOptions.limit of type int"},
      {"{\"cid\":-1}", "json: cannot unmarshal number -1 into Go struct field ConnzEventOptions.cid of type uint64"},
      {"{\"subscriptions\":1}",
       "json: cannot unmarshal number into Go struct field ConnzEventOptions.subscriptions of type bool"},
      {"{\"state\":\"closed\"}",
       "json: cannot unmarshal string into Go struct field ConnzEventOptions.state of type server.ConnState"},
      {"{\"sort\":5}", "json: cannot unmarshal number into Go struct field ConnzEventOptions.sort of type server.SortOpt"},
      {"{\"offset\":[1]}", "json: cannot unmarshal array into Go struct field ConnzEventOptions.offset of type int"},
      {"{\"acc\":{}}", "json: cannot unmarshal object into Go struct field ConnzEventOptions.acc of type string"},
      {"{\"tags\":\"x\"}", "json: cannot unmarshal string into Go struct field ConnzEventOptions.tags of type []string"},
      {"{\"tags\":[1]}", "json: cannot unmarshal number into Go struct field ConnzEventOptions.tags of type string"},
      {"{\"offset\":\"y\",\"limit\":\"x\"}",
       "json: cannot unmarshal string into Go struct field ConnzEventOptions.offset of type int"},
      {"[1]", "json: cannot unmarshal array into Go value of type server.ConnzEventOptions"},
      {"\"str\"", "json: cannot unmarshal string into Go value of type server.ConnzEventOptions"},
      {"5", "json: cannot unmarshal number into Go value of type server.ConnzEventOptions"},
      {"true", "json: cannot unmarshal bool into Go value of type server.ConnzEventOptions"},
  };
  for (const auto& [body, expected] : cases) EXPECT_EQ(expected, error_of(body)) << body;
}

TEST(request_options, values_decode_by_json_name) {
  auto decoded = decode_json_options(
      R"({"Subscriptions":true,"limit":5,"cid":7,"acc":"A\u00e9","unknown":[1,{"x":null}],"tags":["a","b"],"offset":null})",
      "ConnzEventOptions", connz_fields);
  ASSERT_TRUE(decoded.ok()) << decoded.error;
  EXPECT_EQ("true", decoded.get("subscriptions"));
  EXPECT_EQ("5", decoded.get("limit"));
  EXPECT_EQ("7", decoded.get("cid"));
  EXPECT_EQ("A\xc3\xa9", decoded.get("acc"));
  EXPECT_EQ("a,b", decoded.get("tags"));
  EXPECT_FALSE(decoded.has("offset"));  // null leaves the field alone
  EXPECT_TRUE(decode_json_options("", "ConnzEventOptions", connz_fields).ok());
  EXPECT_TRUE(decode_json_options("null", "ConnzEventOptions", connz_fields).ok());
  // A repeated key: the last value wins, as in Go.
  EXPECT_EQ("2", decode_json_options(R"({"limit":1,"limit":2})", "ConnzEventOptions", connz_fields).get("limit"));
}

}  // namespace
}  // namespace courier::monitor
