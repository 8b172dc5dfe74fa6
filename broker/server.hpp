// The broker: event loops, the listener, the router, the registry of
// connections, signals. Embeddable: construct with options, start(), and
// connect in-process clients with connect(); or let main() run it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <map>

#include "auth/tls_config.hpp"
#include "auth/users.hpp"
#include "broker/close_reason.hpp"
#include "broker/connection_info.hpp"
#include "broker/connection_registry.hpp"
#include "broker/metrics_sources.hpp"
#include "broker/router/sublist.hpp"
#include "broker/subscriber.hpp"
#include "broker/transport/tls_transport.hpp"
#include "broker/websocket/listener.hpp"
#include "conf/options.hpp"

namespace courier::broker {

class event_loop;
class connection;
class leaf_nodes;
class local_client;
struct connection_options;

/// The nats-server release whose client-visible behaviour Courier matches;
/// sent as INFO "version" because clients gate features on it.
inline constexpr const char* compatible_nats_version = "2.9.10";
/// Courier's own version, sent as INFO "courier_version".
inline constexpr const char* courier_version = "0.1.0";

/// Counters a client could see in nats-server's monitoring.
struct server_stats {
  std::atomic<std::uint64_t> slow_consumers{0};
  std::atomic<std::uint64_t> total_connections{0};
};

/// An account: its own subject space. A message published in one account is
/// never delivered in another.
struct account {
  explicit account(std::string account_name) : name(std::move(account_name)) {}
  const std::string name;
  sublist router;
};

/// A client connection's arrival or departure, for the system account's
/// advisories (monitor/system_service): nats-server's client_connect and
/// client_disconnect events.
struct connection_event {
  enum class kind { connected, disconnected };
  kind what = kind::connected;
  /// A snapshot of the connection; for `disconnected`, its final one (with
  /// reason and stop time).
  connection_info info;
};

/// Told of every socket client that passed authentication (CONNECT
/// accepted) and of its close. Runs on the connection's loop: it must be
/// quick and must not block (copy and hand off).
using connection_observer = std::function<void(const connection_event&)>;

/// A Courier broker. Thread-safe public methods.
class server {
 public:
  explicit server(conf::server_options options);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// When start() begins taking clients off the listen socket.
  enum class accepting { now, later };
  /// Starts the event loops and, unless options.port < 0, the listener.
  /// Throws std::runtime_error when the address cannot be bound. With
  /// accepting::later the port is bound and listening (clients' connects
  /// complete and wait in the backlog, with no INFO yet) until
  /// accept_clients(): the executable starts its embedded message services
  /// in between, so no client can request an action before its handler has
  /// subscribed. The websocket and leafnode ports are bound too, and serve
  /// nothing (nor do leafnode remotes connect) until then. The "Listening
  /// for ..." lines and "Server is ready" are logged when accepting begins,
  /// in nats-server's order (after the executable's "Starting http monitor").
  void start(accepting when = accepting::now);
  /// Starts like start(), with one event loop (options.threads must be 1)
  /// and no thread for it: nothing in the server runs until the caller
  /// calls poll(), from one thread. For a program that runs the broker
  /// inside its own loop, and for tests that must decide the order of
  /// every step (the connection fuzzer). shutdown() runs the loop itself.
  void start_driven(accepting when = accepting::now);
  /// After start_driven(): runs what is ready, or first waits up to `wait`
  /// for something to be; returns how many handlers ran. Not from inside a
  /// callback of the server.
  std::size_t poll(std::chrono::microseconds wait = std::chrono::microseconds(0));
  /// Begins accepting after start(accepting::later); does nothing otherwise
  /// or when called again.
  void accept_clients();
  /// Flushes and closes every connection, stops the loops. Idempotent.
  void shutdown();
  /// Blocks until a shutdown is requested (signal, lame duck end,
  /// request_shutdown()) or shutdown() has run. The caller then calls shutdown().
  void wait();
  /// Wakes wait(); safe from any thread, including the server's own loops.
  void request_shutdown();
  /// Installs SIGINT/SIGTERM (shutdown), SIGUSR2 (lame duck), SIGHUP (reload).
  void handle_signals();
  /// Re-reads the config file and applies what can change at run time.
  /// A file that does not build (bad users, a reload check that throws) is
  /// refused as a whole: the error is logged and nothing changes.
  void reload();
  /// Sets a check that reload() runs on the freshly read options before it
  /// applies anything; throwing refuses the file. The executable passes
  /// the check `courier -t` runs on the parts it adds to the broker
  /// (monitoring, message services). Call before handle_signals().
  void set_reload_check(std::function<void(const conf::server_options&)> check) {
    reload_check_ = std::move(check);
  }
  /// Enters lame duck mode: stop accepting, tell clients (INFO ldm), close
  /// them over lame_duck_duration, then shut down.
  void enter_lame_duck_mode();

