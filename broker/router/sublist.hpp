// The subject router: a token trie mapping subscription subjects (with the `*`
// and `>` wildcards) to the subscriptions interested in a literal subject.
//
// Shape (see STYLE.md "Subject router as a token trie"):
//  * each trie level maps a token to a node and keeps dedicated `*` and `>`
//    slots; a node holds the subscriptions whose subject ends there, plain ones
//    in one flat vector and queue subscriptions grouped by queue name;
//  * empty nodes are pruned after removals, in groups of up to 32 so that their
//    cache misses overlap, so the trie never outgrows its contents for long;
//  * a bounded cache of immutable match results (1024 entries, as nats-server's
//    slCacheMax), kept correct across inserts and removes: each change drops
//    the cached entries it affects (one lookup for a literal subject, a scan
//    for a wildcard one), and the next match rebuilds them;
//  * a node also keeps its own subscriptions as a ready result, so an uncached
//    match that finds a single node (the common case) copies nothing;
//  * every insert and remove moves a generation counter, which lets each event
//    loop keep a lock-free L1 cache of its own (sublist_l1_cache below);
//  * an optional interest hook hears of every insert and remove, and of the
//    first and last subscription on each exact subject and queue (see
//    broker/router/interest_change.hpp); without one, a change pays a single
//    well-predicted branch for it.
//
// Locking: a shared_mutex guards the trie and the cache's writers. A change
// (insert, remove) holds it exclusively while it updates the trie and drops
// the cache entries it affects; a miss walks the trie and stores its result
// under the shared lock, with a mutex ordering such stores among themselves.
// So no change comes between a walk and its store, and the cache never takes
// in a stale result. Readers of the cache take no lock at all: its slots are
// atomic pointers to immutable entries, and entries (and outgrown slot
// arrays) are freed through epoch-based reclamation (broker/router/epoch_reclaim.hpp)
// once no reader can still hold them. A cache hit thus writes no shared
// memory. See sublist.cpp for the order of a change.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/router/epoch_reclaim.hpp"
#include "broker/router/interest_change.hpp"
#include "broker/router/string_table.hpp"
#include "broker/subscription.hpp"

namespace courier::broker {

/// The subscriptions matching one literal subject. Immutable once published:
/// the router and its caches share it between threads without copying.
struct match_result {
  /// Subscriptions outside any queue group: each gets every message.
  std::vector<std::shared_ptr<subscription>> plain;
  /// One vector per queue group name (never empty); one member of each group
  /// gets the message.
  std::vector<std::vector<std::shared_ptr<subscription>>> queues;

  /// True when nobody is interested.
  bool empty() const noexcept { return plain.empty() && queues.empty(); }
};

namespace detail {

/// Test seams, null in production: called at the two points where a
/// concurrent change matters, so that tests can force those interleavings.
struct sublist_test_hooks {
  /// On the match miss path, between the trie walk and the cache store
  /// (shared trie lock held).
  static inline std::atomic<void (*)()> after_walk{nullptr};
  /// In every insert and remove, between the trie change and the cache drop
  /// (exclusive trie lock held).
  static inline std::atomic<void (*)()> before_cache_drop{nullptr};
};

}  // namespace detail

class sublist_read_scope;

/// Thread-safe subject router. All methods may be called concurrently from any
/// thread: matches run in parallel with each other and with inserts/removes.
class sublist {
 public:
  /// Most cached results kept; over it the cache is swept down to
  /// cache_sweep_to entries. Both are nats-server's (slCacheMax, slCacheSweep).
  static constexpr std::size_t cache_max = 1024;
  /// Cache size after a sweep.
  static constexpr std::size_t cache_sweep_to = 256;

  /// A router; with cache_enabled false every match walks the trie (useful for
  /// routers that change much more often than they are read).
  explicit sublist(bool cache_enabled = true);
  ~sublist();
  sublist(const sublist&) = delete;
  sublist& operator=(const sublist&) = delete;

  /// Adds a subscription under sub->subject (and sub->queue when non-empty).
  /// The subject must be valid (the caller checks it). Inserting the same
  /// subscription object twice is a no-op.
  void insert(std::shared_ptr<subscription> sub);

