#include "mss/config/handler_config.hpp"

#include <set>
#include <stdexcept>

#include "conf/duration.hpp"
#include "mss/handlers/email_handler.hpp"
#include "mss/handlers/http_handler.hpp"

namespace courier::mss {
namespace {

using object = picojson::object;

bool get_string(const object& o, const char* key, std::string& out, std::string& error, bool required = false) {
  auto it = o.find(key);
  if (it == o.end()) {
    if (required) error = std::string("missing '") + key + "'";
    return !required;
  }
  if (!it->second.is<std::string>()) {
    error = std::string("'") + key + "' must be a string";
    return false;
  }
  out = it->second.get<std::string>();
  return true;
}

bool get_bool(const object& o, const char* key, bool& out, std::string& error) {
  auto it = o.find(key);
  if (it == o.end()) return true;
  if (!it->second.is<bool>()) {
    error = std::string("'") + key + "' must be true or false";
    return false;
  }
  out = it->second.get<bool>();
  return true;
}

bool get_int(const object& o, const char* key, std::int64_t& out, std::string& error, std::int64_t min,
             std::int64_t max) {
  auto it = o.find(key);
  if (it == o.end()) return true;
  if (!it->second.is<std::int64_t>() || it->second.get<std::int64_t>() < min || it->second.get<std::int64_t>() > max) {
    error = std::string("'") + key + "' must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
    return false;
  }
  out = it->second.get<std::int64_t>();
  return true;
}

bool only_keys(const object& o, std::initializer_list<const char*> allowed, std::string& error) {
  for (const auto& [key, unused] : o) {
    (void)unused;
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) {
      error = "unknown key '" + key + "'";
      return false;
    }
  }
  return true;
}

bool get_missing(const object& o, missing_field& out, std::string& error) {
  std::string text;
  if (!get_string(o, "missing", text, error)) return false;
  if (text.empty() || text == "error") {
    out = missing_field::error;
  } else if (text == "empty") {
    out = missing_field::empty;
  } else {
    error = "'missing' must be error or empty";
    return false;
  }
  return true;
}

bool build_email(const std::string& name, const object& o, const picojson::value* shared_smtp,
                 boost::asio::any_io_executor executor, handler_set& out, std::string& error) {
  if (!only_keys(o, {"type", "smtp", "from", "from_name", "to", "subject", "body", "missing"}, error)) return false;
  email_handler_config config;
  if (auto it = o.find("smtp"); it != o.end()) {
    if (!parse_smtp_options(it->second, config.smtp, error)) return false;
  } else if (shared_smtp != nullptr) {
    if (!parse_smtp_options(*shared_smtp, config.smtp, error)) return false;
  } else {
    error = "no 'smtp' block (neither in the handler nor in mss)";
    return false;
  }
  if (!get_string(o, "from", config.from, error, true) || !get_string(o, "from_name", config.from_name, error) ||
      !get_string(o, "subject", config.subject, error, true) || !get_string(o, "body", config.body, error, true) ||
      !get_missing(o, config.missing, error))
    return false;
  auto to = o.find("to");
  if (to == o.end()) {
    error = "missing 'to'";
    return false;
  }
  if (to->second.is<std::string>()) {
    config.to.push_back(to->second.get<std::string>());
  } else if (to->second.is<picojson::array>()) {
    for (const auto& item : to->second.get<picojson::array>()) {
      if (!item.is<std::string>()) {
        error = "'to' entries must be strings";
        return false;
      }
      config.to.push_back(item.get<std::string>());
    }
  } else {
    error = "'to' must be a string or a list of strings";
    return false;
  }
  try {
    out.by_name[name] = std::make_shared<email_handler>(name, executor, std::move(config));
  } catch (const std::invalid_argument& e) {
    error = e.what();
    return false;
  }
  return true;
}

bool build_http(const std::string& name, const std::string& type, const object& o,
                boost::asio::any_io_executor executor, handler_set& out, std::string& error) {
  if (!only_keys(o, {"type", "url", "method", "headers", "body", "body_escape", "content_type", "secret",
                     "signature_header", "signature_prefix", "timeout", "verify", "ca_file", "retry", "missing"},
                 error))
    return false;
  http_handler_config config;
  if (type != "webhook") config.target.retry.max_attempts = 3;
  std::string body_escape;
  if (!get_string(o, "url", config.target.url, error, true) || !get_string(o, "method", config.target.method, error) ||
      !get_string(o, "content_type", config.target.content_type, error) ||
      !get_string(o, "secret", config.target.signing.key, error) ||
      !get_string(o, "signature_header", config.target.signing.header, error) ||
      !get_string(o, "signature_prefix", config.target.signing.prefix, error) ||
      !get_bool(o, "verify", config.target.http.verify_peer, error) ||
      !get_string(o, "ca_file", config.target.http.ca_file, error) || !get_missing(o, config.missing, error) ||
      !get_string(o, "body_escape", body_escape, error))
    return false;
  if (body_escape.empty() || body_escape == "json") {
    config.body_escape = template_escape::json;
  } else if (body_escape == "none") {
    config.body_escape = template_escape::none;
  } else if (body_escape == "url") {
    config.body_escape = template_escape::url;
  } else {
    error = "'body_escape' must be json, none or url";
    return false;
  }
  if (auto it = o.find("body"); it != o.end()) {
    if (!it->second.is<std::string>()) {
      error = "'body' must be a string";
      return false;
    }
    config.body = it->second.get<std::string>();
  }
  if (auto it = o.find("headers"); it != o.end()) {
    if (!it->second.is<object>()) {
      error = "'headers' must be a map of name: value";
      return false;
    }
    for (const auto& [header, value] : it->second.get<object>()) {
      if (!value.is<std::string>()) {
        error = "header '" + header + "' must be a string";
        return false;
      }
      config.header_templates.emplace_back(header, value.get<std::string>());
    }
  }
  if (auto it = o.find("timeout"); it != o.end())
    if (!parse_millis(it->second, config.target.http.timeout, error)) return false;
  if (auto it = o.find("retry"); it != o.end())
    if (!parse_retry_policy(it->second, config.target.retry, error)) return false;
  try {
    out.by_name[name] = std::make_shared<http_handler>(name, type, executor, std::move(config));
  } catch (const std::invalid_argument& e) {
    error = e.what();
    return false;
  }
  return true;
}

bool build_audit(const std::string& name, const object& o, handler_set& out, std::string& error) {
  if (!only_keys(o, {"type", "file", "max_bytes", "max_files", "sync"}, error)) return false;
  audit_log_options options;
  std::int64_t max_bytes = static_cast<std::int64_t>(options.max_bytes);
  std::int64_t max_files = options.max_files;
  if (!get_string(o, "file", options.path, error, true) ||
      !get_int(o, "max_bytes", max_bytes, error, 1024, std::int64_t(1) << 50) ||
      !get_int(o, "max_files", max_files, error, 1, 100000) || !get_bool(o, "sync", options.sync, error))
    return false;
  options.max_bytes = static_cast<std::uint64_t>(max_bytes);
  options.max_files = static_cast<unsigned>(max_files);
  // Handlers naming the same file share one writer (one fd, one order).
  std::shared_ptr<audit_log> log;
  for (const auto& existing : out.audit_logs)
    if (existing->path() == options.path) log = existing;
  if (!log) {
    try {
      log = std::make_shared<audit_log>(options);
    } catch (const std::system_error& e) {
      error = e.what();
      return false;
    }
    out.audit_logs.push_back(log);
  }
  out.by_name[name] = std::make_shared<audit_handler>(name, log);
  return true;
}

}  // namespace

