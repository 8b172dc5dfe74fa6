// What a router tells an interest hook: one subscription added to or removed
// from an account's sublist, and whether that opened or closed interest in its
// exact subject and queue. Leafnode (and route) interest propagation is built
// on it: a remote side needs a message for the first local subscriber of a
// subject+queue and for the last one leaving, not for the ones in between
// (nats-server sends LS+/LS- on those edges, see updateLeafNodes in
// server/leafnode.go).
//
// Plain data; the hook itself is installed with sublist::set_interest_hook.
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>

#include "broker/subscription.hpp"

namespace courier::broker {

/// One change of a router's interest.
struct interest_change {
  /// Whether the subscription came or went.
  enum class kind : std::uint8_t {
    added,    ///< sublist::insert (a new subscription)
    removed,  ///< sublist::remove or remove_batch
  };

  kind what;
  /// The subscription added or removed. Valid for the duration of the call.
  const subscription& sub;
  /// For `added`, true when no subscription had exactly this subject and
  /// queue before (first interest); for `removed`, true when none has it any
  /// more (last interest gone). A plain subscription and a queue one on the
  /// same subject count apart, as do two queue groups.
  bool edge;

  /// The subscription's subject (may hold wildcards).
  std::string_view subject() const noexcept { return sub.subject; }
  /// Its queue group; empty for a plain subscription.
  std::string_view queue() const noexcept { return sub.queue; }
};

/// Called by a router for every change it makes, in the order the changes
/// happen, with the router's exclusive lock held: it must be quick, must not
/// throw, and must not call back into the same router (hand the change over,
/// e.g. to a queue, and act on it elsewhere).
using interest_hook = std::function<void(const interest_change&)>;

}  // namespace courier::broker
