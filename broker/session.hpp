// A client connected over TCP: reads and parses its operations, applies them,
// and writes what is delivered to it. Owned by one event loop; every member
// without a lock note is touched only on that loop's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <picojson.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <openssl/ssl.h>

#include "auth/peer_certificate.hpp"
#include "auth/permissions.hpp"
#include "auth/users.hpp"
#include "broker/outbound_buffer.hpp"
#include "broker/spin_mutex.hpp"
#include "broker/subscriber.hpp"
#include "protocol/parser.hpp"

namespace courier::broker {

class server;
class event_loop;
struct account;

/// Why a connection closed (nats-server's ClosedState, the ones we produce).
enum class close_reason {
  client_closed,
  read_error,
  write_error,
  protocol_violation,
  parse_error,
  max_payload,
  max_control_line,
  slow_consumer_pending_bytes,
  slow_consumer_write_deadline,
  stale_connection,
  max_connections,
  authentication_timeout,
  authentication_violation,
  bad_client_protocol,
  server_shutdown,
  lame_duck,
  tls_handshake_error,
};

/// Text for logs ("Client Closed", "Slow Consumer (Pending Bytes)", ...).
const char* to_string(close_reason reason);

/// One TCP client.
class session final : public subscriber {
 public:
  using clock = std::chrono::steady_clock;

  session(server& owner, event_loop& loop, boost::asio::ip::tcp::socket socket, std::uint64_t id);
  ~session() override;

  /// Sends INFO and starts reading. Loop thread.
  void start();
  /// Closes the connection after writing what is queued. Any thread.
  void close(close_reason reason);
  /// Over max_connections: nats-server's -ERR, then close. Loop thread.
  void reject_max_connections();
  /// Config reload: re-authenticates with the stored CONNECT credentials
  /// and applies the new permissions, as nats-server does. Any thread.
  void apply_auth_reload(std::shared_ptr<const auth::auth_config> config);
  /// Lame duck mode: the INFO with "ldm":true, to protocol-1 clients. Any thread.
  void send_lame_duck_info();
  /// Timers: pings, write deadline, auth timeout. Loop thread.
  void tick(clock::time_point now);

  std::uint64_t id() const { return id_; }
  event_loop& loop() { return loop_; }

  // subscriber
  void deliver(const subscription& sub, const message_view& message, flush_batch& batch) override;
  void flush_deliveries() override;
  void subscription_done(const std::shared_ptr<subscription>& sub) override;
  bool echo() const override { return echo_; }
  void notify_when_drained(std::function<void()> resume) override;
  std::chrono::milliseconds stall_timeout() const override;

  // client_parser handler (loop thread)
  bool on_connect(std::string_view json);
  bool on_pub(std::string_view subject, std::string_view reply, std::string_view payload);
  bool on_hpub(std::string_view subject, std::string_view reply, std::string_view headers,
               std::string_view payload);
  bool on_sub(std::string_view subject, std::string_view queue, std::string_view sid);
  bool on_unsub(std::string_view sid, std::optional<std::uint64_t> max);
  bool on_ping();
  bool on_pong();
  void on_error(protocol::parse_error error, std::string_view snippet);

 private:
  void do_read();
  void on_readable(const boost::system::error_code& ec);
  void write_pending();
  /// Pauses reading this client (a receiver it published to is backed up)
  /// until that receiver drains or a second passes.
  void stall_reading(const std::shared_ptr<subscriber>& receiver);
  void resume_reading(std::uint64_t stall_id);
  std::size_t transport_read(char* buffer, std::size_t size, boost::system::error_code& ec);
  std::size_t transport_write(const char* data, std::size_t size, boost::system::error_code& ec);
  /// Maps an SSL_read/SSL_write result to would_block, eof or `failure`.
  boost::system::error_code tls_error(int result, boost::system::error_code failure);
  /// The first byte waiting on the socket (not consumed), or -1 after
  /// re-arming the read wait or closing.
  int peek_first_byte();
  void begin_tls_handshake();
  /// Sends INFO in clear, then reads plain text or waits for the TLS upgrade.
  void send_info_and_continue();
  void continue_tls_handshake();
  void on_writable(const boost::system::error_code& ec);
  void do_close(close_reason reason);
  bool publish(std::string_view subject, std::string_view reply, std::string_view headers,
               std::string_view payload);
  /// Queues bytes from this session's own loop (replies to its own ops); they
  /// go out with the read batch's flush.
  void queue_own(std::string_view bytes);
  /// -ERR '<text>' (connection stays open).
  void send_error(std::string_view text);
  /// -ERR '<text>' then close.
  void fail(std::string_view text, close_reason reason);
  void ok() {
    if (verbose_) queue_own("+OK\r\n");
  }
  std::string log_prefix() const;

  server& server_;
  event_loop& loop_;
  boost::asio::ip::tcp::socket socket_;
  const std::uint64_t id_;
  std::string remote_ip_;
  std::uint16_t remote_port_ = 0;
  protocol::client_parser<session> parser_;

