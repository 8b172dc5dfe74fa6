#include "conf/config_error.hpp"

namespace courier::conf {

std::string source_position::to_string() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    out += ':';
  }
  out += std::to_string(line);
  out += ':';
  out += std::to_string(column);
  return out;
}

std::string config_problem::to_string() const {
  if (where.line == 0) {
    if (where.file.empty()) return message;
    return where.file + ": " + message;
  }
  return where.to_string() + ": " + message;
}

std::string config_error::join(const std::vector<config_problem>& problems) {
  std::string out;
  for (const auto& problem : problems) {
    if (!out.empty()) out += '\n';
    out += problem.to_string();
  }
  return out;
}

config_error::config_error(source_position where, const std::string& message)
    : config_error(std::vector<config_problem>{{std::move(where), message}}) {}

config_error::config_error(const std::string& message)
    : config_error(std::vector<config_problem>{{source_position{}, message}}) {}

config_error::config_error(std::vector<config_problem> problems)
    : std::runtime_error(join(problems)), problems_(std::move(problems)) {}

}  // namespace courier::conf
