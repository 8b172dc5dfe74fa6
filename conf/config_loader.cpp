#include "conf/config_loader.hpp"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <tuple>

#include "conf/ascii.hpp"
#include "conf/config_error.hpp"
#include "conf/duration.hpp"
#include "conf/leafnode_options.hpp"

namespace courier::conf {

namespace {

// nats-server 2.9.10's top-level options (server/opts.go,
// processConfigFileLine) that Courier does not implement. Accepting them
// silently would let a config that relies on them (clustering, JetStream,
// TLS-only listeners, operators...) start without the behaviour it asks
// for, so they are refused by name.
const std::vector<std::string_view> unsupported_option_names = {
    "client_advertise", "trace_verbose", "mappings", "maps", "disable_sublist_cache", "no_sublist_cache",
    "cluster", "gateway",
    "store_dir", "storedir", "jetstream", "logfile_size_limit", "log_size_limit", "syslog", "remote_syslog",
    "ports_file_dir", "prof_port", "max_traced_msg_len", "max_sub_tokens", "max_subscription_tokens", "ocsp",
    "operator", "operators", "roots", "root", "root_operators", "root_operator", "resolver",
    "account_resolver", "accounts_resolver", "resolver_tls", "resolver_preload", "resolver_pinned_accounts",
    "no_system_account", "no_system", "no_sys_acc", "no_header_support", "trusted",
    "trusted_keys", "connect_error_reports", "reconnect_error_reports", "mqtt",
    "server_tags", "default_js_domain",
};

/// nats-server's minimum lame_duck_duration (server/opts.go).
constexpr std::chrono::seconds min_lame_duck_duration{30};
/// nats-server keeps max_payload and max_control_line in an int32.
constexpr std::int64_t max_int32 = std::numeric_limits<std::int32_t>::max();

/// Collects problems while mapping, so that all are reported together.
class loader {
 public:
  loader(const config_document& document, server_options& out) : document_(document), out_(out) {}

  void run() {
    for (const auto& [key, value] : document_.root.get<picojson::object>()) apply(key, value);
    if (!problems_.empty()) {
      std::stable_sort(problems_.begin(), problems_.end(), [](const config_problem& a, const config_problem& b) {
        return std::tie(a.where.file, a.where.line, a.where.column) <
               std::tie(b.where.file, b.where.line, b.where.column);
      });
      throw config_error(std::move(problems_));
    }
  }

