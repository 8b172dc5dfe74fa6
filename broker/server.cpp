#include "broker/server.hpp"

#include <unistd.h>

#include <cassert>
#include <csignal>
#include <random>
#include <stdexcept>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "broker/router/epoch_reclaim.hpp"
#include "broker/event_loop.hpp"
#include "broker/transport/tcp_listen.hpp"
#include "broker/in_process.hpp"
#include "broker/logger.hpp"
#include "auth/password.hpp"
#include "broker/client_protocol.hpp"
#include "broker/connection.hpp"
#include "broker/leaf/leaf_nodes.hpp"
#include "broker/transport/tcp_transport.hpp"
#include "broker/transport/websocket_transport.hpp"
#include "conf/config_loader.hpp"
#include "protocol/json_string.hpp"

namespace courier::broker {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

/// A server id shaped like nats-server's: 'N' and 55 base32 characters (the
/// public nkey of a server key pair).
std::string make_server_id() {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  std::random_device device;
  std::mt19937_64 generator(device());
  std::string id = "N";
  for (int i = 0; i < 55; ++i) id += alphabet[generator() % 32];
  return id;
}

/// How often each loop checks its connections' timers.
std::chrono::milliseconds tick_period(const conf::server_options& options) {
  auto period = std::chrono::milliseconds(250);
  if (options.ping_interval.count() > 0) period = std::min(period, options.ping_interval / 4);
  return std::max(period, std::chrono::milliseconds(20));
}

}  // namespace

server::server(conf::server_options options)
    : options_(std::move(options)), server_id_(make_server_id()) {
  server_name_ = options_.server_name.empty() ? server_id_ : options_.server_name;
  if (!options_.tls.is<picojson::null>() || options_.tls_flags.given) {
    auth::tls_flags flags;
    flags.tls = options_.tls_flags.enabled;
    flags.cert = options_.tls_flags.cert_file;
    flags.key = options_.tls_flags.key_file;
    flags.ca_cert = options_.tls_flags.ca_file;
    flags.verify = options_.tls_flags.verify;
    auto from_file = options_.tls.is<picojson::null>() ? auth::tls_settings{} : auth::parse_tls(options_.tls);
    tls_settings_ = auth::apply_tls_flags(std::move(from_file), flags);
  }
  std::optional<std::chrono::milliseconds> tls_timeout;
  if (tls_settings_.enabled()) {
    tls_context_ = auth::make_server_context(tls_settings_);
    tls_timeout = tls_settings_.timeout;
    tls_transport_settings_ = tls_transport_settings{tls_context_->native_handle(), tls_settings_.handshake_first,
                                                     tls_settings_.handshake_first_fallback, options_.allow_non_tls,
                                                     tls_settings_.timeout};
    auto fields = auth::tls_info(tls_settings_, options_.allow_non_tls);
    if (fields.tls_required) tls_info_json_ += ",\"tls_required\":true";
    if (fields.tls_verify) tls_info_json_ += ",\"tls_verify\":true";
    if (fields.tls_available) tls_info_json_ += ",\"tls_available\":true";
  }
  auth_ = auth::auth_config::load(options_,
                                  auth::auth_flags{options_.username, options_.password, options_.authorization_token},
                                  tls_settings_.map, tls_timeout);
  // With a no_auth_user, INFO does not ask for credentials (nats-server
  // createClient), though CONNECT is still authenticated.
  auth_required_ = auth_->auth_required() && auth_->no_auth_user().empty();
  if (options_.websocket.enabled()) {
    if (!options_.websocket.tls.is<picojson::null>()) {
      const auth::tls_settings settings = auth::parse_tls(options_.websocket.tls);
      websocket_tls_ = auth::make_server_context(settings);
      websocket_tls_timeout_ = settings.timeout;
    }
    websocket_auth_ = auth_->for_websocket(options_.websocket);
    websocket_auth_required_ = auth_required_ || options_.websocket.auth_override();
  }
  auto global = std::make_unique<account>(std::string(auth::global_account));
  global_account_ = global.get();
  accounts_.emplace(global->name, std::move(global));
  for (const auto& name : auth_->accounts()) {
    if (!accounts_.count(name)) accounts_.emplace(name, std::make_unique<account>(name));
  }
  // nats-server always has a system account (for its $SYS subjects).
  if (!options_.system_account.empty() && !accounts_.count(options_.system_account)) {
    accounts_.emplace(options_.system_account, std::make_unique<account>(options_.system_account));
  }
  std::size_t threads = options_.threads > 0 ? static_cast<std::size_t>(options_.threads)
                                             : default_loop_count(std::thread::hardware_concurrency());
  for (std::size_t i = 0; i < threads; ++i) loops_.push_back(std::make_unique<event_loop>(i));
  loop_connections_.resize(threads);
  // The interest hooks go in before any subscription exists.
  if (!options_.leafnodes.is<picojson::null>()) {
    leaf_nodes_ = std::make_unique<leaf_nodes>(*this, conf::parse_leafnodes(options_.leafnodes));
  }
}

