#include "mss/config/handler_config.hpp"

#include <unistd.h>

#include <filesystem>
#include <set>
#include <stdexcept>

#include "conf/config_parser.hpp"
#include "conf/duration.hpp"
#include "mss/handlers/email_handler.hpp"
#include "mss/handlers/http_handler.hpp"

namespace courier::mss {
namespace {

using object = picojson::object;

/// conf::config_path(parent, child) where `child` is itself a path.
std::string join_path(const std::string& parent, const std::string& child) {
  if (child.empty()) return parent;
  if (parent.empty()) return child;
  return parent + "/" + child;
}

/// Reads the keys of one block (a handler, smtp, retry). A failure names
/// the key: its message is the text alone and its path is the key's path
/// relative to the block, for the caller to prefix with the block's own.
class block_reader {
 public:
  block_reader(const object& o, config_fault& fault) : o_(o), fault_(fault) {}

  const picojson::value* find(const char* key) const {
    auto it = o_.find(key);
    return it == o_.end() ? nullptr : &it->second;
  }

  /// Fails on `key` with `message`.
  bool fail(const std::string& key, std::string message) {
    return fault_.set(conf::config_path("", key), std::move(message));
  }

  bool only_keys(std::initializer_list<const char*> allowed) {
    for (const auto& [key, unused] : o_) {
      (void)unused;
      bool known = false;
      for (const char* a : allowed) known = known || key == a;
      if (!known) return fail(key, "unknown key '" + key + "'");
    }
    return true;
  }

  bool string(const char* key, std::string& out, bool required = false) {
    const auto* value = find(key);
    if (value == nullptr) return required ? fault_.set("", std::string("missing '") + key + "'") : true;
    if (!value->is<std::string>()) return fail(key, std::string("'") + key + "' must be a string");
    out = value->get<std::string>();
    return true;
  }

  bool boolean(const char* key, bool& out) {
    const auto* value = find(key);
    if (value == nullptr) return true;
    if (!value->is<bool>()) return fail(key, std::string("'") + key + "' must be true or false");
    out = value->get<bool>();
    return true;
  }

  bool integer(const char* key, std::int64_t& out, std::int64_t min, std::int64_t max) {
    const auto* value = find(key);
    if (value == nullptr) return true;
    if (!value->is<std::int64_t>() || value->get<std::int64_t>() < min || value->get<std::int64_t>() > max)
      return fail(key, std::string("'") + key + "' must be an integer from " + std::to_string(min) + " to " +
                           std::to_string(max));
    out = value->get<std::int64_t>();
    return true;
  }

  bool duration(const char* key, std::chrono::milliseconds& out) {
    const auto* value = find(key);
    if (value == nullptr) return true;
    std::string error;
    if (!parse_millis(*value, out, error)) return fail(key, std::string("'") + key + "': " + error);
    return true;
  }

  bool missing_policy(missing_field& out) {
    std::string text;
    if (!string("missing", text)) return false;
    if (text.empty() || text == "error") {
      out = missing_field::error;
    } else if (text == "empty") {
      out = missing_field::empty;
    } else {
      return fail("missing", "'missing' must be error or empty");
    }
    return true;
  }

  /// A nested block read by `parse`, whose fault path is made relative to
  /// this block.
  template <class Parse>
  bool nested(const char* key, Parse parse) {
    const auto* value = find(key);
    if (value == nullptr) return true;
    if (parse(*value)) return true;
    fault_.path = join_path(conf::config_path("", key), fault_.path);
    return false;
  }

