// The subject router: a token trie mapping subscription subjects (with the `*`
// and `>` wildcards) to the subscriptions interested in a literal subject.
//
// Shape (see STYLE.md "Subject router as a token trie"):
//  * each trie level maps a token to a node and keeps dedicated `*` and `>`
//    slots; a node holds the subscriptions whose subject ends there, plain ones
//    in one flat vector and queue subscriptions grouped by queue name;
//  * empty nodes are pruned on remove, so the trie never outgrows its contents;
//  * a bounded cache of immutable match results (1024 entries, as nats-server's
//    slCacheMax) is kept correct across inserts and removes: an insert updates
//    the affected entries by copying them, a remove drops them;
//  * every insert and remove bumps a generation counter, which lets each event
//    loop keep a lock-free L1 cache of its own (sublist_l1_cache below).
//
// Locking: one shared_mutex guards the trie, another the cache; lock order is
// trie then cache. A cache hit takes only the cache lock, shared. A miss walks
// the trie under the shared trie lock and stores its result only if nothing
// changed meanwhile (generation check), so a slow matcher never stores a stale
// result.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

/// Fast hash for short strings (subjects and tokens), transparent so that
/// maps keyed by std::string can be searched with a string_view without
/// building a string: a cache hit must not allocate.
struct string_hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view text) const noexcept;
  std::size_t operator()(const std::string& text) const noexcept {
    return (*this)(std::string_view(text));
  }
  std::size_t operator()(const char* text) const noexcept {
    return (*this)(std::string_view(text));
  }
};

/// A string-keyed map searchable by string_view.
template <typename Value>
using string_map = std::unordered_map<std::string, Value, string_hash, std::equal_to<>>;

}  // namespace detail

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
  /// result is shared. Allocation-free on a cache hit.
  std::shared_ptr<const match_result> match(std::string_view literal_subject) const;

  /// True when at least one subscription matches (no-responders check).
  /// Stops at the first match and never allocates.
  bool has_interest(std::string_view literal_subject) const;

  /// Bumps on every insert and remove that changed the router; an L1 cache
  /// filled at generation g is valid while generation() == g.
  std::uint64_t generation() const noexcept {
    return generation_.load(std::memory_order_acquire);
  }

  /// Number of subscriptions stored.
  std::size_t count() const noexcept { return count_.load(std::memory_order_relaxed); }

  /// Number of cached match results.
  std::size_t cache_count() const;

  /// Number of trie nodes (for tests: pruning must bring it back to 0).
  std::size_t node_count() const;

 private:
  struct level;
  struct node;
  struct builder;

  bool insert_locked(const std::shared_ptr<subscription>& sub);
  bool remove_locked(const std::shared_ptr<subscription>& sub);
  void cache_add_locked(const std::shared_ptr<subscription>& sub);
  void cache_drop_locked(const subscription& sub);
  void cache_sweep_locked() const;

  const bool cache_enabled_;
  /// Guards root_ and the trie below it.
  mutable std::shared_mutex trie_mutex_;
  std::unique_ptr<level> root_;
  /// Guards cache_. Taken after trie_mutex_ when both are needed.
  mutable std::shared_mutex cache_mutex_;
  mutable detail::string_map<std::shared_ptr<const match_result>> cache_;
  /// Written with both locks held exclusively; read freely.
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::size_t> count_{0};
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
  const sublist* list_ = nullptr;
  std::uint64_t generation_ = 0;
  std::size_t max_entries_;
  detail::string_map<std::shared_ptr<const match_result>> entries_;
};

}  // namespace courier::broker
