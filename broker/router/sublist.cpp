#include "broker/router/sublist.hpp"

#include <algorithm>
#include <mutex>
#include <span>
#include <utility>

#include "broker/spin_mutex.hpp"
#include "protocol/short_bytes.hpp"
#include "protocol/subject.hpp"

namespace courier::broker {

// ---------------------------------------------------------------------------
// Subject helpers. The caller validates subjects; the splitting and the
// brute-force matching are protocol/subject's, shared with the rest of the
// broker.

namespace {

constexpr std::string_view star_token = "*";
constexpr std::string_view full_token = ">";

/// The tokens of a subject (split by protocol::subject_tokens), held on the
/// stack for all but absurdly deep subjects so that a walk can index them.
class token_list {
 public:
  explicit token_list(std::string_view subject) {
    for (std::string_view token : protocol::subject_tokens(subject)) push(token);
  }

  /// True for "", "a..b", ".a" and "a.": a literal subject with an empty
  /// token matches nothing in nats-server, not even `*` or `>`.
  bool has_empty_token() const noexcept { return has_empty_token_; }
  token_list(const token_list&) = delete;
  token_list& operator=(const token_list&) = delete;

  std::size_t size() const noexcept { return size_; }
  const std::string_view* data() const noexcept {
    return overflow_.empty() ? inline_ : overflow_.data();
  }
  std::string_view operator[](std::size_t i) const noexcept { return data()[i]; }

 private:
  /// 32 tokens covers every subject seen in practice; deeper ones spill.
  static constexpr std::size_t inline_capacity = 32;

  void push(std::string_view token) {
    if (token.empty()) has_empty_token_ = true;
    if (size_ < inline_capacity && overflow_.empty()) {
      inline_[size_++] = token;
      return;
    }
    if (overflow_.empty()) overflow_.assign(inline_, inline_ + size_);
    overflow_.push_back(token);
    ++size_;
  }

  std::string_view inline_[inline_capacity];
  std::vector<std::string_view> overflow_;
  std::size_t size_ = 0;
  bool has_empty_token_ = false;
};

/// The shared answer for "nobody is interested": misses cost no allocation.
const std::shared_ptr<const match_result>& empty_result() {
  static const std::shared_ptr<const match_result> empty = std::make_shared<const match_result>();
  return empty;
}

/// A set of subscriptions kept contiguous (so results copy it in one go): one
/// member inline, as most subjects have, more in a vector. Each member knows
/// its position (subscription::router_position), so membership tests and
/// removal take no search, however many members share the node.
class subscription_set {
 public:
  using span = std::span<const std::shared_ptr<subscription>>;

  span items() const noexcept {
    if (!spill_.empty()) return span(spill_);
    return span(&single_, single_ ? 1 : 0);
  }
  bool empty() const noexcept { return !single_ && spill_.empty(); }

  /// Adds sub; false if it is already there.
  bool add(const std::shared_ptr<subscription>& sub) {
    if (spill_.empty()) {
      if (!single_) {
        single_ = sub;
        return true;
      }
      if (single_ == sub) return false;
      spill_.reserve(4);
      single_->router_position = 0;
      spill_.push_back(std::move(single_));
      single_.reset();
    } else if (holds(sub.get())) {
      return false;
    }
    sub->router_position = spill_.size();
    spill_.push_back(sub);
    return true;
  }

  /// Removes sub (moving the last member into its place); false if absent.
  bool erase(const subscription* sub) {
    if (spill_.empty()) {
      if (!single_ || single_.get() != sub) return false;
      single_.reset();
      return true;
    }
    if (!holds(sub)) return false;
    const std::size_t at = sub->router_position;
    if (at != spill_.size() - 1) {
      spill_[at] = std::move(spill_.back());
      spill_[at]->router_position = at;
    }
    spill_.pop_back();
    if (spill_.size() == 1) {
      single_ = std::move(spill_.front());
      spill_ = {};
    }
    return true;
  }

 private:
  /// True when sub is a member (spill_ in use).
  bool holds(const subscription* sub) const noexcept {
    const std::size_t at = sub->router_position;
    return at < spill_.size() && spill_[at].get() == sub;
  }