 private:
  void apply(const std::string& key, const picojson::value& value) {
    const std::string path = config_path("", key);
    const std::string name = ascii_lower(key);
    current_key_ = key;
    current_where_ = document_.nearest_position(path);

    if (name == "listen") {
      apply_listen(value);
    } else if (name == "port") {
      if (auto port = integer(value)) set_port(*port);
    } else if (name == "host" || name == "net") {
      if (auto text = string(value)) out_.host = *text;
    } else if (name == "server_name") {
      if (auto text = string(value)) out_.server_name = *text;
    } else if (name == "debug") {
      if (auto flag = boolean(value)) out_.debug = *flag;
    } else if (name == "trace") {
      if (auto flag = boolean(value)) out_.trace = *flag;
    } else if (name == "logtime") {
      if (auto flag = boolean(value)) out_.logtime = *flag;
    } else if (name == "logfile" || name == "log_file") {
      if (auto text = string(value)) out_.log_file = *text;
    } else if (name == "pidfile" || name == "pid_file") {
      if (auto text = string(value)) out_.pid_file = *text;
    } else if (name == "max_payload") {
      if (auto number = integer(value)) {
        if (*number > max_int32) return error(key + " value is too big");
        out_.max_payload = *number;
      }
    } else if (name == "max_control_line") {
      if (auto number = integer(value)) {
        if (*number > max_int32) return error(key + " value is too big");
        out_.max_control_line = *number;
      }
    } else if (name == "max_pending") {
      if (auto number = integer(value)) out_.max_pending = *number;
    } else if (name == "max_connections" || name == "max_conn") {
      if (auto number = int_value(value)) out_.max_connections = *number;
    } else if (name == "max_subscriptions" || name == "max_subs") {
      if (auto number = int_value(value)) out_.max_subscriptions = *number;
    } else if (name == "ping_max") {
      if (auto number = int_value(value)) out_.ping_max = *number;
    } else if (name == "ping_interval") {
      if (auto duration = old_style_duration(name, value)) out_.ping_interval = *duration;
    } else if (name == "write_deadline") {
      if (auto duration = old_style_duration(name, value)) out_.write_deadline = *duration;
    } else if (name == "lame_duck_duration") {
      if (auto duration = duration_string(name, value)) {
        if (*duration < min_lame_duck_duration) {
          return error("invalid lame_duck_duration of " + format_go_duration(*duration) +
                       ", minimum is 30 seconds");
        }
        out_.lame_duck_duration = std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
      }
    } else if (name == "lame_duck_grace_period") {
      if (auto duration = duration_string(name, value)) {
        if (duration->count() < 0) return error("invalid lame_duck_grace_period, needs to be positive");
        out_.lame_duck_grace_period = std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
      }
    } else if (name == "http_port" || name == "monitor_port") {
      if (auto number = integer(value)) out_.http_port = *number;
    } else if (name == "http") {
      apply_http_listen(value, out_.http_port);
    } else if (name == "https_port") {
      if (auto number = integer(value)) out_.https_port = *number;
    } else if (name == "https") {
      apply_http_listen(value, out_.https_port);
    } else if (name == "http_base_path") {
      if (auto text = string(value)) out_.http_base_path = *text;
    } else if (name == "system_account" || name == "system") {
      if (auto text = string(value)) out_.system_account = *text;
    } else if (name == "no_auth_user") {
      if (auto text = string(value)) out_.no_auth_user = *text;
    } else if (name == "authorization") {
      out_.authorization = value;
    } else if (name == "accounts") {
      out_.accounts = value;
    } else if (name == "tls") {
      out_.tls = value;
    } else if (name == "allow_non_tls") {
      if (auto flag = boolean(value)) out_.allow_non_tls = *flag;
    } else if (name == "mss") {
      out_.mss = value;
    } else if (name == "websocket" || name == "ws") {
      apply_websocket(path, value);
    } else if (name == "leafnodes" || name == "leaf") {
      try {
        parse_leafnodes(value);
        out_.leafnodes = value;
      } catch (const std::invalid_argument& problem) {
        error(problem.what());
      }
    } else if (std::find(unsupported_option_names.begin(), unsupported_option_names.end(), name) !=
               unsupported_option_names.end()) {
      error("unsupported option \"" + key + "\": nats-server has it, Courier does not implement it");
    } else if (!document_.is_used_variable(path)) {
      // A key some $variable referenced is a variable definition.
      error("unknown field \"" + key + "\"");
    }
  }

  void error(const std::string& message) { problems_.push_back({current_where_, message}); }