  /// Removes the subscription (found by identity, under its subject and
  /// queue) and sets its `closed` flag, so that publishers holding an older
  /// match result skip it. Returns false if it was not in the router.
  bool remove(const std::shared_ptr<subscription>& sub);

  /// Removes many subscriptions under one lock (a client closing). Missing
  /// ones are ignored.
  void remove_batch(const std::vector<std::shared_ptr<subscription>>& subs);

  /// The subscriptions matching a literal subject. Never null; an empty
  /// result is shared. Allocation-free on a cache hit. A subject with an
  /// empty token ("a..b", "a.") matches nothing, as in nats-server.
  std::shared_ptr<const match_result> match(std::string_view literal_subject) const;

  /// match() without the reference count: see sublist_read_scope.
  const match_result& match(std::string_view literal_subject, sublist_read_scope& scope) const;

  /// True when at least one subscription matches (no-responders check).
  /// Stops at the first match and never allocates.
  bool has_interest(std::string_view literal_subject) const;

  /// Bumps on every insert and remove that changed the router; an L1 cache
  /// filled at generation g is valid while generation() == g.
  std::uint64_t generation() const noexcept {
    return generation_.load(std::memory_order_acquire);
  }

  /// Installs the hook told of every change from now on, replacing any
  /// earlier one; an empty function removes it. Waits for changes in
  /// progress, so a change is reported by the old hook or by the new one.
  /// See interest_hook for what the hook may do.
  void set_interest_hook(interest_hook hook);

  /// Number of subscriptions stored.
  std::size_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

  /// Number of cached match results.
  std::size_t cache_count() const;

  /// Number of trie nodes, once the nodes removals left empty are pruned (for
  /// tests: pruning must bring it back to 0).
  std::size_t node_count();

  /// Calls `visit` with every subscription stored, under the shared trie
  /// lock (inserts and removes wait; publishers do not). For monitoring:
  /// `visit` must be quick and must not call back into this router.
  void for_each(const std::function<void(const subscription&)>& visit) const;

  /// What nats-server reports as a sublist's statistics (/subsz).
  struct statistics {
    std::size_t subscriptions = 0;
    std::size_t cache_entries = 0;
    std::uint64_t inserts = 0;
    std::uint64_t removes = 0;
    std::uint64_t matches = 0;     ///< lookups in this router (not in the loops' own L1 caches)
    std::uint64_t cache_hits = 0;  ///< of those, answered from the cache
    std::size_t max_fanout = 0;    ///< over the cached results
    double average_fanout = 0;     ///< over the cached results
  };
  statistics stats() const;

 private:
  struct level;
  struct node;
  struct builder;
  struct cache_entry;
  struct cache_table;

  /// The cached result for a literal subject, or null. Read section open.
  const cache_entry* cache_find(std::string_view subject, std::uint64_t hash) const noexcept;
  /// Walks the trie (the cache missed) and caches the answer when it may.
  std::shared_ptr<const match_result> match_uncached(std::string_view literal_subject,
                                                     std::uint64_t hash) const;
  /// Cache writers: the trie lock held exclusively, or shared together with
  /// cache_mutex_. Each returns true if it retired something, which the
  /// caller then reclaims once it has let go of the locks.
  bool cache_store_locked(std::string_view subject, std::uint64_t hash,
                          const std::shared_ptr<const match_result>& result) const;
  bool cache_erase_locked(std::string_view subject) const;
  template <typename Keep>
  bool cache_rebuild_locked(std::size_t at_most, Keep&& keep) const;

  /// Files sub in its node; `first` tells whether its subject and queue had
  /// no subscription there before. False if it was there already.
  bool insert_locked(const std::shared_ptr<subscription>& sub, bool& first);
  /// Takes sub out of its node (found through subscription::router_node, no
  /// walk) and queues the node for pruning if that left it empty; `last`
  /// tells whether that was the node's last one with sub's queue.
  bool remove_locked(const std::shared_ptr<subscription>& sub, bool& last);
  void queue_prune_locked(node* n);
  /// Prunes the queued nodes that are still empty, and the parents that
  /// leaves empty, with their parents' slots fetched ahead.
  void prune_locked();
  bool cache_drop_locked(const subscription& sub);
  /// Moves the generation at the end of a change (exclusive trie lock held).
  void changed_locked() noexcept;