  /// The only member when spill_ is empty; null when spill_ is in use.
  std::shared_ptr<subscription> single_;
  std::vector<std::shared_ptr<subscription>> spill_;
};

/// Children of a trie level by literal token: a probe_table of (hash, node)
/// pairs, 16 bytes a slot. The token itself lives in the node, which a walk
/// reads next anyway. An emptied table frees its array (most nodes are
/// leaves, and a pruned trie gives its memory back).
template <typename Node>
class node_table {
 public:
  bool empty() const noexcept { return table_.empty(); }

  Node* find(std::string_view token) const noexcept {
    const slot* found =
        table_.find(hash_of(token), [token](const slot& s) { return s.node->token == token; });
    return found ? found->node.get() : nullptr;
  }

  /// Asks the CPU to fetch the slot where token's probe starts, ahead of a
  /// find or erase: in a big level that slot is a cache miss.
  void prefetch(std::string_view token) const noexcept { table_.prefetch(hash_of(token)); }

  /// Adds a new child for token, which must be absent.
  Node* add(std::string_view token) {
    auto created = std::make_unique<Node>();
    created->token.assign(token);
    Node* added = created.get();
    table_.add_new(slot{hash_of(token), std::move(created)});
    return added;
  }

  /// Removes and destroys child, which must be one of this table's nodes.
  void erase(const Node* child) noexcept {
    table_.erase(hash_of(child->token), [child](const slot& s) { return s.node.get() == child; });
    if (table_.empty()) table_.release();
  }

  template <typename Visit>
  void for_each(Visit&& visit) const {
    table_.for_each([&visit](const slot& s) { visit(*s.node); });
  }

 private:
  struct slot {
    std::uint64_t hash = 0;  ///< 0: empty
    std::unique_ptr<Node> node;
  };

  static std::uint64_t hash_of(std::string_view token) noexcept { return string_hash::nonzero(token); }

  probe_table<slot> table_;
};

/// The members of one queue group on one node.
struct queue_group {
  std::string name;
  subscription_set members;
};

}  // namespace

// ---------------------------------------------------------------------------
// Trie

/// One token position: literal tokens in a flat table, wildcards in their own
/// slots so that matching never has to search for them.
struct sublist::level {
  node_table<node> literals;
  std::unique_ptr<node> star;  ///< `*`: any one token
  std::unique_ptr<node> full;  ///< `>`: one or more tokens, always a leaf

  bool empty() const noexcept { return literals.empty() && !star && !full; }
};

/// Where a subject ends: its subscriptions, and the level of longer subjects
/// (held inline: one pointer less to chase per token).
struct sublist::node {
  std::string token;  ///< the literal token leading here; empty under `*`/`>`
  /// The node whose level holds this one; null at the root level.
  node* parent = nullptr;
  /// In sublist::prune_queue_ (which holds each node at most once).
  bool prune_queued = false;
  level children;
  subscription_set plain;
  std::vector<queue_group> queues;  ///< never holds an empty group
  /// This node's subscriptions as a ready result, built by the first match
  /// that finds only this node and dropped on every change here (under the
  /// exclusive trie lock). Readers under the shared lock race only to build
  /// identical copies. Saves rebuilding big fan-out lists on every uncached
  /// match (nats-server keeps a similar per-node list, plist).
  mutable std::shared_ptr<const match_result> prebuilt;
  /// Guards prebuilt between readers (held for a pointer copy, so a spin
  /// lock does). Writers hold the trie lock exclusively and need not take
  /// it. Not std::atomic<std::shared_ptr>: GCC 12's shows as a data race
  /// under ThreadSanitizer.
  mutable spin_mutex prebuilt_mutex;