  /// The `websocket {}` block, key by key as nats-server's parseWebsocket.
  void apply_websocket(const std::string& path, const picojson::value& value) {
    if (!value.is<picojson::object>()) {
      error("Expected websocket to be a map, got " + config_type_name(value));
      return;
    }
    websocket_options& ws = out_.websocket;
    for (const auto& [key, item] : value.get<picojson::object>()) {
      const std::string item_path = config_path(path, key);
      const std::string name = ascii_lower(key);
      current_key_ = key;
      current_where_ = document_.nearest_position(item_path);
      if (name == "listen") {
        if (auto address = listen_address(item)) {
          ws.host = address->first;
          ws.port = static_cast<int>(address->second);
        }
      } else if (name == "port") {
        if (auto port = int_value(item)) ws.port = *port;
      } else if (name == "host" || name == "net") {
        if (auto text = string(item)) ws.host = *text;
      } else if (name == "advertise") {
        if (auto text = string(item)) ws.advertise = *text;
      } else if (name == "no_tls") {
        if (auto flag = boolean(item)) ws.no_tls = *flag;
      } else if (name == "tls") {
        ws.tls = item;
      } else if (name == "same_origin") {
        if (auto flag = boolean(item)) ws.same_origin = *flag;
      } else if (name == "allowed_origins" || name == "allowed_origin" || name == "allow_origins" ||
                 name == "allow_origin" || name == "origins" || name == "origin") {
        ws.allowed_origins.clear();
        if (item.is<std::string>()) {
          ws.allowed_origins.push_back(item.get<std::string>());
        } else if (item.is<picojson::array>()) {
          for (const auto& origin : item.get<picojson::array>()) {
            if (auto text = string(origin)) ws.allowed_origins.push_back(*text);
          }
        } else {
          error("error parsing allowed origins: unsupported type " + config_type_name(item));
        }
      } else if (name == "handshake_timeout") {
        // A number is seconds; a string a Go duration.
        if (item.is<std::int64_t>()) {
          ws.handshake_timeout = std::chrono::seconds(item.get<std::int64_t>());
        } else if (item.is<std::string>()) {
          std::string problem;
          if (auto duration = parse_go_duration(item.get<std::string>(), problem)) {
            ws.handshake_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
          } else {
            error(problem);
          }
        } else {
          error("error parsing handshake timeout: unsupported type " + config_type_name(item));
        }
      } else if (name == "compress" || name == "compression") {
        if (auto flag = boolean(item)) ws.compression = *flag;
      } else if (name == "authorization" || name == "authentication") {
        apply_websocket_authorization(item_path, item);
      } else if (name == "jwt_cookie") {
        if (auto text = string(item)) ws.jwt_cookie = *text;
      } else if (name == "no_auth_user") {
        if (auto text = string(item)) ws.no_auth_user = *text;
      } else if (!document_.is_used_variable(item_path)) {
        error("unknown field \"" + key + "\"");
      }
    }
  }

  /// websocket.authorization: user/password, token and timeout (nats-server parseSimpleAuth).
  void apply_websocket_authorization(const std::string& path, const picojson::value& value) {
    if (!value.is<picojson::object>()) {
      error("Expected authorization to be a map, got " + config_type_name(value));
      return;
    }
    websocket_options& ws = out_.websocket;
    for (const auto& [key, item] : value.get<picojson::object>()) {
      const std::string item_path = config_path(path, key);
      const std::string name = ascii_lower(key);
      current_key_ = key;
      current_where_ = document_.nearest_position(item_path);
      if (name == "user" || name == "username") {
        if (auto text = string(item)) ws.username = *text;
      } else if (name == "pass" || name == "password") {
        if (auto text = string(item)) ws.password = *text;
      } else if (name == "token") {
        if (auto text = string(item)) ws.token = *text;
      } else if (name == "timeout") {
        if (item.is<std::int64_t>()) {
          ws.auth_timeout_seconds = static_cast<double>(item.get<std::int64_t>());
        } else if (item.is<double>()) {
          ws.auth_timeout_seconds = item.get<double>();
        } else {
          error("error parsing authorization config, 'timeout' wrong type " + config_type_name(item));
        }
      } else if (!document_.is_used_variable(item_path)) {
        error("unknown field \"" + key + "\"");
      }
    }
  }

  void type_error(const char* expected, const picojson::value& value) {
    error("invalid value for \"" + current_key_ + "\": expected " + expected + ", got " +
          config_type_name(value));
  }

  std::optional<std::int64_t> integer(const picojson::value& value) {
    if (!value.is<std::int64_t>()) {
      type_error("an integer", value);
      return std::nullopt;
    }
    return value.get<std::int64_t>();
  }

  std::optional<int> int_value(const picojson::value& value) {
    auto number = integer(value);
    if (!number) return std::nullopt;
    if (*number > std::numeric_limits<int>::max() || *number < std::numeric_limits<int>::min()) {
      error(current_key_ + " value is too big");
      return std::nullopt;
    }
    return static_cast<int>(*number);
  }

  std::optional<std::string> string(const picojson::value& value) {
    if (!value.is<std::string>()) {
      type_error("a string", value);
      return std::nullopt;
    }
    return value.get<std::string>();
  }

