// JSON helpers for tests: parse, and read a field by a dotted path.
#pragma once

#include <gtest/gtest.h>
#include <picojson.h>

#include <cstddef>
#include <string>

namespace courier::test {

/// Parses JSON text; a test that gets something else fails, showing the text.
inline picojson::value parse_json(const std::string& text) {
  picojson::value v;
  const std::string error = picojson::parse(v, text);
  EXPECT_TRUE(error.empty()) << error << " in " << text.substr(0, 300);
  return v;
}

/// Field `path` (dotted: "results.log.ok") of a JSON value as text: a string
/// as it is, anything else serialised, "<absent>" when missing.
inline std::string json_field(const picojson::value& v, const std::string& path) {
  const picojson::value* current = &v;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!current->is<picojson::object>() || !current->get<picojson::object>().count(key)) return "<absent>";
    current = &current->get<picojson::object>().at(key);
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return current->is<std::string>() ? current->get<std::string>() : current->serialize();
}

}  // namespace courier::test