std::shared_ptr<handler> handler_set::find(const std::string& name) const {
  auto it = by_name.find(name);
  return it == by_name.end() ? nullptr : it->second;
}

bool parse_millis(const picojson::value& value, std::chrono::milliseconds& out, std::string& error) {
  if (value.is<std::int64_t>() && value.get<std::int64_t>() >= 0) {
    out = std::chrono::milliseconds(value.get<std::int64_t>());
    return true;
  }
  if (value.is<std::string>()) {
    const auto parsed = conf::parse_go_duration(value.get<std::string>(), error);
    if (parsed && parsed->count() >= 0) {
      out = std::chrono::duration_cast<std::chrono::milliseconds>(*parsed);
      return true;
    }
    if (error.empty()) error = "negative duration";
    return false;
  }
  error = "a duration must be milliseconds or a string like \"5s\"";
  return false;
}

bool parse_retry_policy(const picojson::value& block, retry_policy& policy, std::string& error) {
  if (!block.is<object>()) {
    error = "'retry' must be a block";
    return false;
  }
  const auto& o = block.get<object>();
  if (!only_keys(o, {"attempts", "initial_delay", "max_delay", "multiplier"}, error)) return false;
  std::int64_t attempts = policy.max_attempts;
  if (!get_int(o, "attempts", attempts, error, 1, 100)) return false;
  policy.max_attempts = static_cast<unsigned>(attempts);
  if (auto it = o.find("initial_delay"); it != o.end())
    if (!parse_millis(it->second, policy.initial_delay, error)) return false;
  if (auto it = o.find("max_delay"); it != o.end())
    if (!parse_millis(it->second, policy.max_delay, error)) return false;
  if (auto it = o.find("multiplier"); it != o.end()) {
    if (!it->second.is<double>() || it->second.get<double>() < 1.0 || it->second.get<double>() > 100.0) {
      error = "'multiplier' must be a number from 1 to 100";
      return false;
    }
    policy.multiplier = it->second.get<double>();
  }
  return true;
}