  std::optional<bool> boolean(const picojson::value& value) {
    if (!value.is<bool>()) {
      type_error("a boolean", value);
      return std::nullopt;
    }
    return value.get<bool>();
  }

  /// nats-server's port numbers: 0 means the default (4222) and -1 a random
  /// port, which server_options spells 0.
  void set_port(std::int64_t port) {
    if (port == -1) {
      out_.port = 0;
    } else if (port == 0) {
      out_.port = 4222;
    } else if (port < 0 || port > 65535) {
      error("invalid port " + std::to_string(port) + ", expected 1-65535, 0 (default) or -1 (random)");
    } else {
      out_.port = static_cast<int>(port);
    }
  }

  /// listen: a port, or "host:port" ("[::1]:4222" for IPv6).
  void apply_listen(const picojson::value& value) {
    if (auto address = listen_address(value)) {
      out_.host = address->first.empty() ? "0.0.0.0" : address->first;
      set_port(address->second);
    }
  }

  /// `http: 8222` or `http: "host:port"` (and the same for https), as
  /// nats-server's parseListen: the port goes to `port`, a host to http_host.
  void apply_http_listen(const picojson::value& value, std::int64_t& port) {
    if (auto address = listen_address(value)) {
      if (!address->first.empty()) out_.http_host = address->first;
      port = address->second;
    }
  }

  /// A port, or "host:port" in the shape Go's net.SplitHostPort accepts
  /// (the host may be empty). Nothing, after an error, when malformed.
  std::optional<std::pair<std::string, std::int64_t>> listen_address(const picojson::value& value) {
    if (value.is<std::int64_t>()) return std::pair<std::string, std::int64_t>{"", value.get<std::int64_t>()};
    if (!value.is<std::string>()) {
      error("expected port or host:port, got " + config_type_name(value));
      return std::nullopt;
    }
    const std::string& text = value.get<std::string>();
    std::string host, port;
    if (!text.empty() && text[0] == '[') {
      const auto close = text.find(']');
      if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
        error("could not parse address string \"" + text + "\"");
        return std::nullopt;
      }
      host = text.substr(1, close - 1);
      port = text.substr(close + 2);
    } else {
      const auto colon = text.find(':');
      if (colon == std::string::npos || text.find(':', colon + 1) != std::string::npos) {
        error("could not parse address string \"" + text + "\"");
        return std::nullopt;
      }
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
    }
    if (port.empty() || port.size() > 9 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      error("could not parse port \"" + port + "\"");
      return std::nullopt;
    }
    return std::pair<std::string, std::int64_t>{host, std::stoll(port)};
  }

  /// ping_interval and write_deadline: a duration string, or (the old form)
  /// a number of seconds, which works but draws a warning.
  std::optional<std::chrono::milliseconds> old_style_duration(const std::string& name,
                                                             const picojson::value& value) {
    if (value.is<std::int64_t>()) {
      const std::int64_t seconds = value.get<std::int64_t>();
      out_.config_warnings.push_back(
          {current_where_, "invalid use of field \"" + name + "\": " + name + " should be converted to a duration"});
      if (seconds > std::numeric_limits<std::int64_t>::max() / 1000 ||
          seconds < std::numeric_limits<std::int64_t>::min() / 1000) {
        error(name + " value is too big");
        return std::nullopt;
      }
      return std::chrono::seconds(seconds);
    }
    auto duration = duration_string(name, value);
    if (!duration) return std::nullopt;
    return std::chrono::duration_cast<std::chrono::milliseconds>(*duration);
  }

  std::optional<std::chrono::nanoseconds> duration_string(const std::string& name, const picojson::value& value) {
    if (!value.is<std::string>()) {
      type_error("a duration string such as \"2m\"", value);
      return std::nullopt;
    }
    std::string problem;
    auto duration = parse_go_duration(value.get<std::string>(), problem);
    if (!duration) error("error parsing " + name + ": " + problem);
    return duration;
  }