  // CONNECT options; nats-server's defaults before CONNECT: verbose, pedantic, echo on.
  bool connect_received_ = false;
  bool verbose_ = true;
  bool pedantic_ = true;
  std::atomic<bool> echo_{true};
  bool headers_ = false;  // read by publishers only through deliver(), under out_mutex_
  bool no_responders_ = false;
  int protocol_ = 0;
  std::string name_;

  std::unordered_map<std::string, std::shared_ptr<subscription>> subscriptions_;  // by sid

  // TLS, on the same non-blocking socket (OpenSSL directly, so reads and
  // writes keep the wait-then-read shape of plain connections).
  enum class tls_state { none, waiting_hello_first, waiting_first_byte, handshaking, established };
  tls_state tls_state_ = tls_state::none;
  SSL* ssl_ = nullptr;
  clock::time_point tls_deadline_{};
  clock::time_point hello_deadline_{};  // handshake_first with a fallback duration
  bool info_sent_ = false;
  std::optional<auth::peer_certificate> peer_certificate_;

  // Authentication and permissions.
  account* account_;                // the subject space this client lives in
  bool awaiting_auth_ = false;      // auth required and CONNECT not yet accepted
  clock::time_point auth_deadline_{};
  std::string nonce_;               // sent in INFO when nkey users exist
  std::string auth_label_;          // who this is, for logs (never a secret)
  /// Replaced on CONNECT and on config reload while publishers on other
  /// loops deliver to us, hence atomic; has_permissions_ lets unrestricted
  /// clients skip even the atomic load on the delivery path.
  std::atomic<std::shared_ptr<auth::permission_cache>> permissions_;
  std::atomic<bool> has_permissions_{false};
  auth::auth_result auth_result_;
  /// The CONNECT credentials, kept to re-authenticate on a config reload.
  struct stored_credentials {
    std::string user, pass, auth_token, nkey, sig;
  } credentials_;
  bool authenticate(const picojson::object& connect);
  void set_permissions(std::shared_ptr<const auth::permissions> perms);
  auth::client_credentials credentials_view() const;

  // Outbound. pending_ is appended to by publishers on any loop.
  mutable spin_mutex out_mutex_;    // held only to append or swap, never across I/O
  outbound_buffer pending_;        // lock: out_mutex_
  /// Bytes handed to writing_ and not yet written. pending_.size() + unsent_
  /// is what nats-server calls pending bytes: it decides slow consumers and
  /// producer stalls.
  std::size_t unsent_ = 0;         // lock: out_mutex_
  bool flush_requested_ = false;   // lock: out_mutex_; a flush is registered or running
  bool closing_ = false;           // lock: out_mutex_; no more deliveries
  std::vector<std::function<void()>> drain_waiters_;  // lock: out_mutex_; stalled producers
  // Writing: on the loop, or (plain TCP) directly on a publisher's thread at
  // the end of its batch, which saves waking this loop for every delivery.
  // Lock order: write_mutex_, then out_mutex_.
  enum class write_result { done, wait_writable, failed };
  /// Moves pending_ to writing_ and writes what the socket takes; write_mutex_ held.
  write_result write_locked();
  /// Writes more of writing_; write_mutex_ held.
  write_result write_some_locked();
  /// Acts on a write result on the loop thread (arms the wait, or closes).
  void after_write(write_result result);
  void wait_writable();
  std::mutex write_mutex_;
  outbound_buffer writing_;        // lock: write_mutex_; the buffer being written
  std::size_t written_ = 0;        // lock: write_mutex_; bytes of writing_ already written
  bool write_in_flight_ = false;   // lock: write_mutex_; waiting for writability
  bool socket_closed_ = false;     // lock: write_mutex_; do_close closed the socket
  bool wrote_since_tick_ = false;  // lock: write_mutex_; buffers are freed when idle
  clock::time_point write_started_{};  // lock: write_mutex_
  /// Publishers may write directly (plain TCP, set once CONNECT is accepted).
  std::atomic<bool> direct_writes_{false};
  const int fd_;                   // the socket's descriptor, for direct writes
  bool closed_ = false;            // loop thread: do_close ran
  bool reading_ = false;
  std::uint64_t stall_id_ = 0;     // loop thread: which stall a resume belongs to
  bool stalled_ = false;           // loop thread
  /// Bytes read but not parsed yet: a receiver asked this producer to stall
  /// in the middle of a read, and the parser stopped after a message.
  /// Parsed first when reading resumes. Loop thread.
  std::string unparsed_;
  std::size_t parsed_since_stall_check_ = 0;  // loop thread; see publish()
  std::unique_ptr<boost::asio::steady_timer> stall_timer_;  // made on first stall

  // Pings.
  clock::time_point next_ping_{};
  clock::time_point last_activity_{};
  int pings_out_ = 0;
  clock::time_point created_{};
};

}  // namespace courier::broker
