// A connection's byte pipe: what a connection reads from and writes to. It
// knows bytes, a socket and (for TLS) a handshake, never NATS.
//
// Readiness style: the connection waits on the socket (async_wait), then
// reads or writes without blocking until the transport says would_block.
// Plain TCP lets a publisher's thread write directly, which saves waking the
// receiver's loop for every delivery (measured, see bench/RESULTS.md); the
// interface keeps that possible (thread_free_writes()).
//
// Opening is a small synchronous state machine the connection drives
// (advance_open): the transport says "send your greeting now", "wait until
// readable/writable, then call me again", "ready" or "failed". The
// connection owns every asynchronous wait (and so the lifetime of the work
// in flight); the transport never holds a handler. A WebSocket transport
// would fit the same shape: its HTTP upgrade is an opening, its frames are
// read_some/write_some.
//
// Thread rules: everything on the owning connection's loop thread, except
// write_some() when thread_free_writes() is true, which any thread may call
// while holding the connection's write lock (one writer at a time).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include <sys/uio.h>

#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "auth/peer_certificate.hpp"
#include "broker/close_reason.hpp"
#include "broker/connection_info.hpp"

namespace courier::broker {

/// What the connection does next while its transport opens.
struct open_step {
  enum class action {
    send_greeting,  ///< queue and flush the greeting (INFO) now, then call advance_open again
    wait_readable,  ///< wait until the socket is readable, then call advance_open
    wait_writable,  ///< wait until the socket is writable, then call advance_open
    ready,          ///< opened: start the read loop
    failed,         ///< close with `reason`
  };
  action what = action::ready;
  close_reason reason = close_reason::read_error;  ///< when failed
};

/// Base of every transport: owns the TCP socket.
class transport {
 public:
  using clock = std::chrono::steady_clock;
  using error_code = boost::system::error_code;
  using wait_type = boost::asio::ip::tcp::socket::wait_type;

  /// Takes the accepted socket and makes it non-blocking with TCP_NODELAY.
  explicit transport(boost::asio::ip::tcp::socket socket);
  virtual ~transport() = default;
  transport(const transport&) = delete;
  transport& operator=(const transport&) = delete;

  /// Advances the opening. `wait_error` is the outcome of the wait the
  /// previous step asked for (empty on the first call). Loop thread.
  virtual open_step advance_open(const error_code& wait_error) = 0;
  /// Checks the opening's deadlines (TLS timeout, handshake_first
  /// fallback). A returned step is acted on as if advance_open returned it;
  /// the connection cancels its pending wait first. Loop thread.
  virtual std::optional<open_step> check_open_deadline(clock::time_point now) = 0;

  /// Reads what is available without blocking; would_block when nothing
  /// is, eof when the peer closed. Loop thread.
  virtual std::size_t read_some(char* buffer, std::size_t size, error_code& ec) = 0;
  /// Writes what the socket takes without blocking; would_block when it
  /// takes nothing. Loop thread, or see thread_free_writes().
  virtual std::size_t write_some(const char* data, std::size_t size, error_code& ec) = 0;
  /// write_some over several pieces, in order (one gathering write). Only
  /// transports with thread_free_writes() have it; the others say
  /// operation_not_supported.
  virtual std::size_t write_some_gathered(const iovec* pieces, std::size_t count, error_code& ec) {
    (void)pieces;
    (void)count;
    ec = boost::asio::error::operation_not_supported;
    return 0;
  }
  /// True when write_some may be called from any thread (under the
  /// connection's write lock): plain bytes straight to the descriptor.
  /// Such transports also have write_some_gathered().
  virtual bool thread_free_writes() const = 0;
  /// True when a read shorter than asked means the kernel buffer is empty
  /// (plain TCP; not TLS, whose records do not line up with reads).
  virtual bool short_read_drains() const = 0;
  /// False while a handshake is under way: bytes queued at close are then dropped.
  virtual bool can_write_at_close() const = 0;
  /// Asks the kernel to report the socket readable only once `bytes` wait
  /// in it (SO_RCVLOWAT; 1, the default, reports every byte). False where
  /// the transport does not (its reads are not the socket's bytes one to
  /// one). Loop thread.
  virtual bool set_read_low_water(int bytes) {
    (void)bytes;
    return false;
  }
  /// The verified TLS peer certificate, if any.
  virtual const auth::peer_certificate* peer_certificate() const { return nullptr; }
  /// Once open over TLS: the protocol version as nats-server shows it
  /// ("1.3") and the suite's standard name ("TLS_AES_128_GCM_SHA256").
  /// Empty in clear text. Loop thread.
  struct tls_description {
    std::string version;
    std::string cipher_suite;
  };
  virtual tls_description describe_tls() const { return {}; }

  /// How the client reached us (/connz "type", which authorization applies).
  virtual client_type type() const { return client_type::nats; }
  /// The prefix of this connection's log lines, as nats-server writes it:
  /// "ip:port - cid:N - ".
  virtual std::string log_prefix_for(std::uint64_t id) const;
  /// The connection is closing for `reason`, after its last bytes: say
  /// goodbye if the protocol has a way to (a WebSocket close frame). Best
  /// effort, without waiting. Loop thread, under the connection's write
  /// lock, with no write in flight.
  virtual void write_goodbye(close_reason reason) { (void)reason; }

  /// Starts waiting for readiness; `handler(error_code)` runs on the loop.
  template <class Handler>
  void async_wait(wait_type what, Handler&& handler) {
    socket_.async_wait(what, std::forward<Handler>(handler));
  }
  /// Cancels pending waits (their handlers see operation_aborted). Loop thread.
  void cancel_waits();
  /// Shuts the socket down and closes it. Loop thread, under the
  /// connection's write lock (no direct writer is using the descriptor).
  void close();

  const std::string& remote_ip() const { return remote_ip_; }
  std::uint16_t remote_port() const { return remote_port_; }
  /// Prefix of this connection's log lines ("ip:port - cid:N - ").
  void set_log_prefix(std::string prefix) { log_prefix_ = std::move(prefix); }

 protected:
  /// read_some/write_some on the bare socket, for clear-text phases.
  std::size_t read_plain(char* buffer, std::size_t size, error_code& ec);
  std::size_t write_plain(const char* data, std::size_t size, error_code& ec);
  std::size_t write_plain_gathered(const iovec* pieces, std::size_t count, error_code& ec);
  bool set_read_low_water_plain(int bytes);

  boost::asio::ip::tcp::socket socket_;
  /// The socket's descriptor: direct writes use send() on it rather than
  /// the socket object, which the loop uses for its waits at the same time.
  const int fd_;
  std::string log_prefix_;

 private:
  std::string remote_ip_;
  std::uint16_t remote_port_ = 0;
};

}  // namespace courier::broker