  const config_document& document_;
  server_options& out_;
  std::vector<config_problem> problems_;
  std::string current_key_;
  source_position current_where_;
};

void finish(std::shared_ptr<config_document> document, server_options& out) {
  out.config_warnings.clear();
  apply_config(*document, out);
  out.document = document->root;
  out.config_source = std::move(document);
  validate_options(out);
}

}  // namespace

void apply_config(const config_document& document, server_options& out) { loader(document, out).run(); }

void load_config_file(const std::string& path, server_options& out) {
  auto document = std::make_shared<config_document>(parse_config_file(path));
  out.config_file = path;
  finish(std::move(document), out);
}

void load_config_string(std::string_view text, server_options& out, const std::string& source_name,
                        const std::string& base_dir) {
  auto document = std::make_shared<config_document>(parse_config_string(text, source_name, base_dir));
  finish(std::move(document), out);
}

namespace {
/// The websocket block's start-up errors.
void validate_websocket(const server_options& options) {
  // nats-server validateWebsocketOptions: nothing is checked while the listener is off.
  const websocket_options& ws = options.websocket;
  if (!ws.enabled()) return;
  if (ws.tls.is<picojson::null>() && !ws.no_tls) throw config_error("websocket requires TLS configuration");
  for (const auto& origin : ws.allowed_origins) {
    // Go's url.Parse refuses little: control characters and a bad percent escape.
    for (std::size_t i = 0; i < origin.size(); ++i) {
      const auto c = static_cast<unsigned char>(origin[i]);
      const bool bad_escape = c == '%' && (i + 2 >= origin.size() || !std::isxdigit(static_cast<unsigned char>(origin[i + 1])) ||
                                           !std::isxdigit(static_cast<unsigned char>(origin[i + 2])));
      if (c < 0x20 || c == 0x7f || bad_escape) {
        throw config_error("unable to parse allowed origin: parse \"" + origin + "\": invalid URL");
      }
    }
  }
  // no_auth_user naming a user is checked with the users (auth/users).
  if (!options.authorization.is<picojson::null>() || !options.accounts.is<picojson::null>()) {
    bool users = false;
    auto has_users = [](const picojson::value& block) {
      if (!block.is<picojson::object>()) return false;
      for (const auto& [key, value] : block.get<picojson::object>()) {
        const std::string name = ascii_lower(key);
        if ((name == "users" || name == "nkeys") && value.is<picojson::array>() && !value.get<picojson::array>().empty()) {
          return true;
        }
      }
      return false;
    };
    users = has_users(options.authorization);
    if (options.accounts.is<picojson::object>()) {
      for (const auto& [name, account] : options.accounts.get<picojson::object>()) users = users || has_users(account);
    }
    if (users && !ws.username.empty()) {
      throw config_error("websocket authentication username not compatible with presence of users/nkeys");
    }
    if (users && !ws.token.empty()) {
      throw config_error("websocket authentication token not compatible with presence of users/nkeys");
    }
  }
  if (!ws.jwt_cookie.empty()) {
    throw config_error("trusted operators or trusted keys configuration is required for JWT authentication via cookie \"" +
                       ws.jwt_cookie + "\"");
  }
}
}  // namespace

void validate_options(const server_options& options) {
  auto where = [&](const char* key) {
    if (options.config_source) {
      if (const auto* position = options.config_source->position_of(key)) return *position;
    }
    return source_position{};
  };
  if (options.lame_duck_duration.count() > 0 && options.lame_duck_grace_period >= options.lame_duck_duration) {
    throw config_error(where("lame_duck_grace_period"),
                       "lame duck grace period (" + format_go_duration(options.lame_duck_grace_period) +
                           ") should be strictly lower than lame duck duration (" +
                           format_go_duration(options.lame_duck_duration) + ")");
  }
  validate_websocket(options);
  if (options.max_payload > options.max_pending) {
    throw config_error(where("max_payload"), "max_payload (" + std::to_string(options.max_payload) +
                                                 ") cannot be higher than max_pending (" +
                                                 std::to_string(options.max_pending) + ")");
  }
}

const std::vector<std::string_view>& unsupported_options() { return unsupported_option_names; }

}  // namespace courier::conf
