// JSON from the network must not throw: picojson::parse throws
// std::overflow_error for a number beyond a double's range, and one such
// CONNECT ended the whole server (the connection fuzzer's finding).
#include "protocol/json_parse.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace courier::protocol {
namespace {

TEST(json_parse, a_number_out_of_range_is_an_error_not_an_exception) {
  for (std::string_view text : {"1e999", "-1e999", "{\"a\":[1,{\"b\":88888888888e8882}]}"}) {
    picojson::value value;
    std::string error;
    EXPECT_NO_THROW(parse_json(value, text.begin(), text.end(), error)) << text;
    EXPECT_EQ(error, json_number_out_of_range) << text;
    EXPECT_TRUE(value.is<picojson::null>()) << text;
  }
  // What picojson itself does with it: the reason for the wrapper.
  picojson::value value;
  std::string error;
  const std::string_view huge = "[1e999]";
  EXPECT_THROW(picojson::parse(value, huge.begin(), huge.end(), &error), std::overflow_error);
}

TEST(json_parse, ordinary_documents_parse_as_with_picojson) {
  const std::string_view text = R"({"a":1.5,"b":[true,null,"x"],"c":-7} rest)";
  picojson::value value;
  std::string error;
  const auto stop = parse_json(value, text.begin(), text.end(), error);
  EXPECT_TRUE(error.empty()) << error;
  EXPECT_EQ(std::string_view(stop, text.end()), " rest");
  ASSERT_TRUE(value.is<picojson::object>());
  EXPECT_EQ(value.serialize(), R"({"a":1.5,"b":[true,null,"x"],"c":-7})");
  const std::string_view bad = "{\"a\":";
  parse_json(value, bad.begin(), bad.end(), error);
  EXPECT_FALSE(error.empty());
}

TEST(json_parse, lenient_keeps_a_number_out_of_range_as_text_at_any_depth) {
  const std::string_view text = R"({"verbose":1e999,"x":[2,{"y":-1e999}],"z":3})";
  picojson::value value;
  std::string error;
  parse_json_lenient(value, text.begin(), text.end(), error);
  ASSERT_TRUE(error.empty()) << error;
  ASSERT_TRUE(value.is<picojson::object>());
  const auto& object = value.get<picojson::object>();
  ASSERT_TRUE(object.at("verbose").is<std::string>());
  EXPECT_EQ(object.at("verbose").get<std::string>(), json_number_out_of_range);
  const auto& nested = object.at("x").get<picojson::array>().at(1).get<picojson::object>().at("y");
  EXPECT_EQ(nested.get<std::string>(), json_number_out_of_range);
  EXPECT_EQ(object.at("z").get<std::int64_t>(), 3);
}

}  // namespace
}  // namespace courier::protocol