  /// The port actually listened on (after start()), or 0.
  std::uint16_t port() const { return port_; }
  const std::string& id() const { return server_id_; }
  const std::string& name() const { return server_name_; }
  const conf::server_options& options() const { return options_; }
  server_stats& stats() { return stats_; }
  /// The global account's router ($G: clients when no accounts are configured).
  sublist& router() { return global_account_->router; }
  /// The account named `name`, or the global one if there is none by that name.
  account& find_account(std::string_view name);
  /// TLS: configured by a tls block or --tls flags.
  bool tls_enabled() const { return tls_context_ != nullptr; }
  const auth::tls_settings& tls_settings() const { return tls_settings_; }
  SSL_CTX* tls_context() const { return tls_context_ ? tls_context_->native_handle() : nullptr; }
  /// The authentication settings in force (swapped on reload).
  std::shared_ptr<const auth::auth_config> auth_settings() const;
  /// The settings clients of `type` authenticate with: WebSocket clients
  /// get the websocket block's override, if any.
  std::shared_ptr<const auth::auth_config> auth_settings(client_type type) const;
  /// The WebSocket listener's port (after start()), or 0 when it is off.
  std::uint16_t websocket_port() const { return websocket_listener_ ? websocket_listener_->port() : 0; }
  /// -D/-V given on the command line survive a reload that turns them off in the file.
  void set_command_line_logging(bool debug, bool trace) {
    cli_debug_ = debug;
    cli_trace_ = trace;
  }

  /// A new in-process client connection (no socket, no text protocol).
  /// shutdown() closes it; close or drain it earlier when done with it.
  /// With options.user set, it authenticates as that configured user and
  /// is held to the user's account and permissions; throws
  /// std::invalid_argument("Authorization Violation") when that fails.
  std::shared_ptr<local_client> connect(const connection_options& options);
  std::shared_ptr<local_client> connect();

  /// Every connection (socket and in-process), live and recently closed (for monitoring).
  const connection_registry& connections() const { return registry_; }
  /// Every account, by name (fixed after construction): the global one,
  /// the configured ones and the system account.
  std::vector<const account*> accounts() const;
  /// The system account's name (`system_account`, default "$SYS").
  const std::string& system_account_name() const { return options_.system_account; }
  /// When the server was created, and when its configuration was last (re)loaded.
  std::chrono::system_clock::time_point start_time() const { return start_time_; }
  std::chrono::system_clock::time_point config_load_time() const;
  /// Number of event loops (worker threads).
  std::size_t loop_count() const { return loops_.size(); }
  /// The TLS context of the tls block (for the HTTPS monitoring port); null without TLS.
  std::shared_ptr<boost::asio::ssl::context> tls_asio_context() const { return tls_context_; }
  /// Metrics other parts (message services, the application) add to /metrics.
  broker::metrics_sources& metrics_sources() { return metrics_sources_; }

  // ---- used by connections and in-process clients ----

  /// The INFO line for a new client (with its id and address), CRLF included.
  /// `nonce`: the per-connection nonce when nkey users are configured.
  std::string info_line(std::uint64_t client_id, const std::string& client_ip, bool lame_duck,
                        std::string_view nonce = {}, client_type type = client_type::nats) const;
  /// Unregisters a connection that just closed (called from its loop).
  void connection_closed(connection& client, close_reason reason);
  /// Unregisters an in-process client that is closing (any thread).
  void local_client_closed(const local_client& client, close_reason reason);
  bool lame_duck() const { return lame_duck_.load(); }
  /// A client authenticated and its CONNECT was accepted (from its loop,
  /// once per connection).
  void connection_connected(connection& client);

  // ---- used by leaf nodes (broker/leaf/) ----

  /// The leafnode side; null without a `leafnodes` block.
  leaf_nodes* leafs() { return leaf_nodes_.get(); }
  const leaf_nodes* leafs() const { return leaf_nodes_.get(); }
  /// A fresh cid for a connection this server makes (cids are shared by
  /// every kind of connection, as nats-server's are).
  std::uint64_t allocate_connection_id() { return ++next_client_id_; }
  /// The loop a new connection goes to (round robin, as accepted ones).
  event_loop& loop_for_new_connection() { return next_loop(); }
  /// The loop the listeners run on.
  event_loop& first_loop() { return *loops_.front(); }
  /// Ticks (timers, pings) a connection this server made, like accepted
  /// ones; it is forgotten when it closes. Its loop thread.
  void track_connection(const std::shared_ptr<connection>& link);

