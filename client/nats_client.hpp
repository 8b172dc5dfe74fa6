// One TCP connection to a NATS server, as a client: resolve and connect,
// read INFO, upgrade to TLS when asked to or when INFO says tls_required
// (nats-server sends INFO in clear, then the client starts the handshake),
// send CONNECT (with headers and no_responders, and the credentials: user
// and password, token, or an nkey signature of INFO's nonce) plus whatever
// the owner wants re-established (its SUBs), PING, and count the connection
// as ready on the PONG. Then it reads MSG/HMSG/PING/PONG/-ERR with
// protocol::server_parser and writes what the owner hands it, one write in
// flight, later writes gathered; over TLS the same, through the stream.
//
// It does not reconnect and keeps no subscriptions: tcp_bus owns those and
// makes a new nats_client for each connection attempt.
//
// Threading: every method and every callback runs on the io_context the
// client was made with (call from its thread, or post there). Callbacks are
// never called from inside start()/close() directly, so the owner may hold
// no lock assumptions about re-entry.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/nats_credentials.hpp"
#include "protocol/parser.hpp"

namespace courier::mss {

/// The INFO fields a client needs.
struct nats_server_info {
  std::string server_id;
  std::string version;
  std::int64_t max_payload = 1024 * 1024;  ///< nats-server's default when INFO lacks it
  bool headers = false;                    ///< the server supports HPUB/HMSG
  bool auth_required = false;
  bool tls_required = false;   ///< the client must start TLS after this INFO
  bool tls_available = false;  ///< TLS offered beside plain text (allow_non_tls)
  std::string nonce;           ///< what an nkey client signs (nkey or JWT users configured)
  /// The client URLs of the server's cluster ("host:port"), this server's
  /// own included, when it is part of one; later INFOs bring changes.
  std::vector<std::string> connect_urls;
};

/// Reads an INFO JSON object. False when it is not a JSON object.
bool parse_server_info(std::string_view json, nats_server_info& out);

/// Where to connect and as whom.
struct nats_endpoint {
  std::string host;
  std::uint16_t port = 4222;
  std::string user;      ///< from "nats://user:pass@host"
  std::string password;
  std::string token;     ///< from "nats://token@host"
  bool tls = false;      ///< a tls:// URL: TLS is required
  /// Learned from a server's connect_urls, not configured: dropped again
  /// when the cluster stops announcing it.
  bool discovered = false;
  /// "nats://host:port" (or "tls://"), without credentials (for logs).
  std::string text() const;
};

/// Parses a comma-separated list of "nats://[user:pass@|token@]host[:port]"
/// or "tls://..." URLs ("nats://" may be left out; IPv6 hosts in brackets).
/// False with `error` on a malformed URL, another scheme, or an empty list.
bool parse_nats_urls(std::string_view text, std::vector<nats_endpoint>& out, std::string& error);

/// How a client secures and authenticates its connections; the same for
/// every connection of a tcp_bus.
struct nats_security {
  /// The TLS client context (CA roots, client certificate). Null: no TLS
  /// configured; a server that requires TLS is then refused.
  std::shared_ptr<boost::asio::ssl::context> tls_context;
  /// TLS even for nats:// URLs; a server that offers no TLS is refused.
  bool tls_required = false;
  /// Check the server's certificate and its name against the URL's host.
  bool tls_verify = true;
  /// An nkey (and user JWT): CONNECT carries the nonce's signature.
  auth::nats_credentials credentials;
};

/// The CONNECT JSON for `endpoint`'s credentials: verbose and pedantic off,
/// headers and no_responders on (requests learn at once that nobody listens);
/// with nkey credentials `nkey` (or `jwt`) and `sig` over `nonce`;
/// tls_required when the connection is TLS.
std::string make_connect_json(const nats_endpoint& endpoint, const std::string& client_name,
                              const auth::nats_credentials& credentials = {}, std::string_view nonce = {},
                              bool tls = false);

/// One client connection; see the file comment.
class nats_client : public std::enable_shared_from_this<nats_client> {
 public:
  /// Callbacks, all run on the io_context's thread.
  struct callbacks {
    /// Called once with the server's INFO; returns what to send after
    /// CONNECT and before the handshake PING (the owner's SUB lines).
    std::function<std::string(const nats_server_info&)> greeting;
    /// The handshake PONG arrived: the connection is usable.
    std::function<void(const nats_server_info&)> on_ready;
    /// An INFO after the first one (nats-server sends one when its cluster
    /// changes); the fields it carries, the others as they were.
    std::function<void(const nats_server_info&)> on_info_update;
    /// MSG (headers empty) or HMSG.
    std::function<void(std::string_view subject, std::string_view sid, std::string_view reply,
                       std::string_view headers, std::string_view payload)>
        on_message;
    /// A PONG after the handshake.
    std::function<void()> on_pong;
    /// An -ERR after the handshake that did not close the connection
    /// ('Permissions Violation for Subscription to ...').
    std::function<void(std::string_view text)> on_server_error;
    /// The connection ended (called exactly once, unless never started).
    std::function<void(const std::string& reason)> on_closed;
  };

  /// A client on `io`; `handshake_timeout` bounds connect + INFO + TLS +
  /// PONG. `security` must outlive the client.
  nats_client(boost::asio::io_context& io, callbacks handlers, std::string client_name,
              std::chrono::milliseconds handshake_timeout, const nats_security& security);

  /// Starts connecting to `endpoint`.
  void start(const nats_endpoint& endpoint);
  /// Queues bytes for the socket (ignored once closed).
  void write(std::string bytes);
  /// Closes now; on_closed(reason) follows (posted).
  void close(const std::string& reason);
  /// Closes once everything queued has been written, or after `limit`.
  void close_after_writes(std::chrono::milliseconds limit);
  /// True between the handshake PONG and the close.
  bool ready() const { return state_ == state::ready; }
  bool closed() const { return state_ == state::closed; }

  // server_parser handler (public because the parser calls it).
  bool on_info(std::string_view json);
  bool on_msg(std::string_view subject, std::string_view sid, std::string_view reply, std::string_view payload);
  bool on_hmsg(std::string_view subject, std::string_view sid, std::string_view reply, std::string_view headers,
               std::string_view payload);
  bool on_ok() { return true; }
  bool on_err(std::string_view text);
  bool on_ping();
  bool on_pong();
  void on_error(protocol::parse_error error, std::string_view snippet);

 private:
  enum class state { idle, connecting, awaiting_info, tls_handshake, awaiting_pong, ready, closed };
  using tls_stream = boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>;

  void do_handshake();
  void on_handshake(boost::system::error_code ec);
  void send_connect();
  void do_read();
  void on_read(boost::system::error_code ec, std::size_t bytes);
  void do_write();
  void on_write(boost::system::error_code ec, std::size_t bytes);

  boost::asio::io_context& io_;
  callbacks callbacks_;
  std::string client_name_;
  std::chrono::milliseconds handshake_timeout_;
  const nats_security& security_;
  nats_endpoint endpoint_;
  nats_server_info info_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::socket socket_;
  std::optional<tls_stream> tls_;  ///< over socket_ once TLS starts; declared after it, destroyed first
  boost::asio::steady_timer timer_;  ///< handshake deadline, then the close_after_writes limit
  protocol::server_parser<nats_client> parser_;
  std::vector<char> read_buffer_;
  std::string pending_;  ///< bytes waiting for the next write
  std::string writing_;  ///< bytes of the write in flight
  bool write_in_flight_ = false;
  bool close_when_written_ = false;
  state state_ = state::idle;
};

}  // namespace courier::mss