bool parse_smtp_options(const picojson::value& block, smtp_options& options, std::string& error) {
  if (!block.is<object>()) {
    error = "'smtp' must be a block";
    return false;
  }
  const auto& o = block.get<object>();
  if (!only_keys(o, {"host", "port", "tls", "verify", "ca_file", "username", "password", "auth", "helo", "timeout"},
                 error))
    return false;
  std::int64_t port = options.port;
  std::string tls, auth;
  if (!get_string(o, "host", options.host, error) || !get_int(o, "port", port, error, 1, 65535) ||
      !get_string(o, "tls", tls, error) || !get_bool(o, "verify", options.verify_peer, error) ||
      !get_string(o, "ca_file", options.ca_file, error) || !get_string(o, "username", options.username, error) ||
      !get_string(o, "password", options.password, error) || !get_string(o, "auth", auth, error) ||
      !get_string(o, "helo", options.helo_name, error))
    return false;
  options.port = static_cast<std::uint16_t>(port);
  if (tls == "none") {
    options.tls = smtp_tls::none;
  } else if (tls.empty() || tls == "starttls_if_available" || tls == "opportunistic") {
    options.tls = smtp_tls::starttls_if_available;
  } else if (tls == "starttls") {
    options.tls = smtp_tls::starttls;
  } else if (tls == "implicit" || tls == "smtps") {
    options.tls = smtp_tls::implicit;
  } else {
    error = "smtp 'tls' must be none, starttls_if_available, starttls or implicit";
    return false;
  }
  if (auth.empty() || auth == "auto") {
    options.auth = smtp_auth::automatic;
  } else if (auth == "plain") {
    options.auth = smtp_auth::plain;
  } else if (auth == "login") {
    options.auth = smtp_auth::login;
  } else {
    error = "smtp 'auth' must be auto, plain or login";
    return false;
  }
  if (auto it = o.find("timeout"); it != o.end())
    if (!parse_millis(it->second, options.timeout, error)) return false;
  return true;
}

bool build_handlers(const picojson::value& mss, boost::asio::any_io_executor executor, handler_set& out,
                    std::string& error, log_sink sink) {
  if (!mss.is<object>()) {
    error = "mss: must be a block";
    return false;
  }
  const auto& block = mss.get<object>();
  const picojson::value* shared_smtp = nullptr;
  if (auto it = block.find("smtp"); it != block.end()) {
    smtp_options check;
    if (!parse_smtp_options(it->second, check, error)) {
      error = "mss.smtp: " + error;
      return false;
    }
    shared_smtp = &it->second;
  }
  auto handlers = block.find("handlers");
  if (handlers == block.end()) return true;
  if (!handlers->second.is<object>()) {
    error = "mss.handlers: must be a map of name { type: ... }";
    return false;
  }
  for (const auto& [name, definition] : handlers->second.get<object>()) {
    const std::string where = "mss.handlers." + name + ": ";
    if (!definition.is<object>()) {
      error = where + "must be a block";
      return false;
    }
    const auto& o = definition.get<object>();
    std::string type;
    if (!get_string(o, "type", type, error, true)) {
      error = where + error;
      return false;
    }
    bool ok = false;
    if (type == "email") {
      ok = build_email(name, o, shared_smtp, executor, out, error);
    } else if (type == "http" || type == "sms" || type == "webhook") {
      ok = build_http(name, type, o, executor, out, error);
    } else if (type == "audit") {
      ok = build_audit(name, o, out, error);
    } else if (type == "log") {
      ok = only_keys(o, {"type"}, error);
      if (ok) out.by_name[name] = std::make_shared<log_handler>(name, sink);
    } else {
      error = "unknown handler type '" + type + "' (email, http, sms, webhook, audit, log)";
    }
    if (!ok) {
      error = where + error;
      return false;
    }
  }
  return true;
}

}  // namespace courier::mss
