// A server's leafnode side: the `leafnodes` settings, each account's
// interest as leaf connections hear of it (leaf_interest), the remotes it
// keeps connections to (leaf_remote), and its live leaf connections for
// monitoring (/leafz, /varz "leafnodes").
//
// Thread rules: constructed with the server (every account exists by
// then, and the interest hooks are in place before any subscription);
// listen(), start() and stop() from the thread starting or stopping the server;
// add/remove from connections' loops; snapshot() from any thread.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "broker/close_reason.hpp"
#include "broker/leaf/leaf_protocol.hpp"
#include "broker/transport/tls_transport.hpp"
#include "conf/leafnode_options.hpp"

namespace courier::broker {

class server;
class connection;
class leaf_interest;
class leaf_remote;
struct account;

/// The leafnode side of one server.
class leaf_nodes {
 public:
  leaf_nodes(server& broker, conf::leafnode_settings settings);
  ~leaf_nodes();
  leaf_nodes(const leaf_nodes&) = delete;
  leaf_nodes& operator=(const leaf_nodes&) = delete;

  /// Binds the leafnode listener (when `port` is set). Throws
  /// std::runtime_error when it cannot be bound.
  void listen();
  /// Accepts leaf connections on it and starts connecting to the remotes
  /// (the loops run): when the server starts serving clients, where
  /// nats-server logs its leafnode port (after the monitoring port).
  void start();
  /// Stops listening and reconnecting, closes the leaf connections (before
  /// the loops stop).
  void stop();
  /// The leafnode port listened on, or 0.
  std::uint16_t port() const { return port_; }
  /// The INFO an accepted leaf gets: first on connect, then (with
  /// connect_info and its account) once its CONNECT is accepted.
  std::string info_line(std::uint64_t client_id, bool connect_info,
                        std::string_view bound_account) const;

  /// The interest of `bound`'s account as leaf connections hear of it.
  leaf_interest& interest(const account& bound);

  /// A leaf connection is accepted or set up / closed (its loop).
  void add(const std::shared_ptr<connection>& link, leaf_protocol& role);
  void remove(const connection& link, close_reason reason);
  /// Leaf connections closed so far, per reason (set up or not).
  std::map<close_reason, std::uint64_t> closed_by_reason() const;
  /// The live leaf connections set up (past CONNECT), by ascending cid.
  std::vector<leaf_snapshot> snapshot() const;
  /// How many are set up.
  std::size_t count() const;

  const conf::leafnode_settings& settings() const { return settings_; }

 private:
  server& server_;
  const conf::leafnode_settings settings_;
  std::map<const account*, std::unique_ptr<leaf_interest>> interest_;  // fixed after construction
  std::vector<std::shared_ptr<leaf_remote>> remotes_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;  // runs on the first loop
  /// TLS on the listener (leafnodes.tls): fixed after construction.
  std::shared_ptr<boost::asio::ssl::context> tls_context_;
  tls_transport_settings tls_settings_;
  bool tls_verify_ = false;
  std::uint16_t port_ = 0;

  void do_accept();

  mutable std::mutex mutex_;
  struct live_leaf {
    std::shared_ptr<connection> link;
    leaf_protocol* role;
  };
  std::map<std::uint64_t, live_leaf> live_;  // lock: mutex_; by cid
  std::map<close_reason, std::uint64_t> closed_reasons_;  // lock: mutex_
};

}  // namespace courier::broker
