#include "mss/config/dispatcher_config.hpp"

#include "conf/config_parser.hpp"
#include "mss/config/handler_config.hpp"
#include "protocol/subject.hpp"

namespace courier::mss {

bool load_dispatcher_config(const picojson::value& mss, dispatcher_config& config, config_fault& fault) {
  if (!mss.is<picojson::object>()) return fault.set("", "mss: must be a block");
  const auto& o = mss.get<picojson::object>();
  const auto string_key = [&](const char* key, std::string& out) {
    auto it = o.find(key);
    if (it == o.end()) return true;
    if (!it->second.is<std::string>() || it->second.get<std::string>().empty())
      return fault.set(key, std::string("mss.") + key + ": must be a non-empty string");
    out = it->second.get<std::string>();
    return true;
  };
  if (!string_key("prefix", config.options.prefix) || !string_key("queue_group", config.options.queue_group) ||
      !string_key("dead_letter_prefix", config.options.dead_letter_prefix))
    return false;
  if (!protocol::is_valid_publish_subject(config.options.prefix))
    return fault.set(o.count("prefix") ? "prefix" : "",
                     "mss.prefix: '" + config.options.prefix + "' is not a valid literal subject");
  if (!config.options.dead_letter_prefix.empty() &&
      !protocol::is_valid_publish_subject(config.options.dead_letter_prefix))
    return fault.set("dead_letter_prefix", "mss.dead_letter_prefix: '" + config.options.dead_letter_prefix +
                                               "' is not a valid literal subject");
  if (auto it = o.find("event_retry"); it != o.end()) {
    if (!parse_retry_policy(it->second, config.options.event_retry, fault))
      return fault.set(fault.path.empty() ? "event_retry" : "event_retry/" + fault.path,
                       "mss.event_retry: " + fault.message);
  }
  if (auto it = o.find("idempotency_window"); it != o.end()) {
    std::string error;
    if (!parse_millis(it->second, config.options.idempotency_window, error))
      return fault.set("idempotency_window", "mss.idempotency_window: " + error);
  }
  if (auto it = o.find("idempotency_max"); it != o.end()) {
    if (!it->second.is<std::int64_t>() || it->second.get<std::int64_t>() < 1)
      return fault.set("idempotency_max", "mss.idempotency_max: must be a positive integer");
    config.options.idempotency_max_entries = static_cast<std::size_t>(it->second.get<std::int64_t>());
  }
  for (auto [key, table] : {std::pair{"actions", &config.actions}, std::pair{"events", &config.events},
                            std::pair{"audits", &config.audits}}) {
    auto it = o.find(key);
    if (it == o.end()) continue;
    std::string why;
    std::size_t failed = 0;
    if (!table->load(it->second, why, &failed)) {
      const bool is_list = it->second.is<picojson::array>();
      return fault.set(is_list ? conf::config_path(key, failed) : std::string(key),
                       std::string("mss.") + key + ": " + why);
    }
  }
  return true;
}

bool check_rule_handlers(const dispatcher_config& config, const handler_set& handlers, config_fault& fault) {
  for (auto [key, table] : {std::pair{"actions", &config.actions}, std::pair{"events", &config.events},
                            std::pair{"audits", &config.audits}}) {
    const auto& rules = table->rules();
    for (std::size_t i = 0; i < rules.size(); ++i)
      for (const auto& name : rules[i].handlers)
        if (!handlers.find(name))
          return fault.set(conf::config_path(conf::config_path(key, i), "handlers"),
                           std::string("mss.") + key + ": rule '" + rules[i].pattern + "' names unknown handler '" +
                               name + "'");
  }
  return true;
}

}  // namespace courier::mss