  friend class sublist_l1_cache;

  const bool cache_enabled_;
  /// Unique per router in the process, for L1 caches.
  const std::uint64_t instance_id_;
  /// Guards root_ and the trie below it, and writes to cache_: changes hold
  /// it exclusively, misses shared (with cache_mutex_ to store).
  mutable std::shared_mutex trie_mutex_;
  std::unique_ptr<level> root_;
  /// Told of every change; empty when nobody listens. Written and called
  /// with trie_mutex_ held exclusively.
  interest_hook interest_hook_;
  /// Trie nodes (under trie_mutex_).
  std::size_t nodes_ = 0;
  /// Nodes left empty by removals, pruned together once prune_batch of them
  /// have gathered (or at the end of a batch removal). Pruning one means
  /// erasing it from its parent's table, whose slot in a big level is a cache
  /// miss; in a batch those misses overlap. Until then an empty node matches
  /// nothing, and an insert may bring it back into use. Under trie_mutex_.
  std::vector<node*> prune_queue_;
  static constexpr std::size_t prune_batch = 32;
  /// Orders cache stores by misses, which hold trie_mutex_ shared. Taken
  /// after trie_mutex_, never before.
  mutable std::mutex cache_mutex_;
  /// The cache's slot array, null while empty. Replaced whole when it grows
  /// or is swept; the old one is retired.
  mutable std::atomic<cache_table*> cache_{nullptr};
  /// Moves once per change, last thing under the exclusive trie lock.
  /// Read freely.
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::size_t> count_{0};
  // Monitoring counters. inserts_/removes_ change under the exclusive trie
  // lock (single writer); the match counters are bumped by any reader, a
  // cache hit costing one (misses are counted on the slow path).
  std::atomic<std::uint64_t> inserts_{0};
  std::atomic<std::uint64_t> removes_{0};
  mutable std::atomic<std::uint64_t> matches_{0};
  mutable std::atomic<std::uint64_t> cache_misses_{0};
};

/// Matches through a router with no lock and no reference counting: a cache
/// hit costs a hash, a probe and two stores to a thread-local cache line.
/// A result stays valid until the next match through the same scope or the
/// scope's end, whichever comes first; the router may change meanwhile, but a
/// result is never freed under its reader. Keep scopes short (they hold back
/// reclamation of what the router retires meanwhile) and on one thread.
class sublist_read_scope {
 public:
  sublist_read_scope() = default;
  sublist_read_scope(const sublist_read_scope&) = delete;
  sublist_read_scope& operator=(const sublist_read_scope&) = delete;

  /// Same as list.match(literal_subject, *this).
  const match_result& match(const sublist& list, std::string_view literal_subject) {
    return list.match(literal_subject, *this);
  }

 private:
  friend class sublist;
  epoch::read_section section_;
  /// A result the router did not cache, kept for the caller.
  std::shared_ptr<const match_result> held_;
};

/// A per-thread (per event loop) cache in front of a sublist, checked without
/// any lock or reference-count traffic. It is emptied whenever the router's
/// generation moves, so it never returns a result older than the router's
/// state at the time of the call. Not thread-safe: one owner thread.
class sublist_l1_cache {
 public:
  /// Most entries kept; the cache is emptied when it would grow past it.
  explicit sublist_l1_cache(std::size_t max_entries = 512);

  /// Same answer as list.match(literal_subject). The reference stays valid
  /// until the next call on this cache.
  const std::shared_ptr<const match_result>& match(const sublist& list,
                                                   std::string_view literal_subject);

  /// Drops every entry (and the subscriptions they keep alive).
  void clear() noexcept;

  /// Number of entries held.
  std::size_t size() const noexcept { return entries_.size(); }

 private:
  /// The router the entries came from, by instance id rather than address:
  /// a new router built where a destroyed one lived must not inherit them.
  std::uint64_t list_id_ = 0;
  std::uint64_t generation_ = 0;
  std::size_t max_entries_;
  using table = string_table<std::shared_ptr<const match_result>>;
  table entries_;
  /// The entry the last hit found: a stream to one subject is answered by
  /// comparing the subject, without hashing it. Null whenever entries_
  /// changes (its slots may move).
  const table::slot* last_hit_ = nullptr;
};

}  // namespace courier::broker