server::~server() { shutdown(); }

void server::start(accepting when) { start_loops(when, true); }

void server::start_driven(accepting when) {
  if (loops_.size() != 1) throw std::logic_error("a driven server runs one event loop: set threads to 1");
  if (leaf_nodes_ || options_.websocket.enabled())
    throw std::logic_error("a driven server serves clients over TCP only: no leafnodes, no websocket");
  start_loops(when, false);
}

std::size_t server::poll(std::chrono::microseconds wait) { return loops_.front()->poll(wait); }

void server::wait_for_loop(event_loop& loop, std::future<void> done) {
  if (!loop.driven()) {
    done.wait();
    return;
  }
  while (done.wait_for(std::chrono::seconds(0)) != std::future_status::ready) loop.poll(std::chrono::milliseconds(1));
}

void server::start_loops(accepting when, bool own_threads) {
  {
    std::lock_guard lock(state_mutex_);
    if (started_) return;
  }
  log().notice("Starting nats-server");
  log().notice("  Version:  ", compatible_nats_version, " (Courier ", courier_version, ")");
  // nats-server prints the commit it was built from here, "[not set]" when
  // built without one (as Debian's is); Courier's build records none.
  log().notice("  Git:      [not set]");
  log().notice("  Name:     ", server_name_);
  log().notice("  ID:       ", server_id_);
  if (!options_.config_file.empty()) log().notice("Using configuration file: ", options_.config_file);
  for (const auto& warning : auth_->warnings()) log().warning(warning);
  if (auth_->warn_plaintext_passwords()) log().warning(auth::plaintext_password_warning);

  if (options_.port >= 0) {
    auto& loop = *loops_.front();
    error_code ec;
    auto address = asio::ip::make_address(options_.host == "localhost" ? "127.0.0.1" : options_.host, ec);
    if (ec) throw std::runtime_error("Error parsing listen address " + options_.host + ": " + ec.message());
    asio::ip::tcp::endpoint endpoint(address, static_cast<std::uint16_t>(options_.port));
    acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(loop.context());
    listen_tcp(*acceptor_, endpoint, ec);
    if (ec) {
      // Nothing runs yet: shutdown() after this failure has nothing to stop.
      acceptor_.reset();
      throw std::runtime_error("Error listening on port: " + options_.host + ":" +
                               std::to_string(options_.port) + ", \"" + ec.message() + "\"");
    }
    port_ = acceptor_->local_endpoint().port();
  }
  start_websocket();
  {
    std::lock_guard lock(state_mutex_);
    started_ = true;
  }
  auto period = tick_period(options_);
  for (auto& loop : loops_) {
    event_loop* raw = loop.get();
    loop->start(period, [this, raw] { tick(*raw); }, own_threads);
  }
  if (leaf_nodes_) leaf_nodes_->listen();
  if (when == accepting::now) accept_clients();
}

