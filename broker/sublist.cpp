#include "broker/sublist.hpp"

#include <algorithm>
#include <mutex>
#include <utility>

namespace courier::broker {

// ---------------------------------------------------------------------------
// Hashing

namespace {

/// 64x64->128 multiply folded to 64 bits: a cheap, well-mixing step.
inline std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) noexcept {
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

inline std::uint64_t load_u64(const char* p) noexcept {
  std::uint64_t value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

inline std::uint32_t load_u32(const char* p) noexcept {
  std::uint32_t value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

}  // namespace

std::size_t detail::string_hash::operator()(std::string_view text) const noexcept {
  // Odd 64-bit constants with well-spread bits (digits of pi and the golden
  // ratio); any such constants do. Subjects are short, so the loop runs a few
  // times at most and the tail is read with two overlapping loads.
  const char* p = text.data();
  std::size_t n = text.size();
  std::uint64_t hash = 0x9e3779b97f4a7c15ull ^ (n * 0x243f6a8885a308d3ull);
  while (n > 8) {
    hash = fold_multiply(hash ^ load_u64(p), 0x13198a2e03707345ull);
    p += 8;
    n -= 8;
  }
  std::uint64_t tail = 0;
  if (n >= 4) {
    tail = (static_cast<std::uint64_t>(load_u32(p)) << 32) | load_u32(p + n - 4);
  } else if (n > 0) {
    tail = (static_cast<std::uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
           (static_cast<std::uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8) |
           static_cast<unsigned char>(p[n - 1]);
  }
  return fold_multiply(hash ^ tail, 0xa4093822299f31d1ull);
}

// ---------------------------------------------------------------------------
// Subject helpers. The caller validates subjects; these only split them.

namespace {

constexpr std::string_view star_token = "*";
constexpr std::string_view full_token = ">";

/// The tokens of a subject, on the stack for all but absurdly deep subjects.
class token_list {
 public:
  explicit token_list(std::string_view subject) {
    const char* begin = subject.data();
    const char* end = begin + subject.size();
    const char* start = begin;
    for (;;) {
      const void* dot = start == end ? nullptr : std::memchr(start, '.', end - start);
      if (!dot) {
        push(std::string_view(start, end - start));
        break;
      }
      const char* at = static_cast<const char*>(dot);
      push(std::string_view(start, at - start));
      start = at + 1;
    }
  }
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
};

/// True when the subject has no wildcard token.
bool is_literal(std::string_view subject) noexcept {
  std::size_t start = 0;
  for (;;) {
    std::size_t end = subject.find('.', start);
    if (end == std::string_view::npos) end = subject.size();
    const std::string_view token = subject.substr(start, end - start);
    if (token == star_token || token == full_token) return false;
    if (end == subject.size()) return true;
    start = end + 1;
  }
}

/// True when a subscription subject (with wildcards) matches a literal one.
bool pattern_matches(std::string_view pattern, std::string_view literal) noexcept {
  std::size_t pattern_at = 0;
  std::size_t literal_at = 0;
  for (;;) {
    std::size_t pattern_end = pattern.find('.', pattern_at);
    if (pattern_end == std::string_view::npos) pattern_end = pattern.size();
    std::size_t literal_end = literal.find('.', literal_at);
    if (literal_end == std::string_view::npos) literal_end = literal.size();
    const std::string_view token = pattern.substr(pattern_at, pattern_end - pattern_at);
    // `>` takes the rest, and there is at least one token left here.
    if (token == full_token) return true;
    if (token != star_token && token != literal.substr(literal_at, literal_end - literal_at)) {
      return false;
    }
    const bool pattern_done = pattern_end == pattern.size();
    const bool literal_done = literal_end == literal.size();
    if (pattern_done || literal_done) return pattern_done && literal_done;
    pattern_at = pattern_end + 1;
    literal_at = literal_end + 1;
  }
}

/// The shared answer for "nobody is interested": misses cost no allocation.
const std::shared_ptr<const match_result>& empty_result() {
  static const std::shared_ptr<const match_result> empty = std::make_shared<const match_result>();
  return empty;
}

/// Adds one subscription to a result (used when updating cached copies).
void add_to_result(match_result& result, const std::shared_ptr<subscription>& sub) {
  if (sub->queue.empty()) {
    result.plain.push_back(sub);
    return;
  }
  for (auto& group : result.queues) {
    if (group.front()->queue == sub->queue) {
      group.push_back(sub);
      return;
    }
  }
  result.queues.emplace_back(1, sub);
}

/// A set of subscriptions kept in one contiguous vector (so results copy it in
/// one go), with an identity index once it is big enough that a linear search
/// would cost more than the hash lookup.
class subscription_set {
 public:
  const std::vector<std::shared_ptr<subscription>>& items() const noexcept { return items_; }
  bool empty() const noexcept { return items_.empty(); }

  /// Adds sub; false if it is already there.
  bool add(const std::shared_ptr<subscription>& sub) {
    if (find(sub.get()) != npos) return false;
    items_.push_back(sub);
    if (index_) {
      index_->emplace(sub.get(), items_.size() - 1);
    } else if (items_.size() > index_threshold) {
      index_ = std::make_unique<std::unordered_map<const subscription*, std::size_t>>();
      index_->reserve(items_.size() * 2);
      for (std::size_t i = 0; i < items_.size(); ++i) index_->emplace(items_[i].get(), i);
    }
    return true;
  }

  /// Removes sub (swapping the last one into its place); false if absent.
  bool erase(const subscription* sub) {
    const std::size_t at = find(sub);
    if (at == npos) return false;
    if (index_) index_->erase(sub);
    const std::size_t last = items_.size() - 1;
    if (at != last) {
      items_[at] = std::move(items_[last]);
      if (index_) (*index_)[items_[at].get()] = at;
    }
    items_.pop_back();
    if (index_ && items_.size() < index_threshold / 2) index_.reset();
    if (items_.empty()) items_.shrink_to_fit();
    return true;
  }

 private:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  /// Below this many members a linear scan of pointers beats hashing.
  static constexpr std::size_t index_threshold = 16;

  std::size_t find(const subscription* sub) const {
    if (index_) {
      auto it = index_->find(sub);
      return it == index_->end() ? npos : it->second;
    }
    for (std::size_t i = 0; i < items_.size(); ++i) {
      if (items_[i].get() == sub) return i;
    }
    return npos;
  }

  std::vector<std::shared_ptr<subscription>> items_;
  std::unique_ptr<std::unordered_map<const subscription*, std::size_t>> index_;
};

/// The members of one queue group on one node.
struct queue_group {
  std::string name;
  subscription_set members;
};

}  // namespace

// ---------------------------------------------------------------------------
// Trie

/// One token position: literal tokens by value, wildcards in their own slots
/// so that matching never has to search for them.
struct sublist::level {
  detail::string_map<std::unique_ptr<node>> literals;
  std::unique_ptr<node> star;  ///< `*`: any one token
  std::unique_ptr<node> full;  ///< `>`: one or more tokens, always a leaf

  bool empty() const noexcept { return literals.empty() && !star && !full; }
};

/// Where a subject ends: its subscriptions, and the level of longer subjects.
struct sublist::node {
  std::unique_ptr<level> next;
  subscription_set plain;
  std::vector<queue_group> queues;  ///< never holds an empty group

  bool has_subscriptions() const noexcept { return !plain.empty() || !queues.empty(); }
  /// Nothing left here or below: the node can go.
  bool prunable() const noexcept { return !has_subscriptions() && (!next || next->empty()); }
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
      } else if (star->next && walk_level(star->next.get(), tokens, count, i + 1, visit)) {
        return true;
      }
    }
    auto it = l->literals.find(tokens[i]);
    if (it == l->literals.end()) return false;
    const auto* next = it->second.get();
    if (i + 1 == count) return visit(*next);
    if (!next->next) return false;
    l = next->next.get();
    ++i;
  }
}

template <typename Level>
std::size_t count_nodes(const Level& l) {
  std::size_t total = 0;
  auto add = [&total](const auto& n) {
    total += 1;
    if (n.next) total += count_nodes(*n.next);
  };
  for (const auto& [token, n] : l.literals) add(*n);
  if (l.star) add(*l.star);
  if (l.full) add(*l.full);
  return total;
}

}  // namespace

