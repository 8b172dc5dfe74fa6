// TLS on the connection's non-blocking socket, plus the first-byte sniffing
// nats-server does: with allow_non_tls a client that does not start a
// handshake after the clear INFO stays in plain text, and handshake_first
// with a fallback duration sends the INFO in clear to a client that has not
// sent a ClientHello by then.
//
// OpenSSL is driven by hand (SSL_accept/SSL_read/SSL_write on the
// descriptor) rather than through asio::ssl::stream: the stream's
// synchronous operations on a non-blocking socket can drop output they have
// already encrypted when the socket takes only part of it, and its
// asynchronous ones would replace the readiness style (wait, then read or
// write without blocking) that plain connections use and that the
// connection's write path is built around.
#pragma once

#include <optional>
#include <string>

#include <openssl/ssl.h>

#include "auth/tls_config.hpp"
#include "broker/transport/transport.hpp"

namespace courier::broker {

/// Settings a TLS transport opens with (fixed at server start).
struct tls_transport_settings {
  SSL_CTX* context = nullptr;
  /// Handshake before the INFO (nats-server handshake_first).
  bool handshake_first = false;
  /// With handshake_first: how long to wait for a ClientHello before sending
  /// the INFO in clear after all (2.10's duration form).
  std::optional<std::chrono::milliseconds> handshake_first_fallback;
  /// Clients may stay in plain text after the clear INFO.
  bool allow_non_tls = false;
  /// Time allowed for the handshake (tls timeout).
  std::chrono::milliseconds timeout{2000};
};

/// Maps a failed SSL_read/SSL_write/SSL_accept `result` on `ssl` to
/// would_block (wants the socket), eof (the peer's close_notify) or
/// `failure` (clearing OpenSSL's error queue).
boost::system::error_code ssl_result_error(SSL* ssl, int result, boost::system::error_code failure);

/// The client side of an outgoing connection (a leafnode remote, as
/// nats-server 2.9 makes it): the server's INFO line is read in clear, then
/// the handshake is made as the client; read_some gives the INFO line first.
struct tls_client_side {
  std::string host;     ///< for SNI and the certificate check
  bool verify = true;   ///< check the server's certificate and name
};

/// A connection on a server with TLS configured.
class tls_transport final : public transport {
 public:
  tls_transport(boost::asio::ip::tcp::socket socket, const tls_transport_settings& settings);
  /// An outgoing connection; `settings.context` is a client context.
  tls_transport(boost::asio::ip::tcp::socket socket, const tls_transport_settings& settings, tls_client_side client);
  ~tls_transport() override;

  open_step advance_open(const error_code& wait_error) override;
  std::optional<open_step> check_open_deadline(clock::time_point now) override;
  std::size_t read_some(char* buffer, std::size_t size, error_code& ec) override;
  std::size_t write_some(const char* data, std::size_t size, error_code& ec) override;
  /// Only a client that stayed in plain text: one SSL object is never
  /// shared between threads.
  bool thread_free_writes() const override { return ssl_ == nullptr; }
  std::size_t write_some_gathered(const iovec* pieces, std::size_t count, error_code& ec) override {
    if (ssl_ != nullptr) return transport::write_some_gathered(pieces, count, ec);
    return write_plain_gathered(pieces, count, ec);
  }
  bool short_read_drains() const override { return ssl_ == nullptr; }
  tls_description describe_tls() const override;
  bool can_write_at_close() const override { return state_ != state::handshaking; }
  const auth::peer_certificate* peer_certificate() const override {
    return peer_certificate_ ? &*peer_certificate_ : nullptr;
  }

 private:
  enum class state {
    start,                ///< nothing done yet
    reading_info,         ///< client side: reading the server's INFO line in clear
    waiting_hello_first,  ///< handshake_first with fallback: waiting for the first byte
    greeted,              ///< the INFO went out in clear; TLS (or plain text) follows
    waiting_first_byte,   ///< allow_non_tls: a 0x16 starts TLS, anything else is plain
    handshaking,
    established,
    plain,                ///< allow_non_tls client that did not upgrade
  };
  /// Outcome of peeking at the first byte: the byte, or a step to return.
  struct peeked {
    int byte = -1;
    open_step step;
  };
  peeked peek_first_byte();
  /// One step of the opening: a step for the connection, or nothing when
  /// the state changed and the opening goes on.
  std::optional<open_step> advance_once();
  std::optional<open_step> open_start();
  /// Asks for the greeting (the INFO) once.
  std::optional<open_step> greet();
  /// Waits for the first byte; a ClientHello starts the handshake, anything
  /// else moves to `otherwise` (greeted: INFO in clear; plain: read on).
  std::optional<open_step> sniff_first_byte(state otherwise);
  std::optional<open_step> start_handshake();
  /// Client side: reads until the INFO line is in, then starts the handshake.
  std::optional<open_step> read_info();
  /// Creates the SSL object; false (logged) on failure.
  bool begin_handshake();
  /// One handshake step; a step to return, or nothing when it completed.
  std::optional<open_step> continue_handshake();
  /// Maps an SSL_read/SSL_write result to would_block, eof or `failure`.
  error_code tls_error(int result, error_code failure);

  const tls_transport_settings settings_;
  const std::optional<tls_client_side> client_;
  std::string info_line_;                    // loop thread: client side, given out by read_some first
  state state_ = state::start;               // loop thread
  bool greeted_ = false;                     // loop thread: the greeting was asked for
  clock::time_point handshake_deadline_{};   // loop thread
  clock::time_point hello_deadline_{};       // loop thread
  /// Set once on the loop before CONNECT is parsed; read by direct writers
  /// only after the connection enables them (which orders the two).
  SSL* ssl_ = nullptr;
  std::optional<auth::peer_certificate> peer_certificate_;
};

}  // namespace courier::broker
