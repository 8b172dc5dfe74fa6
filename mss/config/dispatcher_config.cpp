#include "mss/config/dispatcher_config.hpp"

#include "mss/config/handler_config.hpp"
#include "protocol/subject.hpp"

namespace courier::mss {

bool load_dispatcher_config(const picojson::value& mss, dispatcher_config& config, std::string& error) {
  if (!mss.is<picojson::object>()) {
    error = "mss: must be a block";
    return false;
  }
  const auto& o = mss.get<picojson::object>();
  const auto string_key = [&](const char* key, std::string& out) {
    auto it = o.find(key);
    if (it == o.end()) return true;
    if (!it->second.is<std::string>() || it->second.get<std::string>().empty()) {
      error = std::string("mss.") + key + ": must be a non-empty string";
      return false;
    }
    out = it->second.get<std::string>();
    return true;
  };
  if (!string_key("prefix", config.options.prefix) || !string_key("queue_group", config.options.queue_group) ||
      !string_key("dead_letter_prefix", config.options.dead_letter_prefix))
    return false;
  if (!protocol::is_valid_publish_subject(config.options.prefix)) {
    error = "mss.prefix: '" + config.options.prefix + "' is not a valid literal subject";
    return false;
  }
  if (!config.options.dead_letter_prefix.empty() &&
      !protocol::is_valid_publish_subject(config.options.dead_letter_prefix)) {
    error = "mss.dead_letter_prefix: not a valid literal subject";
    return false;
  }
  if (auto it = o.find("event_retry"); it != o.end()) {
    if (!parse_retry_policy(it->second, config.options.event_retry, error)) {
      error = "mss.event_retry: " + error;
      return false;
    }
  }
  if (auto it = o.find("idempotency_window"); it != o.end()) {
    if (!parse_millis(it->second, config.options.idempotency_window, error)) {
      error = "mss.idempotency_window: " + error;
      return false;
    }
  }
  if (auto it = o.find("idempotency_max"); it != o.end()) {
    if (!it->second.is<std::int64_t>() || it->second.get<std::int64_t>() < 1) {
      error = "mss.idempotency_max: must be a positive integer";
      return false;
    }
    config.options.idempotency_max_entries = static_cast<std::size_t>(it->second.get<std::int64_t>());
  }
  for (auto [key, table] : {std::pair{"actions", &config.actions}, std::pair{"events", &config.events},
                            std::pair{"audits", &config.audits}}) {
    auto it = o.find(key);
    if (it == o.end()) continue;
    std::string why;
    if (!table->load(it->second, why)) {
      error = std::string("mss.") + key + ": " + why;
      return false;
    }
  }
  return true;
}

}  // namespace courier::mss