/// Accumulates the subscriptions of the nodes a walk visits, merging queue
/// groups of the same name found on different nodes.
struct sublist::builder {
  match_result result;

  bool operator()(const node& n) {
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
    return false;  // keep walking
  }
};

sublist::sublist(bool cache_enabled)
    : cache_enabled_(cache_enabled), root_(std::make_unique<level>()) {}

sublist::~sublist() = default;

bool sublist::insert_locked(const std::shared_ptr<subscription>& sub) {
  const token_list tokens(sub->subject);
  level* l = root_.get();
  node* n = nullptr;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string_view token = tokens[i];
    std::unique_ptr<node>* slot;
    if (token == star_token) {
      slot = &l->star;
    } else if (token == full_token) {
      slot = &l->full;
    } else {
      auto it = l->literals.find(token);
      if (it == l->literals.end()) it = l->literals.emplace(std::string(token), nullptr).first;
      slot = &it->second;
    }
    if (!*slot) *slot = std::make_unique<node>();
    n = slot->get();
    if (i + 1 < tokens.size()) {
      if (!n->next) n->next = std::make_unique<level>();
      l = n->next.get();
    }
  }
  if (sub->queue.empty()) return n->plain.add(sub);
  for (auto& group : n->queues) {
    if (group.name == sub->queue) return group.members.add(sub);
  }
  n->queues.push_back(queue_group{sub->queue, {}});
  return n->queues.back().members.add(sub);
}

