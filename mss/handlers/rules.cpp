#include "mss/handlers/rules.hpp"

#include <algorithm>

#include "mss/common/template.hpp"
#include "protocol/subject.hpp"

namespace courier::mss {
namespace {

bool scalar(const picojson::value& v) {
  return v.is<std::string>() || v.is<double>() || v.is<bool>() || v.is<picojson::null>();
}

bool same_value(const picojson::value& a, const picojson::value& b) {
  // PICOJSON_USE_INT64: 3 may be int64 on one side and 3.0 double on the
  // other; is<double>() is true for both, so compare numerically.
  if (a.is<double>() && b.is<double>()) {
    if (a.is<std::int64_t>() && b.is<std::int64_t>()) return a.get<std::int64_t>() == b.get<std::int64_t>();
    return a.get<double>() == b.get<double>();
  }
  if (a.is<std::string>() && b.is<std::string>()) return a.get<std::string>() == b.get<std::string>();
  if (a.is<bool>() && b.is<bool>()) return a.get<bool>() == b.get<bool>();
  return a.is<picojson::null>() && b.is<picojson::null>();
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

// Readers of one rule object's keys. Each returns false with `problem` (the
// caller prefixes the rule's position).

/// Exactly one string `event` (or `action`, or `pattern`).
bool read_pattern(const picojson::object& object, route_rule& rule, std::string& problem) {
  bool have_pattern = false;
  for (const char* key : {"event", "action", "pattern"}) {
    if (auto it = object.find(key); it != object.end()) {
      if (!it->second.is<std::string>() || have_pattern) {
        problem = "needs exactly one string 'event'";
        return false;
      }
      rule.pattern = it->second.get<std::string>();
      have_pattern = true;
    }
  }
  if (!have_pattern) {
    problem = "has no 'event'";
    return false;
  }
  return true;
}

/// `handlers`: a name or a list of names; absent means none.
bool read_handlers(const picojson::object& object, route_rule& rule, std::string& problem) {
  auto it = object.find("handlers");
  if (it == object.end()) return true;
  if (it->second.is<std::string>()) {
    rule.handlers.push_back(it->second.get<std::string>());
  } else if (it->second.is<picojson::array>()) {
    for (const auto& name : it->second.get<picojson::array>()) {
      if (!name.is<std::string>()) {
        problem = "handler names must be strings";
        return false;
      }
      rule.handlers.push_back(name.get<std::string>());
    }
  } else {
    problem = "'handlers' must be a name or a list of names";
    return false;
  }
  return true;
}

/// `when: { field.path: value or [values] }`, values being scalars.
bool read_conditions(const picojson::object& object, route_rule& rule, std::string& problem) {
  auto it = object.find("when");
  if (it == object.end()) return true;
  if (!it->second.is<picojson::object>()) {
    problem = "'when' must be an object of field: value";
    return false;
  }
  for (const auto& [path, expected] : it->second.get<picojson::object>()) {
    field_condition condition;
    condition.path = split_path(path);
    if (expected.is<picojson::array>()) {
      for (const auto& v : expected.get<picojson::array>()) condition.any_of.push_back(v);
    } else {
      condition.any_of.push_back(expected);
    }
    for (const auto& v : condition.any_of) {
      if (!scalar(v)) {
        problem = "condition on '" + path + "' must compare with strings, numbers or booleans";
        return false;
      }
    }
    rule.conditions.push_back(std::move(condition));
  }
  return true;
}

/// Refuses keys other than event/action/pattern, handlers and when.
bool known_keys_only(const picojson::object& object, std::string& problem) {
  for (const auto& [key, unused] : object) {
    (void)unused;
    if (key != "event" && key != "action" && key != "pattern" && key != "handlers" && key != "when") {
      problem = "unknown key '" + key + "'";
      return false;
    }
  }
  return true;
}

}  // namespace

bool condition_holds(const field_condition& condition, const picojson::value& message) {
  const picojson::value* value = lookup_field(message, condition.path);
  if (value == nullptr) return false;
  return std::any_of(condition.any_of.begin(), condition.any_of.end(),
                     [&](const picojson::value& expected) { return same_value(*value, expected); });
}

bool route_table::add(route_rule rule, std::string& error) {
  if (!protocol::is_valid_subject(rule.pattern)) {
    error = "invalid event pattern '" + rule.pattern + "'";
    return false;
  }
  if (rule.handlers.empty()) {
    error = "rule '" + rule.pattern + "' names no handler";
    return false;
  }
  for (const auto& handler : rule.handlers) {
    if (handler.empty()) {
      error = "rule '" + rule.pattern + "' has an empty handler name";
      return false;
    }
  }
  for (const auto& condition : rule.conditions) {
    if (condition.path.empty() || std::any_of(condition.path.begin(), condition.path.end(),
                                              [](const std::string& s) { return s.empty(); })) {
      error = "rule '" + rule.pattern + "' has an empty field path";
      return false;
    }
    if (condition.any_of.empty()) {
      error = "rule '" + rule.pattern + "' has a condition with no accepted value";
      return false;
    }
  }
  rules_.push_back(std::move(rule));
  return true;
}

bool route_table::load(const picojson::value& rules, std::string& error, std::size_t* failed_rule) {
  if (!rules.is<picojson::array>()) {
    error = "rules must be a list";
    return false;
  }
  std::size_t index = 0;
  for (const auto& item : rules.get<picojson::array>()) {
    ++index;
    const std::string where = "rule " + std::to_string(index) + ": ";
    if (!item.is<picojson::object>()) {
      error = where + "must be an object";
      return false;
    }
    const auto& object = item.get<picojson::object>();
    route_rule rule;
    std::string problem;
    if (!read_pattern(object, rule, problem) || !read_handlers(object, rule, problem) ||
        !read_conditions(object, rule, problem) || !known_keys_only(object, problem) ||
        !add(std::move(rule), problem)) {
      error = where + problem;
      if (failed_rule != nullptr) *failed_rule = index - 1;
      return false;
    }
  }
  return true;
}

std::vector<std::string> route_table::match(std::string_view name, const picojson::value& message) const {
  std::vector<std::string> handlers;
  for (const auto& rule : rules_) {
    if (!protocol::subject_matches(rule.pattern, name)) continue;
    const bool all = std::all_of(rule.conditions.begin(), rule.conditions.end(),
                                 [&](const field_condition& c) { return condition_holds(c, message); });
    if (!all) continue;
    for (const auto& handler : rule.handlers)
      if (std::find(handlers.begin(), handlers.end(), handler) == handlers.end()) handlers.push_back(handler);
  }
  return handlers;
}

}  // namespace courier::mss