 private:
  const object& o_;
  config_fault& fault_;
};

bool build_email(const std::string& name, const object& o, const picojson::value* shared_smtp,
                 boost::asio::any_io_executor executor, handler_set& out, config_fault& fault) {
  block_reader read(o, fault);
  if (!read.only_keys({"type", "smtp", "from", "from_name", "to", "subject", "body", "missing", "retry"}))
    return false;
  email_handler_config config;
  if (read.find("smtp") != nullptr) {
    if (!read.nested("smtp", [&](const picojson::value& v) { return parse_smtp_options(v, config.smtp, fault); }))
      return false;
  } else if (shared_smtp != nullptr) {
    config_fault ignored;  // checked, with its position, as mss.smtp
    parse_smtp_options(*shared_smtp, config.smtp, ignored);
  } else {
    return fault.set("", "no 'smtp' block (neither in the handler nor in mss)");
  }
  if (!read.string("from", config.from, true) || !read.string("from_name", config.from_name) ||
      !read.string("subject", config.subject, true) || !read.string("body", config.body, true) ||
      !read.missing_policy(config.missing))
    return false;
  const auto* to = read.find("to");
  if (to == nullptr) return fault.set("", "missing 'to'");
  if (to->is<std::string>()) {
    config.to.push_back(to->get<std::string>());
  } else if (to->is<picojson::array>()) {
    for (const auto& item : to->get<picojson::array>()) {
      if (!item.is<std::string>()) return read.fail("to", "'to' entries must be strings");
      config.to.push_back(item.get<std::string>());
    }
  } else {
    return read.fail("to", "'to' must be a string or a list of strings");
  }
  std::optional<retry_policy> retry;
  if (!read.nested("retry", [&](const picojson::value& v) {
        retry = default_config_retry;
        return parse_retry_policy(v, *retry, fault);
      }))
    return false;
  try {
    auto handler = std::make_shared<email_handler>(name, executor, std::move(config));
    if (retry) handler->set_retry(*retry);
    out.by_name[name] = std::move(handler);
  } catch (const std::invalid_argument& e) {
    return fault.set("", e.what());
  }
  return true;
}

bool build_http(const std::string& name, const std::string& type, const object& o,
                boost::asio::any_io_executor executor, handler_set& out, config_fault& fault) {
  block_reader read(o, fault);
  if (!read.only_keys({"type", "url", "method", "headers", "body", "body_escape", "content_type", "secret",
                       "signature_header", "signature_prefix", "timeout", "verify", "ca_file", "retry", "missing"}))
    return false;
  http_handler_config config;
  std::string body_escape;
  if (!read.string("url", config.target.url, true) || !read.string("method", config.target.method) ||
      !read.string("content_type", config.target.content_type) ||
      !read.string("secret", config.target.signing.key) ||
      !read.string("signature_header", config.target.signing.header) ||
      !read.string("signature_prefix", config.target.signing.prefix) ||
      !read.boolean("verify", config.target.http.verify_peer) ||
      !read.string("ca_file", config.target.http.ca_file) || !read.missing_policy(config.missing) ||
      !read.string("body_escape", body_escape) || !read.duration("timeout", config.target.http.timeout))
    return false;
  if (body_escape.empty() || body_escape == "json") {
    config.body_escape = template_escape::json;
  } else if (body_escape == "none") {
    config.body_escape = template_escape::none;
  } else if (body_escape == "url") {
    config.body_escape = template_escape::url;
  } else {
    return read.fail("body_escape", "'body_escape' must be json, none or url");
  }
  if (const auto* body = read.find("body")) {
    if (!body->is<std::string>()) return read.fail("body", "'body' must be a string");
    config.body = body->get<std::string>();
  }
  if (const auto* headers = read.find("headers")) {
    if (!headers->is<object>()) return read.fail("headers", "'headers' must be a map of name: value");
    for (const auto& [header, value] : headers->get<object>()) {
      if (!value.is<std::string>())
        return fault.set(conf::config_path("headers", header), "header '" + header + "' must be a string");
      config.header_templates.emplace_back(header, value.get<std::string>());
    }
  }
  std::optional<retry_policy> retry;
  if (!read.nested("retry", [&](const picojson::value& v) {
        retry = default_config_retry;
        return parse_retry_policy(v, *retry, fault);
      }))
    return false;
  try {
    auto handler = std::make_shared<http_handler>(name, type, executor, std::move(config));
    if (retry) handler->set_retry(*retry);
    out.by_name[name] = std::move(handler);
  } catch (const std::invalid_argument& e) {
    return fault.set("", e.what());
  }
  return true;
}

/// What opening `path` for appending would say, without opening it: the
/// directory must exist and be writable, and so must the file if it exists.
std::string audit_file_problem(const std::string& path) {
  namespace fs = std::filesystem;
  const fs::path file(path);
  const fs::path directory = file.has_parent_path() ? file.parent_path() : fs::path(".");
  std::error_code ec;
  if (!fs::is_directory(directory, ec)) return "cannot open audit log " + path + ": no directory " + directory.string();
  if (fs::exists(file, ec)) {
    if (fs::is_directory(file, ec)) return "cannot open audit log " + path + ": is a directory";
    if (::access(path.c_str(), W_OK) != 0) return "cannot open audit log " + path + ": not writable";
  } else if (::access(directory.c_str(), W_OK | X_OK) != 0) {
    return "cannot open audit log " + path + ": directory " + directory.string() + " is not writable";
  }
  return {};
}

bool build_audit(const std::string& name, const object& o, handler_set& out, config_fault& fault,
                 bool open_logs) {
  block_reader read(o, fault);
  if (!read.only_keys({"type", "file", "max_bytes", "max_files", "sync"})) return false;
  audit_log_options options;
  std::int64_t max_bytes = static_cast<std::int64_t>(options.max_bytes);
  std::int64_t max_files = options.max_files;
  if (!read.string("file", options.path, true) || !read.integer("max_bytes", max_bytes, 1024, std::int64_t(1) << 50) ||
      !read.integer("max_files", max_files, 1, 100000) || !read.boolean("sync", options.sync))
    return false;
  options.max_bytes = static_cast<std::uint64_t>(max_bytes);
  options.max_files = static_cast<unsigned>(max_files);
  if (!open_logs) {
    if (std::string problem = audit_file_problem(options.path); !problem.empty()) return read.fail("file", problem);
    out.by_name[name] = std::make_shared<audit_handler>(name, nullptr);
    return true;
  }
  // Handlers naming the same file share one writer (one fd, one order).
  std::shared_ptr<audit_log> log;
  for (const auto& existing : out.audit_logs)
    if (existing->path() == options.path) log = existing;
  if (!log) {
    try {
      log = std::make_shared<audit_log>(options);
    } catch (const std::system_error& e) {
      return read.fail("file", e.what());
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

bool parse_retry_policy(const picojson::value& block, retry_policy& policy, config_fault& fault) {
  if (!block.is<object>()) return fault.set("", "'retry' must be a block");
  const auto& o = block.get<object>();
  block_reader read(o, fault);
  if (!read.only_keys({"attempts", "initial_delay", "max_delay", "multiplier"})) return false;
  std::int64_t attempts = policy.max_attempts;
  if (!read.integer("attempts", attempts, 1, 100)) return false;
  policy.max_attempts = static_cast<unsigned>(attempts);
  if (!read.duration("initial_delay", policy.initial_delay) || !read.duration("max_delay", policy.max_delay))
    return false;
  if (const auto* multiplier = read.find("multiplier")) {
    if (!multiplier->is<double>() || multiplier->get<double>() < 1.0 || multiplier->get<double>() > 100.0)
      return read.fail("multiplier", "'multiplier' must be a number from 1 to 100");
    policy.multiplier = multiplier->get<double>();
  }
  return true;
}

bool parse_smtp_options(const picojson::value& block, smtp_options& options, config_fault& fault) {
  if (!block.is<object>()) return fault.set("", "'smtp' must be a block");
  const auto& o = block.get<object>();
  block_reader read(o, fault);
  if (!read.only_keys({"host", "port", "tls", "verify", "ca_file", "username", "password", "auth", "helo", "timeout"}))
    return false;
  std::int64_t port = options.port;
  std::string tls, auth;
  if (!read.string("host", options.host) || !read.integer("port", port, 1, 65535)) return false;
  if (const auto* value = read.find("tls"); value != nullptr && !value->is<std::string>())
    return read.fail("tls", "smtp 'tls' must be one of none, starttls_if_available, starttls or implicit, not a " +
                                conf::config_type_name(*value) + " (certificates: verify and ca_file)");
  if (!read.string("tls", tls) || !read.boolean("verify", options.verify_peer) ||
      !read.string("ca_file", options.ca_file) || !read.string("username", options.username) ||
      !read.string("password", options.password) || !read.string("auth", auth) ||
      !read.string("helo", options.helo_name) || !read.duration("timeout", options.timeout))
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
    return read.fail("tls", "smtp 'tls' must be none, starttls_if_available, starttls or implicit");
  }
  if (auth.empty() || auth == "auto") {
    options.auth = smtp_auth::automatic;
  } else if (auth == "plain") {
    options.auth = smtp_auth::plain;
  } else if (auth == "login") {
    options.auth = smtp_auth::login;
  } else {
    return read.fail("auth", "smtp 'auth' must be auto, plain or login");
  }
  return true;
}

bool build_handlers(const picojson::value& mss, boost::asio::any_io_executor executor, handler_set& out,
                    config_fault& fault, const handler_build_options& options) {
  if (!mss.is<object>()) return fault.set("", "mss: must be a block");
  const auto& block = mss.get<object>();
  const picojson::value* shared_smtp = nullptr;
  if (auto it = block.find("smtp"); it != block.end()) {
    smtp_options check;
    if (!parse_smtp_options(it->second, check, fault))
      return fault.set(join_path("smtp", fault.path), "mss.smtp: " + fault.message);
    shared_smtp = &it->second;
  }
  auto handlers = block.find("handlers");
  if (handlers == block.end()) return true;
  if (!handlers->second.is<object>()) return fault.set("handlers", "mss.handlers: must be a map of name { type: ... }");
  for (const auto& [name, definition] : handlers->second.get<object>()) {
    const std::string where = "mss.handlers." + name + ": ";
    const std::string path = conf::config_path("handlers", name);
    if (!definition.is<object>()) return fault.set(path, where + "must be a block");
    // max_in_flight is every type's: read here, the rest by the type.
    object o = definition.get<object>();
    std::string type;
    std::int64_t max_in_flight = static_cast<std::int64_t>(default_max_in_flight);
    block_reader read(o, fault);
    bool ok = read.string("type", type, true) && read.integer("max_in_flight", max_in_flight, 1, 1000000);
    o.erase("max_in_flight");
    if (!ok) {
      // reported below
    } else if (type == "email") {
      ok = build_email(name, o, shared_smtp, executor, out, fault);
    } else if (type == "http" || type == "sms" || type == "webhook") {
      ok = build_http(name, type, o, executor, out, fault);
    } else if (type == "audit") {
      ok = build_audit(name, o, out, fault, options.open_audit_logs);
    } else if (type == "log") {
      ok = read.only_keys({"type"});
      if (ok) out.by_name[name] = std::make_shared<log_handler>(name, options.sink);
    } else {
      ok = read.fail("type", "unknown handler type '" + type + "' (email, http, sms, webhook, audit, log)");
    }
    if (!ok) return fault.set(join_path(path, fault.path), where + fault.message);
    out.by_name[name]->set_max_in_flight(static_cast<std::size_t>(max_in_flight));
  }
  return true;
}

}  // namespace courier::mss