  /// prebuilt, built if missing. Trie lock held (shared).
  std::shared_ptr<const match_result> ready_result() const;
  bool has_subscriptions() const noexcept { return !plain.empty() || !queues.empty(); }
  /// Nothing left here or below: the node can go.
  bool prunable() const noexcept { return !has_subscriptions() && children.empty(); }
  /// Called on every change of this node's subscriptions (trie lock held
  /// exclusively).
  void changed() noexcept { prebuilt.reset(); }
};

namespace {

/// Walks every node matching tokens[i..] from level l, calling visit(node)
/// until it returns true (then returns true: stop). Iterates along literal
/// tokens and recurses only into `*` branches.
template <typename Level, typename Visit>
bool walk_level(const Level* l, const std::string_view* tokens, std::size_t count, std::size_t i,
                Visit& visit) {
  for (;;) {
    if (l->full && visit(*l->full)) return true;
    if (l->star) {
      const auto* star = l->star.get();
      if (i + 1 == count) {
        if (visit(*star)) return true;
      } else if (!star->children.empty() &&
                 walk_level(&star->children, tokens, count, i + 1, visit)) {
        return true;
      }
    }
    const auto* next = l->literals.find(tokens[i]);
    if (!next) return false;
    if (i + 1 == count) return visit(*next);
    l = &next->children;
    ++i;
  }
}

template <typename Level>
std::size_t count_nodes(const Level& l) {
  std::size_t total = 0;
  auto add = [&total](const auto& n) {
    total += 1 + count_nodes(n.children);
  };
  l.literals.for_each(add);
  if (l.star) add(*l.star);
  if (l.full) add(*l.full);
  return total;
}

/// Appends a node's subscriptions to a result, merging queue groups of the
/// same name found on different nodes.
template <typename Node>
void append_node(match_result& result, const Node& n) {
  const auto& plain = n.plain.items();
  result.plain.insert(result.plain.end(), plain.begin(), plain.end());
  for (const auto& group : n.queues) {
    const auto& members = group.members.items();
    auto same = std::find_if(result.queues.begin(), result.queues.end(),
                             [&](const auto& g) { return g.front()->queue == group.name; });
    if (same == result.queues.end()) {
      result.queues.emplace_back(members.begin(), members.end());
    } else {
      same->insert(same->end(), members.begin(), members.end());
    }
  }
}

}  // namespace

/// Collects the nodes with subscriptions that a walk visits (few: one per
/// matching pattern shape), then turns them into one result.
struct sublist::builder {
  /// Enough for every realistic mix of wildcards; more spill to the heap.
  static constexpr std::size_t inline_nodes = 16;
  const node* inline_[inline_nodes];
  std::vector<const node*> overflow_;
  std::size_t count_ = 0;

  bool operator()(const node& n) {
    if (!n.has_subscriptions()) return false;
    if (count_ < inline_nodes) {
      inline_[count_++] = &n;
    } else {
      if (overflow_.empty()) overflow_.assign(inline_, inline_ + inline_nodes);
      overflow_.push_back(&n);
      ++count_;
    }
    return false;  // keep walking
  }

  /// The result for the nodes collected. Trie lock (shared) held.
  std::shared_ptr<const match_result> finish() const {
    if (count_ == 0) return empty_result();
    const node* const* nodes = overflow_.empty() ? inline_ : overflow_.data();
    if (count_ == 1) return nodes[0]->ready_result();
    auto merged = std::make_shared<match_result>();
    std::size_t plain = 0;
    for (std::size_t i = 0; i < count_; ++i) plain += nodes[i]->plain.items().size();
    merged->plain.reserve(plain);
    for (std::size_t i = 0; i < count_; ++i) append_node(*merged, *nodes[i]);
    return merged;
  }
};

std::shared_ptr<const match_result> sublist::node::ready_result() const {
  {
    std::lock_guard guard(prebuilt_mutex);
    if (prebuilt) return prebuilt;
  }
  // Build outside the lock; if another reader got there first, use theirs.
  auto built = std::make_shared<match_result>();
  append_node(*built, *this);
  std::lock_guard guard(prebuilt_mutex);
  if (!prebuilt) prebuilt = std::move(built);
  return prebuilt;
}

namespace {
/// Source of sublist::instance_id_ values; 0 is never handed out.
std::atomic<std::uint64_t> next_instance_id{1};
}  // namespace

sublist::sublist(bool cache_enabled)
    : cache_enabled_(cache_enabled),
      instance_id_(next_instance_id.fetch_add(1, std::memory_order_relaxed)),
      root_(std::make_unique<level>()) {}

bool sublist::insert_locked(const std::shared_ptr<subscription>& sub, bool& first) {
  const token_list tokens(sub->subject);
  level* l = root_.get();
  node* n = nullptr;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string_view token = tokens[i];
    if (token == star_token || token == full_token) {
      auto& slot = token == star_token ? l->star : l->full;
      if (!slot) {
        slot = std::make_unique<node>();
        slot->parent = n;
        ++nodes_;
      }
      n = slot.get();
    } else {
      node* child = l->literals.find(token);
      if (!child) {
        child = l->literals.add(token);
        child->parent = n;
        ++nodes_;
      }
      n = child;
    }
    l = &n->children;
  }
  bool added = false;
  if (sub->queue.empty()) {
    first = n->plain.empty();
    added = n->plain.add(sub);
  } else {
    auto group = std::find_if(n->queues.begin(), n->queues.end(),
                              [&](const queue_group& g) { return g.name == sub->queue; });
    if (group == n->queues.end()) {
      n->queues.push_back(queue_group{sub->queue, {}});
      group = n->queues.end() - 1;
    }
    first = group->members.empty();
    added = group->members.add(sub);
  }
  if (!added) return false;
  n->changed();
  sub->router_id = instance_id_;
  sub->router_node = n;
  return true;
}