namespace {

/// Removes sub below level l along tokens[i..], pruning nodes left empty.
template <typename Level>
bool remove_below(Level& l, const token_list& tokens, std::size_t i, const subscription& sub) {
  const std::string_view token = tokens[i];
  decltype(l.literals.begin()) literal;
  decltype(&l.star) slot;
  if (token == star_token) {
    slot = &l.star;
  } else if (token == full_token) {
    slot = &l.full;
  } else {
    literal = l.literals.find(token);
    if (literal == l.literals.end()) return false;
    slot = &literal->second;
  }
  auto* n = slot->get();
  if (!n) return false;

  bool removed = false;
  if (i + 1 == tokens.size()) {
    if (sub.queue.empty()) {
      removed = n->plain.erase(&sub);
    } else {
      for (auto group = n->queues.begin(); group != n->queues.end(); ++group) {
        if (group->name != sub.queue) continue;
        removed = group->members.erase(&sub);
        if (removed && group->members.empty()) n->queues.erase(group);
        break;
      }
    }
  } else if (n->next) {
    removed = remove_below(*n->next, tokens, i + 1, sub);
    if (removed && n->next->empty()) n->next.reset();
  }
  if (removed && n->prunable()) {
    if (token == star_token || token == full_token) {
      slot->reset();
    } else {
      l.literals.erase(literal);
    }
  }
  return removed;
}

}  // namespace

bool sublist::remove_locked(const std::shared_ptr<subscription>& sub) {
  const token_list tokens(sub->subject);
  return remove_below(*root_, tokens, 0, *sub);
}

void sublist::cache_add_locked(const std::shared_ptr<subscription>& sub) {
  auto update = [&sub](std::shared_ptr<const match_result>& entry) {
    auto copy = std::make_shared<match_result>(*entry);
    add_to_result(*copy, sub);
    entry = std::move(copy);
  };
  if (is_literal(sub->subject)) {
    auto it = cache_.find(std::string_view(sub->subject));
    if (it != cache_.end()) update(it->second);
    return;
  }
  for (auto& [subject, entry] : cache_) {
    if (pattern_matches(sub->subject, subject)) update(entry);
  }
}

void sublist::cache_drop_locked(const subscription& sub) {
  if (is_literal(sub.subject)) {
    auto it = cache_.find(std::string_view(sub.subject));
    if (it != cache_.end()) cache_.erase(it);
    return;
  }
  for (auto it = cache_.begin(); it != cache_.end();) {
    if (pattern_matches(sub.subject, it->first)) {
      it = cache_.erase(it);
    } else {
      ++it;
    }
  }
}

void sublist::cache_sweep_locked() const {
  // Which entries go is arbitrary (hash order), as in nats-server; results in
  // use elsewhere stay alive through their shared_ptr.
  while (cache_.size() > cache_sweep_to) cache_.erase(cache_.begin());
}

void sublist::insert(std::shared_ptr<subscription> sub) {
  std::unique_lock trie_lock(trie_mutex_);
  if (!insert_locked(sub)) return;
  count_.fetch_add(1, std::memory_order_relaxed);
  std::unique_lock cache_lock(cache_mutex_);
  generation_.fetch_add(1, std::memory_order_release);
  if (cache_enabled_) cache_add_locked(sub);
}

