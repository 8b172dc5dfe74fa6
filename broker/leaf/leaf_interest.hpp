// One account's interest as its leaf connections must hear of it: which
// subjects (and queue groups, with weights) someone on this side wants,
// kept per connection so that each leaf is told LS+ when its count leaves
// zero, LS- when it comes back to zero, and LS+ with the new weight when a
// queue group's size changes (nats-server's updateSmap in server/leafnode.go).
//
// Sources: this server's own subscribers (clients, in-process clients),
// heard through the account router's interest hook; and the interest each
// leaf connection declared, which that connection reports itself. A leaf
// is never told its own interest back. On a connection where this server is
// the spoke (it solicited the hub), only its own subscribers and the leaves
// it is the hub of count: a hub's interest is not passed on to another hub.
// Loop detection subjects ($LDS.) pass everywhere, as in nats-server.
//
// Thread rules: every method takes mutex_. The router hook runs with the
// router's exclusive lock held, so nothing here may touch the router (lock
// order: router, then mutex_, then a connection's out_mutex_). Updates go
// out through connection::send_from_any_thread, in the order they happen.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/router/interest_change.hpp"

namespace courier::broker {

class sublist;
class leaf_protocol;

/// An account's interest, as told to its leaf connections.
class leaf_interest {
 public:
  /// Hooks into `router` (which must outlive this object) and names the
  /// account's loop detection subject.
  leaf_interest(sublist& router, std::string loop_subject);
  ~leaf_interest();
  leaf_interest(const leaf_interest&) = delete;
  leaf_interest& operator=(const leaf_interest&) = delete;

  /// "$LDS.<random>": sent on every leaf connection of the account; seeing
  /// it come back over a leaf means a loop.
  const std::string& loop_subject() const { return loop_subject_; }

  /// Starts telling `leaf` of changes, after sending it the account's whole
  /// interest (LS+ each subject, then the loop subject).
  void attach(leaf_protocol& leaf);
  /// Stops telling `leaf` and withdraws what it still declared.
  void detach(leaf_protocol& leaf);
  /// `from` declared (weight > 0, queues) or withdrew (weight 0) its
  /// interest in subject/queue. For plain interest the weight is 1.
  void remote_changed(leaf_protocol& from, std::string_view subject, std::string_view queue, std::int32_t weight);

  /// The leaf connections attached (for monitoring). Pointers valid while
  /// attached; the caller must not keep them.
  std::size_t leaf_count() const;

 private:
  struct key_state {
    std::string subject;
    std::string queue;
    std::int64_t local = 0;  ///< this server's own subscriptions
    std::vector<std::pair<leaf_protocol*, std::int32_t>> remote;  ///< per leaf, its weight
  };

  void on_change(const interest_change& change);
  /// Applies `modify` to the key's state and tells every leaf whose count moved. Lock held.
  template <class Modify>
  void update(const std::string& key, std::string_view subject, std::string_view queue, const leaf_protocol* source,
              Modify&& modify);
  /// What `leaf` counts for a key. Lock held.
  std::int64_t count_for(const key_state& state, const leaf_protocol& leaf) const;
  static bool passes(const leaf_protocol& to, const leaf_protocol& from, std::string_view subject);
  static std::string key_of(std::string_view subject, std::string_view queue);

  sublist& router_;
  const std::string loop_subject_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, key_state> keys_;  // lock: mutex_
  std::vector<leaf_protocol*> leaves_;                // lock: mutex_
};

}  // namespace courier::broker