bool sublist::remove_locked(const std::shared_ptr<subscription>& sub, bool& last) {
  if (sub->router_id != instance_id_) return false;
  node* n = static_cast<node*>(sub->router_node);
  bool removed = false;
  if (sub->queue.empty()) {
    removed = n->plain.erase(sub.get());
    last = n->plain.empty();
  } else {
    for (auto group = n->queues.begin(); group != n->queues.end(); ++group) {
      if (group->name != sub->queue) continue;
      removed = group->members.erase(sub.get());
      last = group->members.empty();
      if (removed && last) n->queues.erase(group);
      break;
    }
  }
  if (!removed) return false;
  n->changed();
  sub->router_id = 0;
  sub->router_node = nullptr;
  if (n->prunable()) queue_prune_locked(n);
  return true;
}

void sublist::queue_prune_locked(node* n) {
  if (n->prune_queued) return;
  n->prune_queued = true;
  prune_queue_.push_back(n);
}

void sublist::prune_locked() {
  // Where the trie outgrows the CPU caches, the slot holding each node in its
  // parent's table is a cache miss: start fetching a few nodes ahead, so the
  // misses overlap. A small trie stays cached, and the hashing would only
  // cost time.
  constexpr std::size_t prefetch_distance = 8;
  constexpr std::size_t cached_nodes = 4096;
  const bool prefetch = nodes_ > cached_nodes;
  auto parent_level = [this](const node* n) -> level& {
    return n->parent ? n->parent->children : *root_;
  };
  // Pruning a node may make its parent prunable, which joins the queue's
  // end: index, not iterators.
  for (std::size_t i = 0; i < prune_queue_.size(); ++i) {
    if (prefetch && i + prefetch_distance < prune_queue_.size()) {
      const node* ahead = prune_queue_[i + prefetch_distance];
      if (!ahead->token.empty()) parent_level(ahead).literals.prefetch(ahead->token);
    }
    node* n = prune_queue_[i];
    n->prune_queued = false;
    // Something may have been added since it was queued.
    if (!n->prunable()) continue;
    node* parent = n->parent;
    level& l = parent_level(n);
    if (l.star.get() == n) {
      l.star.reset();
    } else if (l.full.get() == n) {
      l.full.reset();
    } else {
      l.literals.erase(n);
    }
    --nodes_;
    if (parent && parent->prunable()) queue_prune_locked(parent);
  }
  prune_queue_.clear();
}

// ---------------------------------------------------------------------------
// Cache: open addressing over atomic pointers to immutable entries. Writers
// (the trie lock exclusive, or shared with cache_mutex_: one writer at a time)
// publish an entry with a release store once it is built;
// readers (in a read section, no lock) probe with acquire loads and compare
// keys, so whatever entry a reader finds is a whole one. Erasing shifts later
// entries back, as probe_table (broker/router/string_table.hpp) does; a reader probing meanwhile may
// miss an entry that is there, which costs it a trie walk and nothing else.

/// One cached result, with its subject stored right behind it.
struct sublist::cache_entry {
  std::uint64_t hash;
  std::shared_ptr<const match_result> result;
  std::uint32_t length;

  std::string_view key() const noexcept {
    return {reinterpret_cast<const char*>(this + 1), length};
  }

  static cache_entry* create(std::string_view key, std::uint64_t hash,
                             std::shared_ptr<const match_result> result) {
    void* memory = ::operator new(sizeof(cache_entry) + key.size());
    auto* entry = new (memory) cache_entry{hash, std::move(result),
                                           static_cast<std::uint32_t>(key.size())};
    std::memcpy(static_cast<char*>(memory) + sizeof(cache_entry), key.data(), key.size());
    return entry;
  }
  static void destroy(cache_entry* entry) noexcept {
    entry->~cache_entry();
    ::operator delete(entry);
  }
};

