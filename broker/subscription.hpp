// A subscription as the router stores it. Plain data: the connection that made it
// owns it; results handed out by the router keep it alive while a publisher
// is still delivering to it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace courier::broker {

class subscriber;  // broker/subscriber.hpp: whoever receives the messages

/// One SUB (or an in-process subscribe). Immutable after insertion except for
/// the atomics, which publishers on any thread update.
struct subscription {
  std::string subject;  ///< as given, validated before insertion
  std::string queue;    ///< queue group; empty when not in one
  std::string sid;      ///< the client's subscription id
  std::uint64_t client_id = 0;  ///< the connection's cid (monitoring lists subscriptions by it)
  /// Receiver of deliveries. Null only in routers used as plain subject sets
  /// (permissions). A subscription keeps its subscriber alive; the owner
  /// breaks the cycle by removing its subscriptions when it closes.
  std::shared_ptr<subscriber> owner;
  /// Auto-unsubscribe after this many deliveries; 0 = no limit.
  std::atomic<std::uint64_t> max_messages{0};
  /// Deliveries so far (counted by the publishers).
  std::atomic<std::uint64_t> delivered{0};
  /// Interest a remote side (a leaf connection) declared rather than a
  /// subscriber of this server: fan-out hands the owner each message once,
  /// through subscriber::deliver_remote, with the queue groups picked for
  /// it, however many of its subscriptions match. Set before insertion.
  bool remote_interest = false;
  /// Set once the subscription is removed; publishers holding a stale match
  /// result skip it.
  std::atomic<bool> closed{false};
  /// The router's own bookkeeping: this subscription's position among those
  /// sharing its node, so that removal needs no search. Written and read only
  /// by the router holding it, under its lock; a subscription is in at most
  /// one router at a time.
  std::size_t router_position = 0;
  /// The router holding this subscription (its instance id, never reused)
  /// and its node there (an opaque pointer to the router's own type), so
  /// that removal goes straight to the node instead of walking the subject's
  /// tokens. Same rules as router_position; 0 and null while the
  /// subscription is in no router.
  std::uint64_t router_id = 0;
  void* router_node = nullptr;
};

}  // namespace courier::broker