void server::accept_clients() {
  {
    std::lock_guard lock(state_mutex_);
    if (!started_ || stopped_) return;
  }
  if (accepting_.exchange(true)) return;
  // The listening lines are logged here, not when the ports were bound:
  // nats-server says them as it starts accepting, after "Starting http
  // monitor", in this order.
  if (websocket_listener_) {
    log().notice("Listening for websocket clients on ", websocket_tls_ ? "wss" : "ws", "://",
                 options_.websocket.host.empty() ? "0.0.0.0" : options_.websocket.host, ":",
                 websocket_listener_->port());
    if (!websocket_tls_) log().warning("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
    websocket_listener_->start();
  }
  if (leaf_nodes_) leaf_nodes_->start();
  if (acceptor_) log().notice("Listening for client connections on ", options_.host, ":", port_);
  if (acceptor_) asio::post(loops_.front()->context(), [this] { do_accept(); });
  // Said once clients are served, as nats-server says it: the executable
  // starts its monitoring port and message services before this, so
  // "ready" in the log means all of them are up.
  log().notice("Server is ready");
}

void server::start_websocket() {
  const conf::websocket_options& ws = options_.websocket;
  if (!ws.enabled()) return;
  websocket::upgrade_settings settings;
  settings.compression = ws.compression;
  settings.same_origin = ws.same_origin;
  settings.allowed_origins = websocket::upgrade_settings::parse_origins(ws.allowed_origins);
  settings.tls = websocket_tls_ != nullptr;
  websocket_listener_ = std::make_unique<websocket::listener>(
      *loops_.front(), [this]() -> event_loop& { return next_loop(); }, std::move(settings), ws.handshake_timeout,
      [this](asio::ip::tcp::socket socket, SSL* tls, event_loop& loop, const websocket::upgrade_result& result) {
        on_websocket_upgraded(std::move(socket), tls, loop, result);
      },
      websocket_tls_, websocket_tls_timeout_);
  // nats-server's default host for the websocket block is DEFAULT_HOST.
  const std::string host = ws.host.empty() ? "0.0.0.0" : ws.host;
  try {
    websocket_listener_->listen(host, ws.port);
  } catch (...) {
    websocket_listener_.reset();
    throw;
  }
}

void server::on_websocket_upgraded(asio::ip::tcp::socket socket, SSL* tls, event_loop& loop,
                                   const websocket::upgrade_result& result) {
  if (shutting_down_) {
    if (tls != nullptr) SSL_free(tls);
    return;
  }
  websocket_session_settings settings;
  settings.compress = result.compress;
  settings.browser = result.browser;
  settings.no_compressed_fragments = result.no_compressed_fragments;
  settings.require_mask = !result.no_masking;
  settings.forwarded_for = result.forwarded_for;
  settings.inflate_limit = static_cast<std::size_t>(std::max<std::int64_t>(options_.max_pending, options_.max_payload));
  stats_.total_connections.fetch_add(1, std::memory_order_relaxed);
  auto link = std::make_unique<websocket_transport>(std::move(socket), std::move(settings), tls);
  auto client = std::make_shared<connection>(*this, loop, std::move(link), ++next_client_id_);
  client->set_role(std::make_unique<client_protocol>(*client, *this));
  admit(std::move(client), loop);
}

void server::admit(std::shared_ptr<connection> client, event_loop& target) {
  const bool over_limit = !registry_.add(client, options_.max_connections);
  asio::post(target.context(), [this, client, over_limit, &target] {
    if (over_limit) {
      log().error("Maximum connections exceeded (", options_.max_connections, ")");
      client->role().refuse_over_limit();
      return;
    }
    loop_connections_[target.index()].emplace(client->id(), client.get());
    client->start();
  });
}

event_loop& server::next_loop() {
  return *loops_[next_loop_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
}

void server::do_accept() {
  if (!acceptor_ || !acceptor_->is_open()) return;
  event_loop& target = next_loop();
  acceptor_->async_accept(target.context(), [this, &target](const error_code& ec, asio::ip::tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || shutting_down_) return;
      log().error("Error accepting client connection: ", ec.message());
      do_accept();
      return;
    }
    stats_.total_connections.fetch_add(1, std::memory_order_relaxed);
    admit(make_client(std::move(socket), target), target);
    if (!lame_duck_) do_accept();
  });
}