bool sublist::remove(const std::shared_ptr<subscription>& sub) {
  if (!sub) return false;
  std::unique_lock trie_lock(trie_mutex_);
  if (!remove_locked(sub)) return false;
  sub->closed.store(true, std::memory_order_release);
  count_.fetch_sub(1, std::memory_order_relaxed);
  std::unique_lock cache_lock(cache_mutex_);
  generation_.fetch_add(1, std::memory_order_release);
  if (cache_enabled_) cache_drop_locked(*sub);
  return true;
}

void sublist::remove_batch(const std::vector<std::shared_ptr<subscription>>& subs) {
  // Past this many removals, emptying the cache beats scanning it per removal.
  constexpr std::size_t scan_limit = 16;
  std::vector<const subscription*> removed;
  std::unique_lock trie_lock(trie_mutex_);
  for (const auto& sub : subs) {
    if (!sub || !remove_locked(sub)) continue;
    sub->closed.store(true, std::memory_order_release);
    removed.push_back(sub.get());
  }
  if (removed.empty()) return;
  count_.fetch_sub(removed.size(), std::memory_order_relaxed);
  std::unique_lock cache_lock(cache_mutex_);
  generation_.fetch_add(1, std::memory_order_release);
  if (!cache_enabled_) return;
  if (removed.size() > scan_limit) {
    cache_.clear();
  } else {
    for (const subscription* sub : removed) cache_drop_locked(*sub);
  }
}

std::shared_ptr<const match_result> sublist::match(std::string_view literal_subject) const {
  if (cache_enabled_) {
    std::shared_lock cache_lock(cache_mutex_);
    auto it = cache_.find(literal_subject);
    if (it != cache_.end()) return it->second;
  }
  const token_list tokens(literal_subject);
  std::shared_ptr<const match_result> result;
  std::uint64_t seen_generation;
  {
    std::shared_lock trie_lock(trie_mutex_);
    seen_generation = generation_.load(std::memory_order_relaxed);
    builder collect;
    walk_level(root_.get(), tokens.data(), tokens.size(), 0, collect);
    if (collect.result.empty()) {
      result = empty_result();
    } else {
      result = std::make_shared<const match_result>(std::move(collect.result));
    }
  }
  if (cache_enabled_) {
    std::unique_lock cache_lock(cache_mutex_);
    // Store only if no insert/remove happened since the walk: otherwise the
    // result may already be stale for the cache (it is still a correct answer
    // for this call, which overlapped the change).
    if (generation_.load(std::memory_order_relaxed) == seen_generation) {
      cache_.try_emplace(std::string(literal_subject), result);
      if (cache_.size() > cache_max) cache_sweep_locked();
    }
  }
  return result;
}

bool sublist::has_interest(std::string_view literal_subject) const {
  if (cache_enabled_) {
    std::shared_lock cache_lock(cache_mutex_);
    auto it = cache_.find(literal_subject);
    if (it != cache_.end()) return !it->second->empty();
  }
  const token_list tokens(literal_subject);
  auto found = [](const node& n) { return n.has_subscriptions(); };
  std::shared_lock trie_lock(trie_mutex_);
  return walk_level(root_.get(), tokens.data(), tokens.size(), 0, found);
}

std::size_t sublist::cache_count() const {
  std::shared_lock cache_lock(cache_mutex_);
  return cache_.size();
}

std::size_t sublist::node_count() const {
  std::shared_lock trie_lock(trie_mutex_);
  return count_nodes(*root_);
}

// ---------------------------------------------------------------------------
// Per-thread L1 cache

sublist_l1_cache::sublist_l1_cache(std::size_t max_entries) : max_entries_(max_entries) {}

const std::shared_ptr<const match_result>& sublist_l1_cache::match(const sublist& list,
                                                                   std::string_view subject) {
  const std::uint64_t generation = list.generation();
  if (&list != list_ || generation != generation_) {
    entries_.clear();
    list_ = &list;
    generation_ = generation;
  } else {
    auto it = entries_.find(subject);
    if (it != entries_.end()) return it->second;
  }
  if (entries_.size() >= max_entries_) entries_.clear();
  // The router's answer reflects its state at or after `generation`; if it
  // moved meanwhile, the next call sees the new generation and starts over.
  return entries_.emplace(std::string(subject), list.match(subject)).first->second;
}

void sublist_l1_cache::clear() noexcept {
  entries_.clear();
  list_ = nullptr;
}

}  // namespace courier::broker
