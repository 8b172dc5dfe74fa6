// Reading a Prometheus text exposition back in the tests: samples by their
// exact series text (`name{label="value",...}` as written), families by
// name. Structure is checked by promtool (promtool_test.cpp); this only
// gives tests the values.
#pragma once

#include <map>
#include <optional>
#include <sstream>
#include <string>

namespace courier::monitor::test {

/// A parsed document.
struct exposition {
  std::map<std::string, std::string> types;  ///< family name -> "counter", "gauge", ...
  std::map<std::string, std::string> help;   ///< family name -> HELP text (escaped as written)
  std::map<std::string, double> samples;     ///< series text -> value
  int duplicate_series = 0;                  ///< series written more than once

  /// The value of `series`, if written.
  std::optional<double> find(const std::string& series) const {
    auto it = samples.find(series);
    if (it == samples.end()) return std::nullopt;
    return it->second;
  }
  /// The value of `series`, or -1 when it is missing (never a real counter's value).
  double value(const std::string& series) const { return find(series).value_or(-1); }
};

inline exposition parse_exposition(const std::string& text) {
  exposition out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line.rfind("# TYPE ", 0) == 0 || line.rfind("# HELP ", 0) == 0) {
      const std::string rest = line.substr(7);
      const auto space = rest.find(' ');
      auto& target = line[2] == 'T' ? out.types : out.help;
      target[rest.substr(0, space)] = space == std::string::npos ? "" : rest.substr(space + 1);
      continue;
    }
    if (line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    const std::string series = line.substr(0, space);
    if (out.samples.count(series)) ++out.duplicate_series;
    out.samples[series] = std::stod(line.substr(space + 1));
  }
  return out;
}

}  // namespace courier::monitor::test