std::shared_ptr<connection> server::make_client(asio::ip::tcp::socket socket, event_loop& loop) {
  std::unique_ptr<transport> link;
  if (tls_enabled()) {
    link = std::make_unique<tls_transport>(std::move(socket), tls_transport_settings_);
  } else {
    link = std::make_unique<tcp_transport>(std::move(socket));
  }
  auto client = std::make_shared<connection>(*this, loop, std::move(link), ++next_client_id_);
  client->set_role(std::make_unique<client_protocol>(*client, *this));
  return client;
}

void server::connection_closed(connection& client, close_reason reason) {
  if (auto* loop = event_loop::current()) loop_connections_[loop->index()].erase(client.id());
  auto info = registry_.on_closed(client, reason);
  // Only a client that was announced (its identity is set when its CONNECT
  // is accepted) is announced gone.
  if (info && !info->identity.account.empty()) {
    notify(connection_event{connection_event::kind::disconnected, std::move(*info)});
  }
}

void server::track_connection(const std::shared_ptr<connection>& link) {
  auto* loop = event_loop::current();
  assert(loop != nullptr);
  loop_connections_[loop->index()].emplace(link->id(), link.get());
}

void server::connection_connected(connection& client) {
  notify(connection_event{connection_event::kind::connected, client.info()});
}

void server::set_connection_observer(connection_observer observer) {
  auto installed = observer ? std::make_shared<const connection_observer>(std::move(observer)) : nullptr;
  std::lock_guard lock(observer_mutex_);
  observer_.swap(installed);  // the old one is released outside the lock
}

void server::notify(connection_event event) {
  std::shared_ptr<const connection_observer> observer;
  {
    std::lock_guard lock(observer_mutex_);
    observer = observer_;
  }
  if (observer) (*observer)(event);
}

void server::tick(event_loop& loop) {
  auto now = connection::clock::now();
  // Copy first: tick() may close a connection, which erases it from the map.
  std::vector<connection*> local;
  local.reserve(loop_connections_[loop.index()].size());
  for (auto& [id, client] : loop_connections_[loop.index()]) local.push_back(client);
  for (auto* client : local) {
    auto keep = client->shared_from_this();
    client->tick(now);
  }
  // Router cache entries a reader held back when they were retired would
  // otherwise wait for the next retire; with them, the subscriptions (and
  // connections) their results keep alive.
  if (loop.index() == 0) epoch::reclaim_if_pending();
}

std::string server::info_line(std::uint64_t client_id, const std::string& client_ip, bool lame_duck,
                              std::string_view nonce, client_type type) const {
  // Field order as nats-server's Info struct; "courier_version" stands where
  // nats-server puts its Go version.
  std::string out = "INFO {\"server_id\":";
  protocol::append_json_string(out, server_id_);
  out += ",\"server_name\":";
  protocol::append_json_string(out, server_name_);
  out += ",\"version\":\"";
  out += compatible_nats_version;
  out += "\",\"proto\":1,\"courier_version\":\"";
  out += courier_version;
  out += "\",\"host\":";
  protocol::append_json_string(out, options_.host);
  out += ",\"port\":";
  out += std::to_string(port_);
  out += ",\"headers\":true";
  // WebSocket clients: the server's, or the websocket block's override (createWSClient).
  if (type == client_type::websocket ? websocket_auth_required_.load() : auth_required_.load()) {
    out += ",\"auth_required\":true";
  }
  out += tls_info_json_;
  out += ",\"max_payload\":";
  out += std::to_string(options_.max_payload);
  if (client_id != 0) {
    out += ",\"client_id\":";
    out += std::to_string(client_id);
  }
  if (!client_ip.empty()) {
    out += ",\"client_ip\":";
    protocol::append_json_string(out, client_ip);
  }
  if (!nonce.empty()) {
    out += ",\"nonce\":";
    protocol::append_json_string(out, nonce);
  }
  if (lame_duck) out += ",\"ldm\":true";
  out += "} \r\n";
  return out;
}