struct sublist::cache_table {
  explicit cache_table(std::size_t capacity)
      : mask(capacity - 1), slots(std::make_unique<std::atomic<cache_entry*>[]>(capacity)) {}

  std::size_t mask;
  std::size_t size = 0;  ///< writers only
  std::unique_ptr<std::atomic<cache_entry*>[]> slots;

  cache_entry* at(std::size_t i) const noexcept {
    return slots[i].load(std::memory_order_acquire);
  }

  /// Files an entry known to be absent into a table not yet published.
  void place(cache_entry* entry) noexcept {
    std::size_t i = entry->hash & mask;
    while (slots[i].load(std::memory_order_relaxed)) i = (i + 1) & mask;
    slots[i].store(entry, std::memory_order_relaxed);
    ++size;
  }
};

namespace {

/// Cache entries a writer unlinked, freed together once readers are done.
template <typename Entry>
struct retired_entries {
  std::vector<Entry*> entries;
  ~retired_entries() {
    for (Entry* entry : entries) Entry::destroy(entry);
  }
};

}  // namespace

const sublist::cache_entry* sublist::cache_find(std::string_view subject,
                                                std::uint64_t hash) const noexcept {
  const cache_table* table = cache_.load(std::memory_order_acquire);
  if (!table) return nullptr;
  // Bounded: a table is never over half full, but writers shift entries
  // while this probes.
  std::size_t i = hash & table->mask;
  for (std::size_t probes = 0; probes <= table->mask; ++probes, i = (i + 1) & table->mask) {
    const cache_entry* entry = table->at(i);
    if (!entry) return nullptr;
    if (entry->hash == hash && entry->key() == subject) return entry;
  }
  return nullptr;
}

bool sublist::cache_store_locked(std::string_view subject, std::uint64_t hash,
                                 const std::shared_ptr<const match_result>& result) const {
  bool retired = false;
  cache_table* table = cache_.load(std::memory_order_relaxed);
  if (!table || (table->size + 1) * 2 > table->mask + 1) {
    // Grow into a new array; readers still probing the old one finish there.
    auto bigger = std::make_unique<cache_table>(table ? (table->mask + 1) * 2 : 16);
    if (table) {
      for (std::size_t i = 0; i <= table->mask; ++i) {
        if (cache_entry* entry = table->slots[i].load(std::memory_order_relaxed)) {
          bigger->place(entry);
        }
      }
    }
    cache_table* outgrown = table;
    table = bigger.release();
    cache_.store(table, std::memory_order_release);
    // Only once unlinked: a reader that starts after a retire must not find it.
    if (outgrown) {
      epoch::retire(outgrown);
      retired = true;
    }
  }
  for (std::size_t i = hash & table->mask;; i = (i + 1) & table->mask) {
    cache_entry* entry = table->slots[i].load(std::memory_order_relaxed);
    if (!entry) {
      table->slots[i].store(cache_entry::create(subject, hash, result), std::memory_order_release);
      ++table->size;
      return retired;
    }
    if (entry->hash == hash && entry->key() == subject) return retired;
  }
}

bool sublist::cache_erase_locked(std::string_view subject) const {
  cache_table* table = cache_.load(std::memory_order_relaxed);
  if (!table || table->size == 0) return false;
  const std::size_t mask = table->mask;
  const std::uint64_t hash = string_hash::nonzero(subject);
  for (std::size_t hole = hash & mask;; hole = (hole + 1) & mask) {
    cache_entry* doomed = table->slots[hole].load(std::memory_order_relaxed);
    if (!doomed) return false;
    if (doomed->hash != hash || doomed->key() != subject) continue;
    for (std::size_t next = (hole + 1) & mask;; next = (next + 1) & mask) {
      cache_entry* moving = table->slots[next].load(std::memory_order_relaxed);
      if (!moving) break;
      if (stays_after_erase(hole, next, moving->hash & mask)) continue;
      table->slots[hole].store(moving, std::memory_order_release);
      hole = next;
    }
    table->slots[hole].store(nullptr, std::memory_order_release);
    --table->size;
    epoch::retire(doomed, [](void* p) { cache_entry::destroy(static_cast<cache_entry*>(p)); });
    return true;
  }
}

