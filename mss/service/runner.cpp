#include "mss/service/runner.hpp"

#include <signal.h>

#include <algorithm>
#include <iterator>
#include <optional>
#include <stdexcept>

#include "auth/password.hpp"
#include "auth/users.hpp"
#include "broker/logger.hpp"
#include "broker/server.hpp"
#include "client/tcp_bus.hpp"
#include "conf/ascii.hpp"
#include "conf/config_parser.hpp"
#include "mss/service/in_process_bus.hpp"
#include "mss/service/metrics.hpp"
#include "mss/notify/gateway.hpp"

namespace courier::mss {
namespace {

void write_log(service_log_level level, const std::string& text) {
  auto& log = broker::log();
  switch (level) {
    case service_log_level::error: log.write(broker::log_level::error, text); break;
    case service_log_level::warning: log.write(broker::log_level::warning, text); break;
    case service_log_level::info: log.write(broker::log_level::notice, text); break;
    case service_log_level::debug:
      if (log.debug_enabled()) log.write(broker::log_level::debug, text);
      break;
  }
}

/// The keys of the `mss` block that only the runner reads (how to reach an
/// external server); everything else is the dispatcher's and the handlers'.
struct connection_settings {
  std::string server_url;
  std::string user;
  std::string password;
  std::string token;
  std::string nkey_seed_file;
  std::string credentials;
  std::string name = "courier-mss";
  tcp_bus_tls tls;  ///< from a `tls { }` block, which makes TLS required
};

/// Every key an `mss` block may hold: the runner's, the dispatcher's
/// (mss/config/dispatcher_config) and the handlers' (mss/config/handler_config).
/// Any other is a mistake (a typo would otherwise disable what it meant).
constexpr const char* block_keys[] = {"server", "user", "password", "token", "nkey_seed_file", "credentials", "tls",
                                      "name",
                                      "prefix", "queue_group", "dead_letter_prefix", "event_retry",
                                      "idempotency_window", "idempotency_max", "actions", "events", "audits",
                                      "smtp", "handlers", "notifications"};

bool read_connection_settings(const picojson::object& o, connection_settings& out, config_fault& fault) {
  for (const auto& entry : o) {
    const std::string& key = entry.first;
    if (std::find_if(std::begin(block_keys), std::end(block_keys), [&](const char* k) { return key == k; }) ==
        std::end(block_keys))
      return fault.set(conf::config_path("", key), "mss: unknown key '" + key + "'");
  }
  const std::pair<const char*, std::string*> keys[] = {
      {"server", &out.server_url}, {"user", &out.user},           {"password", &out.password},
      {"token", &out.token},       {"name", &out.name},           {"nkey_seed_file", &out.nkey_seed_file},
      {"credentials", &out.credentials}};
  for (const auto& [key, field] : keys) {
    auto it = o.find(key);
    if (it == o.end()) continue;
    if (!it->second.is<std::string>()) return fault.set(key, std::string("mss.") + key + ": must be a string");
    *field = it->second.get<std::string>();
  }
  if (!out.nkey_seed_file.empty() && !out.credentials.empty())
    return fault.set("credentials", "mss: give 'nkey_seed_file' or 'credentials', not both");
  const auto tls = o.find("tls");
  if (tls == o.end()) return true;
  if (!tls->second.is<picojson::object>()) return fault.set("tls", "mss.tls: must be a block");
  out.tls.required = true;
  for (const auto& [key, value] : tls->second.get<picojson::object>()) {
    const std::string path = conf::config_path("tls", key);
    if (key == "insecure") {
      if (!value.is<bool>()) return fault.set(path, "mss.tls.insecure: must be true or false");
      out.tls.insecure = value.get<bool>();
      continue;
    }
    std::string* field = key == "ca_file"     ? &out.tls.ca_file
                         : key == "cert_file" ? &out.tls.cert_file
                         : key == "key_file"  ? &out.tls.key_file
                                              : nullptr;
    if (field == nullptr)
      return fault.set(path, "mss.tls: unknown key '" + key + "' (ca_file, cert_file, key_file, insecure)");
    if (!value.is<std::string>() || value.get<std::string>().empty())
      return fault.set(path, "mss.tls." + key + ": must be a file name");
    *field = value.get<std::string>();
  }
  return true;
}

/// The tcp_bus settings of `connection`, connecting to `url`.
tcp_bus_options bus_options(const connection_settings& connection, const std::string& url) {
  tcp_bus_options options;
  options.urls = url;
  options.name = connection.name;
  options.user = connection.user;
  options.password = connection.password;
  options.token = connection.token;
  options.nkey_seed_file = connection.nkey_seed_file;
  options.credentials_file = connection.credentials;
  options.tls = connection.tls;
  return options;
}

/// The `notifications` block, when there is one (the notification gateway).
bool read_notifications(const picojson::object& o, std::optional<notify::gateway_config>& out, config_fault& fault) {
  const auto it = o.find("notifications");
  if (it == o.end()) return true;
  notify::gateway_config config;
  if (!notify::parse_gateway_config(it->second, config, fault)) {
    fault.message = "mss.notifications: " + fault.message;
    fault.path = fault.path.empty() ? it->first : it->first + "/" + fault.path;
    return false;
  }
  out = std::move(config);
  return true;
}

/// What an `mss` block builds into, before anything runs.
struct built_services {
  connection_settings connection;
  dispatcher_config config;
  handler_set handlers;
  std::optional<notify::gateway_config> notifications;
};

/// Where the `mss` block's key at `path` (below the block) was written, as
/// precisely as `source` knows; nothing without a source.
conf::source_position position_of(const conf::config_document* source, const std::string& path) {
  if (source == nullptr || !source->root.is<picojson::object>()) return {};
  for (const auto& [key, unused] : source->root.get<picojson::object>()) {
    (void)unused;
    if (conf::ascii_lower(key) != "mss") continue;  // top-level keys are case-insensitive
    const std::string block = conf::config_path("", key);
    return source->nearest_position(path.empty() ? block : block + "/" + path);
  }
  return {};
}

/// Reads and builds the whole `mss` block, as start-up and `courier -t`
/// both do (one function, so that they cannot disagree). Throws
/// conf::config_error "file:line:col: mss...: what" when a source is known.
built_services build_services(const picojson::value& mss_block, boost::asio::any_io_executor executor,
                              const handler_build_options& options, const conf::config_document* source) {
  const picojson::value block = mss_block.is<picojson::null>() ? picojson::value(picojson::object()) : mss_block;
  config_fault fault;
  built_services out;
  const bool ok = block.is<picojson::object>()
                      ? read_connection_settings(block.get<picojson::object>(), out.connection, fault) &&
                            load_dispatcher_config(block, out.config, fault) &&
                            build_handlers(block, executor, out.handlers, fault, options) &&
                            check_rule_handlers(out.config, out.handlers, fault) &&
                            read_notifications(block.get<picojson::object>(), out.notifications, fault)
                      : fault.set("", "mss: must be a block");
  if (!ok) throw conf::config_error(position_of(source, fault.path), fault.message);
  return out;
}

/// Loads the connection's TLS files and nkey credentials, as the tcp_bus
/// does when it starts, so that `-t` and start-up fail alike and the error
/// points at the key. Throws conf::config_error.
void check_connection_files(const connection_settings& connection, const conf::config_document* source) {
  const auto check = [&](const char* key, const tcp_bus_options& options) {
    try {
      tcp_bus::load_security(options);
    } catch (const bus_error& e) {
      // load_security's "<setting>: why"; the key as written in the block instead.
      std::string why = e.what();
      if (const auto colon = why.find(": "); colon != std::string::npos) why.erase(0, colon + 2);
      throw conf::config_error(position_of(source, key), std::string("mss.") + key + ": " + why);
    }
  };
  if (connection.tls.required) {
    tcp_bus_options options;
    options.tls = connection.tls;
    check("tls", options);
  }
  if (!connection.nkey_seed_file.empty()) {
    tcp_bus_options options;
    options.nkey_seed_file = connection.nkey_seed_file;
    check("nkey_seed_file", options);
  }
  if (!connection.credentials.empty()) {
    tcp_bus_options options;
    options.credentials_file = connection.credentials;
    check("credentials", options);
  }
}

/// Loads the notification gateway's certificate and key, as its start
/// does, so that `-t` and start-up fail alike. Throws conf::config_error.
void check_gateway_tls(const built_services& built, const conf::config_document* source) {
  if (!built.notifications || !built.notifications->tls) return;
  try {
    auth::make_server_context(built.notifications->tls_settings);
  } catch (const std::runtime_error& e) {
    throw conf::config_error(position_of(source, "notifications/tls"), std::string("mss.notifications: tls: ") + e.what());
  }
}

}  // namespace

runner::runner(broker::server* embedded, const picojson::value& mss_block, const std::string& server_url,
               const conf::config_document* source)
    : work_(boost::asio::make_work_guard(io_)) {
  handler_build_options build;
  build.sink = [](const std::string& line) { broker::log().write(broker::log_level::notice, line); };
  built_services built = build_services(mss_block, io_.get_executor(), build, source);
  check_gateway_tls(built, source);
  check_connection_files(built.connection, source);
  const connection_settings& connection = built.connection;
  dispatcher_config config = std::move(built.config);
  handler_set handlers = std::move(built.handlers);
  std::optional<notify::gateway_config> notifications = std::move(built.notifications);
  const std::string url = server_url.empty() ? connection.server_url : server_url;
  if (!url.empty()) {
    tcp_bus_options options = bus_options(connection, url);
    options.log = [](const std::string& line) { broker::log().write(broker::log_level::notice, "mss: " + line); };
    try {
      bus_ = std::make_unique<tcp_bus>(std::move(options));
    } catch (const bus_error& e) {
      throw std::runtime_error(std::string("mss.server: ") + e.what());
    }
    external_ = true;
  } else if (embedded != nullptr) {
    bus_ = std::make_unique<in_process_bus>(*embedded, connection.name);
  } else {
    throw std::runtime_error("mss: no server to connect to (give --mss-only <url> or mss.server)");
  }
  try {
    service_ = std::make_unique<service>(*bus_, std::move(handlers), std::move(config), io_.get_executor(), write_log);
    // One I/O thread: the handlers are asynchronous, one is plenty.
    io_thread_ = std::thread([this] { io_.run(); });
    service_->start();
    if (notifications) {
      // authorize { users: true }: the embedded server's users (its
      // configuration as reloaded last) and the single user.
      notify::credential_check users;
      if (embedded != nullptr && !external_) {
        users = [embedded](const std::string& user, const std::string& password) {
          const auto auth = embedded->auth_settings();
          const auto it = auth->users().find(user);
          if (it != auth->users().end())
            return !it->second.password.empty() && auth::check_password(it->second.password, password);
          return !auth->single_user().empty() && user == auth->single_user() &&
                 auth::check_password(auth->single_password(), password);
        };
      }
      gateway_ = std::make_unique<notify::gateway>(io_.get_executor(), *bus_, std::move(*notifications), write_log,
                                                   std::move(users));
      gateway_->start();
    }
  } catch (const std::invalid_argument& e) {
    stop();
    throw std::runtime_error(e.what());
  } catch (const bus_error& e) {
    stop();
    throw std::runtime_error(std::string("mss: ") + e.what());
  } catch (const std::runtime_error&) {
    stop();
    throw;
  }
  if (embedded != nullptr) {
    try {
      metrics_ = embedded->metrics_sources().add("mss", [this](std::string& out) {
        write_metrics(out, *service_);
        if (gateway_) write_metrics(out, *gateway_);
      });
    } catch (const std::invalid_argument& e) {
      // Another runner on this server exports its metrics already; two
      // would write the same families twice.
      broker::log().write(broker::log_level::warning, std::string("mss: metrics not exported: ") + e.what());
    }
  }
  if (external_) {
    auto* tcp = static_cast<tcp_bus*>(bus_.get());
    if (!tcp->wait_connected(std::chrono::seconds(2)))
      broker::log().write(broker::log_level::warning,
                          "mss: not connected to " + tcp->describe() + " yet; retrying in the background");
  }
}

runner::~runner() { stop(); }

void runner::stop(std::chrono::milliseconds timeout) {
  if (stopped_) return;
  stopped_ = true;
  metrics_.reset();  // waits for a /metrics render reading the service
  if (gateway_) gateway_->stop();  // its sessions close while the bus and the I/O thread still run
  if (service_ && !service_->stop(timeout))
    broker::log().write(broker::log_level::warning, "mss: stopped with handlers still running");
  if (bus_) bus_->close();  // no callback runs after this
  work_.reset();
  io_.stop();
  if (io_thread_.joinable()) io_thread_.join();
  gateway_.reset();
  service_.reset();  // handlers (audit logs flush and close) before the io_context goes
}

std::unique_ptr<runner> start_message_services(broker::server* embedded, const conf::server_options& options) {
  if (options.mss.is<picojson::null>() && options.mss_only_url.empty()) return nullptr;
  return std::make_unique<runner>(embedded, options.mss, options.mss_only_url, options.config_source.get());
}

void check_message_services(const conf::server_options& options) {
  if (options.mss.is<picojson::null>() && options.mss_only_url.empty()) return;
  boost::asio::io_context io;  // never run: the handlers are built, nothing starts
  handler_build_options build;
  build.open_audit_logs = false;
  const built_services built = build_services(options.mss, io.get_executor(), build, options.config_source.get());
  check_gateway_tls(built, options.config_source.get());
  check_connection_files(built.connection, options.config_source.get());
}

bool message_services_only(const conf::server_options& options) { return !options.mss_only_url.empty(); }

int run_message_services_only(const conf::server_options& options) {
  auto& log = broker::log();
  std::unique_ptr<runner> services;
  try {
    services = start_message_services(nullptr, options);
  } catch (const std::exception& e) {
    log.write(broker::log_level::fatal, e.what());
    return 1;
  }
  log.write(broker::log_level::notice, "message services only, connected to " + services->messages().describe());
  sigset_t signals;
  sigemptyset(&signals);
  for (int s : {SIGINT, SIGTERM, SIGUSR2, SIGHUP}) sigaddset(&signals, s);
  while (true) {
    int received = 0;
    if (sigwait(&signals, &received) != 0) break;
    if (received == SIGHUP) {
      log.write(broker::log_level::warning, "mss: reload is not supported in --mss-only mode; ignored");
      continue;
    }
    break;
  }
  log.write(broker::log_level::notice, "message services stopping");
  services->stop();
  return 0;
}

}  // namespace courier::mss