std::vector<const account*> server::accounts() const {
  std::vector<const account*> out;
  out.reserve(accounts_.size());
  for (const auto& [name, entry] : accounts_) out.push_back(entry.get());
  return out;
}

std::chrono::system_clock::time_point server::config_load_time() const {
  std::lock_guard lock(auth_mutex_);
  return config_load_time_;
}

account& server::find_account(std::string_view name) {
  auto it = accounts_.find(name);
  return it == accounts_.end() ? *global_account_ : *it->second;
}

std::shared_ptr<const auth::auth_config> server::auth_settings() const {
  std::lock_guard lock(auth_mutex_);
  return auth_;
}

std::shared_ptr<const auth::auth_config> server::auth_settings(client_type type) const {
  std::lock_guard lock(auth_mutex_);
  return type == client_type::websocket && websocket_auth_ ? websocket_auth_ : auth_;
}

// ---- in-process connections ----

std::shared_ptr<local_client> server::connect(const connection_options& options) {
  auto client = local_client::create(*this, options, ++next_client_id_);
  if (!options.internal) registry_.add_local(client);
  return client;
}

void server::local_client_closed(const local_client& client, close_reason reason) {
  registry_.on_local_closed(client, reason);
}

std::shared_ptr<local_client> server::connect() { return connect(connection_options{}); }

// ---- lifecycle ----

void server::request_shutdown() {
  std::lock_guard lock(state_mutex_);
  shutdown_requested_ = true;
  state_changed_.notify_all();
}

void server::wait() {
  std::unique_lock lock(state_mutex_);
  state_changed_.wait(lock, [this] { return shutdown_requested_ || stopped_; });
}

void server::shutdown() {
  {
    std::lock_guard lock(state_mutex_);
    if (!started_ || stopped_) {
      stopped_ = true;
      state_changed_.notify_all();
      return;
    }
  }
  if (shutting_down_.exchange(true)) return;
  log().notice("Initiating Shutdown...");
  if (websocket_listener_) websocket_listener_->close();
  if (acceptor_) {
    std::promise<void> closed;
    asio::post(loops_.front()->context(), [this, &closed] {
      error_code ec;
      acceptor_->close(ec);
      if (signals_) signals_->cancel(ec);
      if (lame_duck_timer_) lame_duck_timer_->cancel();
      closed.set_value();
    });
    wait_for_loop(*loops_.front(), closed.get_future());
  }
  if (leaf_nodes_) leaf_nodes_->stop();
  for (auto& client : registry_.live()) client->close(close_reason::server_shutdown);
  // In-process connections close too: their subscriptions would otherwise
  // keep them (and what their caches hold) alive past the server.
  for (auto& client : registry_.live_local()) client->close(close_reason::server_shutdown);
  // Each loop runs the closes posted above before this barrier.
  for (auto& loop : loops_) {
    std::promise<void> done;
    asio::post(loop->context(), [&done] { done.set_value(); });
    wait_for_loop(*loop, done.get_future());
  }
  for (auto& loop : loops_) loop->stop();
  registry_.clear_live();
  acceptor_.reset();
  websocket_listener_.reset();
  signals_.reset();
  lame_duck_timer_.reset();
  log().notice("Server Exiting..");
  std::lock_guard lock(state_mutex_);
  stopped_ = true;
  state_changed_.notify_all();
}

void server::handle_signals() {
  signals_ = std::make_unique<asio::signal_set>(loops_.front()->context(), SIGINT, SIGTERM, SIGUSR2);
  signals_->add(SIGHUP);
  do_wait_signal();
}

void server::do_wait_signal() {
  signals_->async_wait([this](const error_code& ec, int signal_number) {
    if (ec) return;
    switch (signal_number) {
      case SIGINT:
      case SIGTERM:
        log().debug("Trapped \"", signal_number == SIGINT ? "interrupt" : "terminated", "\" signal");  // nats-server: debug too
        request_shutdown();
        return;
      case SIGUSR2:
        enter_lame_duck_mode();
        break;
      case SIGHUP:
        reload();
        break;
    }
    do_wait_signal();
  });
}