template <typename Keep>
bool sublist::cache_rebuild_locked(std::size_t at_most, Keep&& keep) const {
  cache_table* table = cache_.load(std::memory_order_relaxed);
  if (!table) return false;
  auto dropped = std::make_unique<retired_entries<cache_entry>>();
  std::vector<cache_entry*> kept;
  for (std::size_t i = 0; i <= table->mask; ++i) {
    cache_entry* entry = table->slots[i].load(std::memory_order_relaxed);
    if (!entry) continue;
    if (kept.size() < at_most && keep(entry->key())) {
      kept.push_back(entry);
    } else {
      dropped->entries.push_back(entry);
    }
  }
  if (dropped->entries.empty()) return false;
  cache_table* rebuilt = nullptr;
  if (!kept.empty()) {
    std::size_t capacity = 16;
    while (capacity < kept.size() * 2) capacity *= 2;
    rebuilt = new cache_table(capacity);
    for (cache_entry* entry : kept) rebuilt->place(entry);
  }
  cache_.store(rebuilt, std::memory_order_release);
  epoch::retire(table);
  epoch::retire(dropped.release());
  return true;
}

bool sublist::cache_drop_locked(const subscription& sub) {
  if (protocol::subject_is_literal(sub.subject)) return cache_erase_locked(sub.subject);
  // Cached subjects have no empty token (those are never cached); wildcard
  // tokens in them (a PUB to "a.*", a permission check) compare as the trie
  // takes them: a pattern `*` or `>` covers them, a literal token does not.
  return cache_rebuild_locked(cache_max, [&](std::string_view subject) {
    return !protocol::subject_matches(sub.subject, subject);
  });
}

sublist::~sublist() {
  // No reader may be using a router being destroyed, so its cache goes now.
  if (cache_table* table = cache_.load(std::memory_order_relaxed)) {
    for (std::size_t i = 0; i <= table->mask; ++i) {
      if (cache_entry* entry = table->slots[i].load(std::memory_order_relaxed)) {
        cache_entry::destroy(entry);
      }
    }
    delete table;
  }
}

// Every change runs under the exclusive trie lock: it changes the trie, drops
// the cache entries it affects, then moves the generation (release), so an L1
// cache that reads the new generation also sees the entries gone. Cache
// stores happen under the shared trie lock (and the cache mutex, which orders
// stores among themselves), so no change can come between a miss's walk and
// its store: the cache never takes in a result older than the trie. Lock-free
// cache readers may still find an entry a change is about to drop; they read
// the generation first, so an L1 cache that copied one starts over on its
// next call. Whatever a change retired is reclaimed after the lock is
// released, since freeing a result can free subscriptions and what they own.

void sublist::changed_locked() noexcept {
  // Writers are serialised by the exclusive lock: no atomic read-modify-write.
  generation_.store(generation_.load(std::memory_order_relaxed) + 1, std::memory_order_release);
}

