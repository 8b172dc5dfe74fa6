// The router's per-thread L1 caches, and how a publish borrows them.
#pragma once

#include <array>
#include <cstddef>

#include "broker/router/sublist.hpp"

namespace courier::broker {

/// A thread's router L1 caches (sublist_l1_cache), one per router it
/// publishes into (one per account), so that a routing hit takes no lock and
/// touches no reference count. Owned by an event loop or an in-process
/// connection; used by one thread at a time (see route_cache_lease).
class route_caches {
 public:
  /// Routers cached at once; one more evicts the oldest slot. A thread
  /// usually publishes into one account, a few at most.
  static constexpr std::size_t max_routers = 4;

  /// The cache in front of `router`, taking over a slot if it has none.
  sublist_l1_cache& for_router(const sublist& router) {
    for (auto& slot : slots_) {
      if (slot.router == &router) return slot.cache;
    }
    auto& slot = slots_[next_victim_];
    next_victim_ = (next_victim_ + 1) % max_routers;
    slot.cache.clear();
    slot.router = &router;
    return slot.cache;
  }

  /// Drops every cached result (and the subscriptions they keep alive).
  void clear() noexcept {
    for (auto& slot : slots_) {
      slot.cache.clear();
      slot.router = nullptr;
    }
  }

 private:
  struct slot {
    const sublist* router = nullptr;
    sublist_l1_cache cache;
  };
  std::array<slot, max_routers> slots_;
  std::size_t next_victim_ = 0;
};

/// Lends the calling thread's route_caches to one publish for its duration.
/// A result from an L1 cache is valid only until that cache's next match, so
/// a publish nested inside another on the same thread (an inline in-process
/// callback that publishes) must not reuse it: while lent, the thread has
/// none, and the nested publish asks the router itself.
class route_cache_lease {
 public:
  route_cache_lease() noexcept : caches_(lent_) { lent_ = nullptr; }
  ~route_cache_lease() { lent_ = caches_; }
  route_cache_lease(const route_cache_lease&) = delete;
  route_cache_lease& operator=(const route_cache_lease&) = delete;

  /// The caches, or null when the thread has none to lend (nested publish,
  /// or a thread that is neither a loop nor inside an in-process publish).
  route_caches* get() const noexcept { return caches_; }

  /// The caches the calling thread lends next (null for none). A loop
  /// installs its own; an in-process publish on a foreign thread installs
  /// its connection's for the call and restores null afterwards.
  static route_caches*& thread_caches() noexcept { return lent_; }

 private:
  route_caches* caches_;
  static thread_local route_caches* lent_;
};

}  // namespace courier::broker
