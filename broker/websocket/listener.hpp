// The WebSocket listener: accepts TCP connections and runs each one's HTTP
// upgrade (Beast reads the request; websocket/upgrade decides and answers)
// on the event loop the connection will live on. A client that upgrades is
// handed to the server as a socket plus what was agreed; one that does not
// never becomes a connection (no cid, not in /connz), as in nats-server,
// whose upgrade runs in a Go http.Server before a client exists.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <openssl/ssl.h>

#include "broker/websocket/upgrade.hpp"

namespace courier::broker {
class event_loop;
}

namespace courier::broker::websocket {

/// Accepts WebSocket clients. Methods other than the constructor run on the
/// accepting loop's thread unless noted.
class listener {
 public:
  /// A client upgraded: its socket (on `loop`), over wss:// the SSL object
  /// its TLS session lives in (the handler owns it; null over ws://), and
  /// what the upgrade agreed.
  using upgraded_handler = std::function<void(boost::asio::ip::tcp::socket socket, SSL* tls, event_loop& loop,
                                              const upgrade_result& result)>;
  /// Picks the loop the next connection lives on. Any thread.
  using loop_picker = std::function<event_loop&()>;

  /// With `tls` (a server context), the listener is wss://: each client's
  /// TLS handshake must end within `tls_timeout`, then the upgrade follows.
  listener(event_loop& accept_loop, loop_picker pick_loop, upgrade_settings settings,
           std::chrono::milliseconds handshake_timeout, upgraded_handler on_upgraded,
           std::shared_ptr<boost::asio::ssl::context> tls = nullptr,
           std::chrono::milliseconds tls_timeout = std::chrono::seconds(2));
  ~listener();

  /// Binds and listens. Throws std::runtime_error when it cannot. Any thread, before start().
  void listen(const std::string& host, int port);
  /// The port listened on.
  std::uint16_t port() const { return port_; }
  /// Starts accepting. Any thread.
  void start();
  /// Stops accepting (upgrades under way finish). Any thread; waits until done.
  void close();

  /// What upgrade sessions share with the listener (they may outlive it).
  struct shared;

 private:
  void do_accept();

  event_loop& accept_loop_;
  std::shared_ptr<shared> shared_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::uint16_t port_ = 0;
};

}  // namespace courier::broker::websocket