void sublist::insert(std::shared_ptr<subscription> sub) {
  bool retired = false;
  {
    std::unique_lock trie_lock(trie_mutex_);
    bool first = false;
    if (!insert_locked(sub, first)) return;
    count_.store(count_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    inserts_.store(inserts_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (auto hook = detail::sublist_test_hooks::before_cache_drop.load(std::memory_order_relaxed)) {
      hook();
    }
    if (cache_enabled_) retired = cache_drop_locked(*sub);
    changed_locked();
    if (interest_hook_) [[unlikely]] {
      interest_hook_(interest_change{interest_change::kind::added, *sub, first});
    }
  }
  if (retired) epoch::reclaim();
}

bool sublist::remove(const std::shared_ptr<subscription>& sub) {
  if (!sub) return false;
  bool retired = false;
  {
    std::unique_lock trie_lock(trie_mutex_);
    bool last = false;
    if (!remove_locked(sub, last)) return false;
    sub->closed.store(true, std::memory_order_release);
    count_.store(count_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
    removes_.store(removes_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (prune_queue_.size() >= prune_batch) prune_locked();
    if (auto hook = detail::sublist_test_hooks::before_cache_drop.load(std::memory_order_relaxed)) {
      hook();
    }
    if (cache_enabled_) retired = cache_drop_locked(*sub);
    changed_locked();
    if (interest_hook_) [[unlikely]] {
      interest_hook_(interest_change{interest_change::kind::removed, *sub, last});
    }
  }
  if (retired) epoch::reclaim();
  return true;
}

void sublist::remove_batch(const std::vector<std::shared_ptr<subscription>>& subs) {
  // Past this many removals, emptying the cache beats scanning it per removal.
  constexpr std::size_t scan_limit = 16;
  bool retired = false;
  {
    std::unique_lock trie_lock(trie_mutex_);
    std::size_t removed = 0;
    // The first few removed, for dropping their cache entries one by one.
    const subscription* first[scan_limit];
    // With a hook: each removal and whether it was the last of its kind, to
    // report once the batch is done. Empty (never allocated) without one.
    std::vector<std::pair<const subscription*, bool>> reported;
    for (std::size_t i = 0; i < subs.size(); ++i) {
      const auto& sub = subs[i];
      bool last = false;
      if (!sub || !remove_locked(sub, last)) continue;
      sub->closed.store(true, std::memory_order_release);
      if (removed < scan_limit) first[removed] = sub.get();
      ++removed;
      if (interest_hook_) [[unlikely]] reported.emplace_back(sub.get(), last);
    }
    if (removed == 0) return;
    prune_locked();
    count_.store(count_.load(std::memory_order_relaxed) - removed, std::memory_order_relaxed);
    removes_.store(removes_.load(std::memory_order_relaxed) + removed, std::memory_order_relaxed);
    if (auto hook = detail::sublist_test_hooks::before_cache_drop.load(std::memory_order_relaxed)) {
      hook();
    }
    if (cache_enabled_) {
      if (removed > scan_limit) {
        retired = cache_rebuild_locked(0, [](std::string_view) { return false; });
      } else {
        for (std::size_t i = 0; i < removed; ++i) retired |= cache_drop_locked(*first[i]);
      }
    }
    changed_locked();
    for (const auto& [sub, last] : reported) {
      interest_hook_(interest_change{interest_change::kind::removed, *sub, last});
    }
  }
  if (retired) epoch::reclaim();
}

void sublist::set_interest_hook(interest_hook hook) {
  interest_hook retired_hook;
  {
    std::unique_lock trie_lock(trie_mutex_);
    retired_hook = std::exchange(interest_hook_, std::move(hook));
  }
  // The old hook (and whatever it captured) goes with no lock held.
}

std::shared_ptr<const match_result> sublist::match_uncached(std::string_view literal_subject,
                                                            std::uint64_t hash) const {
  const token_list tokens(literal_subject);
  if (tokens.has_empty_token()) return empty_result();
  std::shared_ptr<const match_result> result;
  bool retired = false;
  {
    std::shared_lock trie_lock(trie_mutex_);
    builder collect;
    walk_level(root_.get(), tokens.data(), tokens.size(), 0, collect);
    result = collect.finish();
    if (auto hook = detail::sublist_test_hooks::after_walk.load(std::memory_order_relaxed)) hook();
    if (cache_enabled_) {
      // Storing is optional: if another miss is storing, skip rather than wait.
      std::unique_lock cache_lock(cache_mutex_, std::try_to_lock);
      if (cache_lock.owns_lock()) {
        retired = cache_store_locked(literal_subject, hash, result);
        const cache_table* table = cache_.load(std::memory_order_relaxed);
        if (table->size > cache_max) {
          // Which entries stay is arbitrary (slot order), as in nats-server
          // (map order); results in use elsewhere stay alive through their
          // shared_ptr.
          retired |= cache_rebuild_locked(cache_sweep_to, [](std::string_view) { return true; });
        }
      }
    }
  }
  if (retired) epoch::reclaim();
  return result;
}

std::shared_ptr<const match_result> sublist::match(std::string_view literal_subject) const {
  const std::uint64_t hash = string_hash::nonzero(literal_subject);
  matches_.fetch_add(1, std::memory_order_relaxed);
  if (cache_enabled_) {
    epoch::read_section section;
    if (const cache_entry* hit = cache_find(literal_subject, hash)) return hit->result;
  }
  cache_misses_.fetch_add(1, std::memory_order_relaxed);
  return match_uncached(literal_subject, hash);
}

const match_result& sublist::match(std::string_view literal_subject,
                                   sublist_read_scope& scope) const {
  const std::uint64_t hash = string_hash::nonzero(literal_subject);
  // The scope's section is open: an entry found stays alive until it closes.
  matches_.fetch_add(1, std::memory_order_relaxed);
  if (cache_enabled_) {
    if (const cache_entry* hit = cache_find(literal_subject, hash)) return *hit->result;
  }
  cache_misses_.fetch_add(1, std::memory_order_relaxed);
  scope.held_ = match_uncached(literal_subject, hash);
  return *scope.held_;
}

bool sublist::has_interest(std::string_view literal_subject) const {
  if (cache_enabled_) {
    epoch::read_section section;
    const std::uint64_t hash = string_hash::nonzero(literal_subject);
    if (const cache_entry* hit = cache_find(literal_subject, hash)) return !hit->result->empty();
  }
  const token_list tokens(literal_subject);
  if (tokens.has_empty_token()) return false;
  auto found = [](const node& n) { return n.has_subscriptions(); };
  std::shared_lock trie_lock(trie_mutex_);
  return walk_level(root_.get(), tokens.data(), tokens.size(), 0, found);
}

std::size_t sublist::cache_count() const {
  std::shared_lock trie_lock(trie_mutex_);
  std::lock_guard cache_lock(cache_mutex_);
  const cache_table* table = cache_.load(std::memory_order_relaxed);
  return table ? table->size : 0;
}

namespace {

template <typename Level, typename Visit>
void visit_level(const Level& l, const Visit& visit) {
  auto on_node = [&visit](const auto& n) {
    for (const auto& sub : n.plain.items()) visit(*sub);
    for (const auto& group : n.queues) {
      for (const auto& sub : group.members.items()) visit(*sub);
    }
    visit_level(n.children, visit);
  };
  l.literals.for_each(on_node);
  if (l.star) on_node(*l.star);
  if (l.full) on_node(*l.full);
}

}  // namespace

void sublist::for_each(const std::function<void(const subscription&)>& visit) const {
  std::shared_lock trie_lock(trie_mutex_);
  visit_level(*root_, visit);
}

sublist::statistics sublist::stats() const {
  statistics out;
  out.subscriptions = count();
  out.inserts = inserts_.load(std::memory_order_relaxed);
  out.removes = removes_.load(std::memory_order_relaxed);
  out.matches = matches_.load(std::memory_order_relaxed);
  // Misses are counted after matches: read in the other order, a lookup in
  // flight never makes more misses than matches.
  const std::uint64_t misses = cache_misses_.load(std::memory_order_relaxed);
  out.matches = std::max(out.matches, misses);
  out.cache_hits = out.matches - misses;
  std::shared_lock trie_lock(trie_mutex_);
  std::lock_guard cache_lock(cache_mutex_);
  const cache_table* table = cache_.load(std::memory_order_relaxed);
  if (!table) return out;
  out.cache_entries = table->size;
  std::size_t total_fanout = 0;
  for (std::size_t i = 0; i <= table->mask; ++i) {
    const cache_entry* entry = table->at(i);
    if (!entry) continue;
    std::size_t fanout = entry->result->plain.size() + entry->result->queues.size();
    total_fanout += fanout;
    out.max_fanout = std::max(out.max_fanout, fanout);
  }
  if (out.cache_entries > 0) out.average_fanout = static_cast<double>(total_fanout) / out.cache_entries;
  return out;
}

std::size_t sublist::node_count() {
  std::unique_lock trie_lock(trie_mutex_);
  prune_locked();
  return count_nodes(*root_);
}

// ---------------------------------------------------------------------------
// Per-thread L1 cache

sublist_l1_cache::sublist_l1_cache(std::size_t max_entries) : max_entries_(max_entries) {}

const std::shared_ptr<const match_result>& sublist_l1_cache::match(const sublist& list,
                                                                   std::string_view subject) {
  const std::uint64_t generation = list.generation();
  if (list.instance_id_ != list_id_ || generation != generation_) {
    entries_.clear();
    list_id_ = list.instance_id_;
    generation_ = generation;
  } else if (last_hit_ != nullptr && protocol::equal_bytes(last_hit_->key, subject)) {
    return last_hit_->value;
  } else if (const auto* hit = entries_.find_slot(subject)) {
    last_hit_ = hit;
    return hit->value;
  }
  last_hit_ = nullptr;
  if (entries_.size() >= max_entries_) entries_.clear();
  // The router's answer reflects its state at or after `generation`; if it
  // moved meanwhile, the next call sees the new generation and starts over.
  return *entries_.try_emplace(subject, list.match(subject)).first;
}

void sublist_l1_cache::clear() noexcept {
  entries_.clear();
  last_hit_ = nullptr;
  list_id_ = 0;
}

}  // namespace courier::broker
