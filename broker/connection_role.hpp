// The protocol a connection speaks: the narrow interface between a
// connection (bytes, buffers, timers, the close) and what the bytes mean.
// client_protocol (NATS clients) is one; a leaf node protocol would be
// another, on the same connection class.
//
// A role is owned by its connection and talks to it only through the
// connection's public methods (send, deliver, flush, close, counters,
// timers). A role is also the subscriber its subscriptions deliver to; it
// is never owned by a shared_ptr of its own (connection::receiver() hands
// out pointers that share the connection's ownership), so a role must not
// call shared_from_this().
//
// Every method runs on the connection's loop thread, except the subscriber
// methods, which follow broker/subscriber.hpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "broker/close_reason.hpp"
#include "broker/subscriber.hpp"

namespace courier::auth {
class auth_config;
}

namespace courier::broker {

class connection;

/// What a connection needs from the protocol spoken on it.
class connection_role : public subscriber {
 public:
  using clock = std::chrono::steady_clock;

  explicit connection_role(connection& owner) : connection_(owner) {}

  /// Whether going over max_pending closes the connection as a slow consumer
  /// (nats-server cuts off only CLIENT connections; routes and leafs are
  /// stalled above half of it like any receiver, never closed for it). Read
  /// once, when the role is installed.
  virtual bool cut_off_over_max_pending() const { return true; }
  /// The connection starts (before the transport opens): start the role's timers.
  virtual void on_start() {}
  /// The transport is ready for the greeting (the INFO): queue it.
  virtual void on_greeting() = 0;
  /// Bytes from the peer. Returns how many were consumed: fewer than `size`
  /// when the role paused (a receiver asked this producer to stall); the
  /// connection feeds the rest later. Errors close the connection.
  virtual std::size_t on_bytes(const char* data, std::size_t size) = 0;
  /// End of a read turn: a chance to give back per-read memory.
  virtual void on_read_turn_end() {}
  /// The role's own timers (e.g. the authentication timeout), each tick.
  virtual void on_tick(clock::time_point now) = 0;
  /// Keep-alive: queue a PING.
  virtual void send_ping() = 0;
  /// Too many PINGs went unanswered: tell the peer if the protocol says so, and close.
  virtual void on_stale() = 0;
  /// The connection closed (no more reads or writes): drop subscriptions.
  virtual void on_closed(close_reason reason) = 0;

  // Server events. Called on any thread; the role hops to its loop.

  /// Over max_connections: refuse the peer (and close). Loop thread.
  virtual void refuse_over_limit() = 0;
  /// The authentication settings were reloaded.
  virtual void on_auth_reload(std::shared_ptr<const auth::auth_config> config) = 0;
  /// The server entered lame duck mode.
  virtual void on_lame_duck() = 0;

  // subscriber: buffering, flushing and backpressure are the connection's.
  void flush_deliveries() final;
  void notify_when_drained(std::function<void()> resume) final;
  std::chrono::milliseconds stall_timeout() const final;

 protected:
  connection& connection_;
};

}  // namespace courier::broker