void server::reload() {
  if (options_.config_file.empty()) {
    log().error("Failed to reload server configuration: no configuration file");
    return;
  }
  try {
    conf::server_options fresh;
    conf::load_config_file(options_.config_file, fresh);
    // Only what can change safely at run time; the rest needs a restart.
    // Users and permissions are re-applied to live connections, as in
    // nats-server. (Accounts are fixed at start: a user moved to a new
    // account is closed and reconnects into it.)
    auto fresh_auth = auth::auth_config::load(
        fresh, auth::auth_flags{options_.username, options_.password, options_.authorization_token},
        tls_settings_.map, tls_settings_.enabled() ? std::optional(tls_settings_.timeout) : std::nullopt);
    for (const auto& name : fresh_auth->accounts()) {
      if (!accounts_.count(name)) throw std::runtime_error("new account \"" + name + "\" needs a restart");
    }
    if (reload_check_) reload_check_(fresh);
    std::shared_ptr<const auth::auth_config> fresh_websocket_auth;
    if (websocket_auth_) fresh_websocket_auth = fresh_auth->for_websocket(options_.websocket);
    log().set_debug(fresh.debug || cli_debug_);
    log().set_trace(fresh.trace || cli_trace_);
    log().set_logtime(fresh.logtime);
    {
      std::lock_guard lock(auth_mutex_);
      auth_ = fresh_auth;
      if (fresh_websocket_auth) websocket_auth_ = fresh_websocket_auth;
      config_load_time_ = std::chrono::system_clock::now();
    }
    auth_required_ = fresh_auth->auth_required() && fresh_auth->no_auth_user().empty();
    websocket_auth_required_ = auth_required_ || options_.websocket.auth_override();
    for (auto& client : registry_.live()) client->role().on_auth_reload(auth_settings(client->link().type()));
    log().notice("Reloaded server configuration");
  } catch (const std::exception& error) {
    log().error("Failed to reload server configuration: ", error.what());
  }
}

void server::enter_lame_duck_mode() {
  if (lame_duck_.exchange(true)) return;
  log().notice("Entering lame duck mode, stop accepting new clients");
  asio::post(loops_.front()->context(), [this] {
    error_code ec;
    if (acceptor_) acceptor_->close(ec);
    if (websocket_listener_) websocket_listener_->close();
    auto clients = registry_.live();
    for (auto& client : clients) client->role().on_lame_duck();
    // Wait the grace period, then close clients spread over the rest of
    // the lame duck duration, then shut down.
    auto grace = options_.lame_duck_grace_period;
    auto spread = options_.lame_duck_duration > grace ? options_.lame_duck_duration - grace
                                                      : std::chrono::milliseconds(0);
    lame_duck_timer_ = std::make_unique<asio::steady_timer>(loops_.front()->context());
    lame_duck_timer_->expires_after(grace);
    lame_duck_timer_->async_wait([this, clients = std::move(clients), spread](const error_code& ec) mutable {
      if (ec) return;
      log().notice("Closing existing clients");
      close_lame_duck_clients(std::move(clients), 0, spread);
    });
  });
}

void server::close_lame_duck_clients(std::vector<std::shared_ptr<connection>> clients, std::size_t next,
                                     std::chrono::milliseconds spread) {
  if (next >= clients.size()) {
    request_shutdown();
    return;
  }
  // Close in up to ~100 steps over the spread, as nats-server paces them.
  std::size_t per_step = std::max<std::size_t>(1, clients.size() / 100);
  std::size_t steps = (clients.size() + per_step - 1) / per_step;
  for (std::size_t i = next; i < clients.size() && i < next + per_step; ++i) {
    clients[i]->close(close_reason::lame_duck);
  }
  lame_duck_timer_->expires_after(spread / static_cast<int>(steps));
  lame_duck_timer_->async_wait([this, clients = std::move(clients), next, per_step, spread](const error_code& ec) mutable {
    if (ec) return;
    close_lame_duck_clients(std::move(clients), next + per_step, spread);
  });
}

}  // namespace courier::broker
