// One `leafnodes.remotes` entry: keeps a leaf connection to the hub open.
// Connects to the remote's URLs in turn; when a connection fails or ends,
// waits the fixed reconnect interval (1 s by default) and tries the next URL,
// as nats-server 2.9.10 does. URLs the hub announces (INFO leafnode_urls,
// the other members of its cluster) join the list, so losing the member
// connected to moves to another one.
//
// Thread rules: everything runs on the remote's event loop, which is also
// the loop of every connection it makes; start() and stop() post to it.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "broker/transport/tls_transport.hpp"
#include "conf/leafnode_options.hpp"

namespace courier::broker {

class server;
class event_loop;
class connection;
class leaf_interest;
struct account;

/// A remote hub this server keeps a leaf connection to.
class leaf_remote : public std::enable_shared_from_this<leaf_remote> {
 public:
  leaf_remote(server& broker, event_loop& loop, conf::leafnode_remote config, std::chrono::milliseconds reconnect,
              account& bound, leaf_interest& interest);

  /// First attempt at once. Any thread.
  void start();
  /// No more attempts; closes the connection if there is one. Any thread;
  /// returns once done (not from the remote's own loop).
  void stop();

  // From the connection's role (the remote's loop).

  /// The hub accepted the CONNECT (its INFO came and we answered).
  void on_connected();
  /// The connection ended; the next attempt comes after the reconnect
  /// interval, or after `delay` when longer (a loop was detected).
  void on_disconnected(std::chrono::milliseconds delay);
  /// Cluster URLs ("host:port") the hub announced.
  void add_discovered(const std::vector<std::string>& addresses);

  /// The account this remote binds.
  account& bound() const { return bound_; }
  /// The remote's settings.
  const conf::leafnode_remote& config() const { return config_; }

 private:
  void attempt();
  void on_resolved(const boost::system::error_code& ec, boost::asio::ip::tcp::resolver::results_type results,
                   std::size_t url_index);
  void on_connect(const boost::system::error_code& ec, std::size_t url_index);
  void schedule(std::chrono::milliseconds delay);

  server& server_;
  event_loop& loop_;
  const conf::leafnode_remote config_;
  const std::chrono::milliseconds reconnect_;
  account& bound_;
  leaf_interest& interest_;

  // Loop thread.
  std::vector<conf::leafnode_url> urls_;  ///< configured first, then discovered
  std::size_t next_url_ = 0;
  bool stopped_ = false;
  boost::asio::steady_timer timer_;
  boost::asio::ip::tcp::resolver resolver_;
  std::unique_ptr<boost::asio::ip::tcp::socket> socket_;  ///< while connecting
  /// TLS to the hub (a tls block or a tls:// URL): the client context,
  /// built at construction so that a bad file stops the start.
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  tls_transport_settings tls_settings_;
  bool tls_verify_ = true;
  std::weak_ptr<connection> current_;
};

}  // namespace courier::broker