  /// Installs (or, with an empty function, removes) the one observer of
  /// client connects and disconnects. Any thread. Connects and closes are
  /// the only paths that read it (a pointer copied under a mutex), never the
  /// per-message path. A call already running when it is replaced may
  /// still finish with the old observer.
  void set_connection_observer(connection_observer observer);

 private:
  /// Tells the observer, if any.
  void notify(connection_event event);
  void do_accept();
  void do_wait_signal();
  void close_lame_duck_clients(std::vector<std::shared_ptr<connection>> clients, std::size_t next,
                               std::chrono::milliseconds spread);
  /// A connection for an accepted socket, with its transport and role.
  std::shared_ptr<connection> make_client(boost::asio::ip::tcp::socket socket, event_loop& loop);
  /// Registers a new connection and starts it on `loop` (or refuses it
  /// over max_connections). Any thread.
  void admit(std::shared_ptr<connection> client, event_loop& loop);
  /// Starts the WebSocket listener when the websocket block asks for it.
  void start_websocket();
  /// A WebSocket client upgraded (on `loop`).
  void on_websocket_upgraded(boost::asio::ip::tcp::socket socket, SSL* tls, event_loop& loop,
                             const websocket::upgrade_result& result);
  void tick(event_loop& loop);
  void start_loops(accepting when, bool own_threads);
  /// Waits for `done`, work posted to `loop`; runs a driven loop meanwhile.
  static void wait_for_loop(event_loop& loop, std::future<void> done);
  event_loop& next_loop();

  conf::server_options options_;
  std::string server_id_;
  std::string server_name_;
  std::vector<std::unique_ptr<event_loop>> loops_;
  std::atomic<std::size_t> next_loop_{0};
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::unique_ptr<boost::asio::signal_set> signals_;
  std::uint16_t port_ = 0;
  std::map<std::string, std::unique_ptr<account>, std::less<>> accounts_;  // fixed after construction
  account* global_account_ = nullptr;
  mutable std::mutex auth_mutex_;
  std::shared_ptr<const auth::auth_config> auth_;  // lock: auth_mutex_
  std::atomic<bool> auth_required_{false};         // INFO auth_required
  std::shared_ptr<const auth::auth_config> websocket_auth_;  // lock: auth_mutex_; null without websocket
  std::atomic<bool> websocket_auth_required_{false};         // INFO auth_required for WebSocket clients
  std::unique_ptr<websocket::listener> websocket_listener_;  // null without websocket
  std::shared_ptr<boost::asio::ssl::context> websocket_tls_;  // wss://: the websocket block's tls; else null
  std::chrono::milliseconds websocket_tls_timeout_{2000};
  std::string tls_info_json_;                      // INFO tls_* fields, fixed at start
  auth::tls_settings tls_settings_;
  tls_transport_settings tls_transport_settings_;  // fixed at construction
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  server_stats stats_;
  std::atomic<std::uint64_t> next_client_id_{0};
  /// A plain mutex rather than std::atomic<std::shared_ptr>: libstdc++ 12's
  /// lock-bit implementation of the latter reads as a race to
  /// ThreadSanitizer. Held only to copy the pointer, on connects and closes.
  mutable std::mutex observer_mutex_;
  std::shared_ptr<const connection_observer> observer_;  // lock: observer_mutex_; null: none

  connection_registry registry_;  // socket connections and in-process clients (closed at shutdown)
  broker::metrics_sources metrics_sources_;  // outlives every handle (their owners stop first)
  /// Per loop (by index): its connections, touched only on that loop's thread.
  std::vector<std::unordered_map<std::uint64_t, connection*>> loop_connections_;
  std::unique_ptr<boost::asio::steady_timer> lame_duck_timer_;  // loop 0 only

  /// Declared after the accounts and loops it refers to; stopped by shutdown().
  std::unique_ptr<leaf_nodes> leaf_nodes_;

  const std::chrono::system_clock::time_point start_time_ = std::chrono::system_clock::now();
  std::chrono::system_clock::time_point config_load_time_ = start_time_;  // lock: auth_mutex_

  std::mutex state_mutex_;
  std::condition_variable state_changed_;
  bool started_ = false;   // lock: state_mutex_
  bool stopped_ = false;   // lock: state_mutex_
  bool shutdown_requested_ = false;  // lock: state_mutex_
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> lame_duck_{false};
  std::atomic<bool> accepting_{false};  // accept_clients() has run
  bool cli_debug_ = false;
  bool cli_trace_ = false;
  /// set_reload_check(); runs on the first loop's thread, in reload().
  std::function<void(const conf::server_options&)> reload_check_;
};

}  // namespace courier::broker
