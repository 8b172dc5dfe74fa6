#include "mss/notify/gateway_config.hpp"

#include <initializer_list>

#include "auth/config_error.hpp"
#include "conf/config_parser.hpp"
#include "protocol/subject.hpp"

namespace courier::mss::notify {
namespace {

using object = picojson::object;

/// Reads one block's keys; a failure names the key (relative to the block).
class reader {
 public:
  reader(const object& o, config_fault& fault) : o_(o), fault_(fault) {}

  const picojson::value* find(const char* key) const {
    const auto it = o_.find(key);
    return it == o_.end() ? nullptr : &it->second;
  }
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
  bool string(const char* key, std::string& out) {
    const auto* value = find(key);
    if (value == nullptr) return true;
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
  bool size(const char* key, std::size_t& out, std::int64_t min, std::int64_t max) {
    const auto* value = find(key);
    if (value == nullptr) return true;
    if (!value->is<std::int64_t>() || value->get<std::int64_t>() < min || value->get<std::int64_t>() > max)
      return fail(key, std::string("'") + key + "' must be an integer from " + std::to_string(min) + " to " +
                           std::to_string(max));
    out = static_cast<std::size_t>(value->get<std::int64_t>());
    return true;
  }
  bool duration(const char* key, std::chrono::milliseconds& out) {
    const auto* value = find(key);
    if (value == nullptr) return true;
    std::string error;
    if (!parse_millis(*value, out, error)) return fail(key, std::string("'") + key + "': " + error);
    return true;
  }

 private:
  const object& o_;
  config_fault& fault_;
};

bool parse_listen(reader& read, gateway_config& out) {
  const auto* value = read.find("listen");
  if (value == nullptr) return true;
  if (value->is<std::int64_t>()) {
    out.port = static_cast<int>(value->get<std::int64_t>());
  } else if (value->is<std::string>()) {
    const std::string& text = value->get<std::string>();
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) return read.fail("listen", "'listen' must be host:port");
    out.host = text.substr(0, colon);
    if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']')
      out.host = out.host.substr(1, out.host.size() - 2);
    try {
      std::size_t used = 0;
      out.port = std::stoi(text.substr(colon + 1), &used);
      if (used != text.size() - colon - 1) out.port = -1;
    } catch (const std::exception&) {
      out.port = -1;
    }
  } else {
    return read.fail("listen", "'listen' must be host:port");
  }
  if (out.port < 0 || out.port > 65535) return read.fail("listen", "'listen': the port must be from 0 to 65535");
  if (out.host.empty()) out.host = "0.0.0.0";
  return true;
}

bool parse_authorize(const picojson::value& value, gateway_config& out, config_fault& fault) {
  if (!value.is<object>()) return fault.set("", "'authorize' must be a block");
  reader read(value.get<object>(), fault);
  if (!read.only_keys({"url", "timeout", "verify", "ca_file", "users"}) || !read.string("url", out.authorize_url) ||
      !read.duration("timeout", out.authorize_timeout) || !read.boolean("verify", out.authorize_verify) ||
      !read.string("ca_file", out.authorize_ca_file) || !read.boolean("users", out.authorize_users))
    return false;
  if (out.authorize_users) {
    if (!out.authorize_url.empty()) return read.fail("users", "give 'url' or 'users: true', not both");
    return true;
  }
  if (out.authorize_url.empty()) return fault.set("", "give 'url' (an HTTP backend) or 'users: true' (the server's users)");
  if (out.authorize_url.rfind("http://", 0) != 0 && out.authorize_url.rfind("https://", 0) != 0)
    return read.fail("url", "'url' must be an http:// or https:// URL");
  return true;
}

}  // namespace

bool parse_gateway_config(const picojson::value& block, gateway_config& out, config_fault& fault) {
  if (!block.is<object>()) return fault.set("", "must be a block");
  reader read(block.get<object>(), fault);
  if (!read.only_keys({"listen", "path", "tls", "subject_prefix", "broadcast", "authorize", "max_per_user",
                       "store", "page_limit", "max_message", "max_pending", "handshake_timeout", "max_sessions"}) ||
      !parse_listen(read, out) || !read.string("path", out.path) ||
      !read.string("subject_prefix", out.subject_prefix) || !read.string("broadcast", out.broadcast) ||
      !read.size("max_per_user", out.max_per_user, 1, 1000000) || !read.string("store", out.store) ||
      !read.size("page_limit", out.page_limit, 1, 10000) ||
      !read.size("max_message", out.max_message, 256, 64 * 1024 * 1024) ||
      !read.size("max_pending", out.max_pending, 1024, std::int64_t{1} << 32) ||
      !read.duration("handshake_timeout", out.handshake_timeout) ||
      !read.size("max_sessions", out.max_sessions, 1, 10000000))
    return false;
  if (out.path.empty() || out.path.front() != '/') return read.fail("path", "'path' must start with '/'");
  if (!protocol::is_valid_literal_subject(out.subject_prefix))
    return read.fail("subject_prefix", "'subject_prefix' must be a subject without wildcards");
  if (out.broadcast.empty() || out.broadcast.find_first_of(". *>\t") != std::string::npos)
    return read.fail("broadcast", "'broadcast' must be one subject token");
  const auto* authorize = read.find("authorize");
  if (authorize == nullptr) return read.fail("authorize", "missing 'authorize' (the backend that checks tokens)");
  if (!parse_authorize(*authorize, out, fault)) {
    fault.path = fault.path.empty() ? "authorize" : "authorize/" + fault.path;
    return false;
  }
  if (const auto* tls = read.find("tls")) {
    try {
      out.tls_settings = auth::parse_tls(*tls);
    } catch (const auth::config_error& e) {
      return read.fail("tls", std::string("tls: ") + e.what());
    }
    if (!out.tls_settings.enabled()) return read.fail("tls", "tls: cert_file and key_file are required");
    out.tls = true;
  }
  return true;
}

}  // namespace courier::mss::notify
