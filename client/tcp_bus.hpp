// The bus over TCP to any NATS server (Courier, nats-server): a durable
// client on top of nats_client. It keeps the subscriptions and re-sends them
// after every reconnect, reconnects with exponential backoff (with jitter)
// over the configured URLs until closed (in order, so that a list of a
// cluster's members fails over to the next; the members a server announces
// in its INFO connect_urls are added to the list, as stock clients do, so
// one member's URL is enough to fail over to the others), speaks TLS (tls:// URLs, a
// tls setting, or a server that requires it) and authenticates with
// user/password, a token or an nkey (seed or .creds file), buffers publishes while
// disconnected (bounded), keeps the connection alive with PINGs, and makes
// requests through one wildcard inbox subscription (_INBOX.<id>.*), with
// no-responders learned from the server's 503 status.
//
// Threads: one I/O thread runs the socket; one dispatch thread runs the
// subscription callbacks in arrival order. Request replies are completed on
// the I/O thread, so request() works from inside a callback.
#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "client/bus.hpp"
#include "client/nats_client.hpp"

namespace courier::mss {

/// TLS settings of a tcp_bus. TLS is used for tls:// URLs, for every URL
/// when `required`, and whenever a server's INFO says tls_required (as
/// stock clients do, then with these settings too).
struct tcp_bus_tls {
  bool required = false;  ///< TLS for nats:// URLs too; a server without TLS is refused
  std::string ca_file;    ///< PEM roots the server's certificate must chain to; empty: the system's
  std::string cert_file;  ///< client certificate chain (PEM), for servers with verify: true
  std::string key_file;   ///< its private key (PEM); both or neither
  bool insecure = false;  ///< do not check the server's certificate nor its name
};

/// Settings of a tcp_bus.
struct tcp_bus_options {
  std::string urls;                 ///< "nats://[user:pass@]host:port" or "tls://...", comma-separated for several
  std::string name = "courier-mss";  ///< CONNECT name, seen in the server's monitoring
  std::string user;                 ///< overrides credentials in the URLs when non-empty
  std::string password;
  std::string token;
  std::string nkey_seed_file;       ///< a user nkey seed ("SU..."): CONNECT signs the server's nonce
  std::string credentials_file;     ///< a .creds file (user JWT and seed), instead of nkey_seed_file
  tcp_bus_tls tls;
  std::chrono::milliseconds connect_timeout{2000};          ///< TCP connect + INFO + PONG
  std::chrono::milliseconds reconnect_initial_delay{50};    ///< before the 2nd attempt
  std::chrono::milliseconds reconnect_max_delay{2000};      ///< cap of the backoff
  std::chrono::milliseconds ping_interval{20000};           ///< keepalive PING period
  int max_pings_out = 2;                                    ///< unanswered PINGs before reconnecting
  std::size_t reconnect_buffer_bytes = 8 * 1024 * 1024;     ///< publishes kept while disconnected
  /// Do not add the servers a cluster member announces (INFO connect_urls)
  /// to the URLs tried on reconnect (nats.c's IgnoreDiscoveredServers).
  bool ignore_discovered_servers = false;
  /// Connection events (connected, disconnected, errors); none when empty.
  std::function<void(const std::string&)> log;
};

/// A bus over TCP; see the file comment.
class tcp_bus final : public bus {
 public:
  /// Starts connecting in the background. Throws bus_error for bad URLs,
  /// TLS files or credential files that do not load (see load_security).
  explicit tcp_bus(tcp_bus_options options);

  /// Loads what `options` names: the TLS context (CA file or the system's
  /// roots, client certificate and key) and the nkey credentials. Throws
  /// bus_error naming the setting and file at fault (a config check calls
  /// it too, so that it fails where start-up would).
  static nats_security load_security(const tcp_bus_options& options);
  ~tcp_bus() override;

  /// Waits until the first (or next) connection is ready. False on timeout.
  bool wait_connected(std::chrono::milliseconds timeout);
  /// Successful connections so far (1 after the first, +1 per reconnect).
  std::uint64_t connections() const { return connections_.load(); }

  void publish(std::string_view subject, std::string_view payload, std::string_view reply = {},
               std::string_view headers = {}) override;
  std::uint64_t subscribe(std::string_view subject, std::string_view queue, bus_handler handler) override;
  void unsubscribe(std::uint64_t sid) override;
  bus_request_result request(std::string_view subject, std::string_view payload, std::chrono::milliseconds timeout,
                             std::string_view headers = {}) override;
  bool flush(std::chrono::milliseconds timeout) override;
  std::int64_t max_payload() const override;
  bool connected() const override;
  void close() override;
  std::string describe() const override;

 private:
  struct subscription_state {
    std::string subject;
    std::string queue;
    bus_handler handler;
    std::atomic<bool> cancelled{false};
  };
  struct queued_message {
    std::shared_ptr<subscription_state> sub;
    bus_message message;
  };

  // I/O thread.
  void start_connection();
  void schedule_reconnect();
  std::string make_greeting();
  void on_ready(const nats_server_info& info);
  /// Adds the announced members (connect_urls) to endpoints_ and drops
  /// discovered ones no longer announced.
  void learn_servers(const nats_server_info& info);
  void on_message(std::string_view subject, std::string_view sid, std::string_view reply, std::string_view headers,
                  std::string_view payload);
  void on_pong();
  void on_closed(const std::string& reason);
  void do_flush_outbound();
  void on_ping_timer();
  void log(const std::string& text) const;

  // Any thread, lock held: queue bytes for the connection.
  void queue_locked(std::string_view bytes);
  void dispatch_loop();

  tcp_bus_options options_;
  nats_security security_;  // fixed at construction; every nats_client refers to it
  std::vector<nats_endpoint> endpoints_;
  std::size_t next_endpoint_ = 0;  // I/O thread
  nats_endpoint current_;          // I/O thread: the one last connected to
  unsigned failed_attempts_ = 0;   // I/O thread

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer ping_timer_;
  std::shared_ptr<nats_client> client_;  // I/O thread
  int pings_out_ = 0;                    // I/O thread

  mutable std::mutex mutex_;
  std::condition_variable connected_changed_;
  bool closed_ = false;        // lock: mutex_
  bool connected_ = false;     // lock: mutex_; the handshake finished and the socket is up
  bool greeted_ = false;       // lock: mutex_; the current connection got the SUB list
  bool flush_posted_ = false;  // lock: mutex_
  std::string outbound_;       // lock: mutex_; bytes for the socket, kept across a disconnect
  std::int64_t max_payload_ = 1024 * 1024;  // lock: mutex_; from INFO
  std::string server_text_;                 // lock: mutex_
  std::map<std::uint64_t, std::shared_ptr<subscription_state>> subs_;  // lock: mutex_
  std::uint64_t next_sid_ = 1;                                          // lock: mutex_
  std::deque<std::shared_ptr<std::promise<bool>>> pong_waiters_;        // lock: mutex_; null = keepalive
  std::string inbox_prefix_;   // "_INBOX.<random>." fixed at construction
  bool inbox_subscribed_ = false;  // lock: mutex_
  std::unordered_map<std::string, std::shared_ptr<std::promise<bus_request_result>>> requests_;  // lock: mutex_
  std::uint64_t next_request_ = 1;  // lock: mutex_
  std::atomic<std::uint64_t> connections_{0};

  std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<queued_message> queue_;  // lock: queue_mutex_
  bool stop_dispatch_ = false;        // lock: queue_mutex_

  std::thread io_thread_;
  std::thread dispatcher_;
};

}  // namespace courier::mss
