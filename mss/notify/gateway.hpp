// The notification gateway: a message service that keeps notifications
// published on `<prefix>.<user>` (and `<prefix>.all`) per user and serves
// them to web apps over a WebSocket (gateway_session), in the JSON protocol
// of gateway_protocol:
//
//   authorize    {"token": "..."}: the token is POSTed to the configured
//                backend ({"token"} body, Bearer header); a 2xx answer
//                {"user": "alice"} makes the session alice's. With
//                authorize { users: true }: {"user", "password"}, checked
//                against the embedded server's users
//   list         {"offset", "limit", "unread"}: the user's notifications, newest first
//   subscribe    {"groups": ["alert", ...]} ("*" = every type): pushes of those types
//   unsubscribe  {"groups": [...]}
//   read         {"ids": [...]} or {"all": true}: marks them read
//
// A notification arriving is stored, then pushed to every session of its
// user (every authorized session for a broadcast) subscribed to its type.
// Any NATS client publishes them: over TCP, in-process, or a message
// service's handler.
//
// Threads: the store, the sessions and the command handling run on one
// strand of the executor given; bus callbacks are posted to it.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "client/bus.hpp"
#include "mss/notify/gateway_config.hpp"
#include "mss/service/service.hpp"

namespace courier::mss::notify {

/// Counters, read with stats().
struct gateway_stats {
  std::uint64_t sessions = 0;           ///< open now
  std::uint64_t sessions_total = 0;     ///< opened since start
  std::uint64_t notifications = 0;      ///< received and stored
  std::uint64_t rejected = 0;           ///< received but not notifications (bad JSON, no type)
  std::uint64_t pushes = 0;             ///< frames pushed to sessions
  std::uint64_t requests = 0;           ///< requests answered (errors included)
};

/// Checks a user name and password (authorize { users: true }); true when
/// they match. Called on the gateway's strand.
using credential_check = std::function<bool(const std::string& user, const std::string& password)>;

class gateway {
 public:
  /// Builds the gateway (loads the store file when configured; throws
  /// std::runtime_error when it cannot, when the TLS files do not load, or
  /// when the config asks for users and `users` is empty).
  gateway(boost::asio::any_io_executor executor, bus& messages, gateway_config config, service_logger log,
          credential_check users = {});
  ~gateway();
  gateway(const gateway&) = delete;
  gateway& operator=(const gateway&) = delete;

  /// Listens, subscribes, accepts. Throws std::runtime_error when the
  /// address cannot be bound or the bus refuses the subscription. Not on
  /// the executor's thread.
  void start();
  /// Unsubscribes, stops accepting, closes the sessions (1001 "going
  /// away") and waits a little for them to end. Idempotent; not on the
  /// executor's thread.
  void stop();

  /// The port listened on (after start()).
  std::uint16_t port() const;
  /// The counters. Any thread.
  gateway_stats stats() const;
  /// "host:port" listened on (after start()), for logs and metrics.
  std::string listener() const;

  struct state;

 private:
  std::shared_ptr<state> state_;
  bus& bus_;
  std::uint64_t subscription_ = 0;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace courier::mss::notify
