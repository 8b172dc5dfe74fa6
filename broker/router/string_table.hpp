// The router's flat hash tables, keyed by short strings (subjects, tokens).
//
//  * string_hash: a fast, transparent hash for subjects and tokens.
//  * probe_table<Slot>: open addressing over one slot array, probed linearly,
//    a power of two in size and at most half full; erasing shifts later
//    entries back instead of leaving tombstones. It holds the probing once
//    for every single-threaded table of the router: string_table below and
//    the trie's child tables (sublist.cpp), which keep their key in the node
//    rather than in the slot.
//  * string_table<Value>: strings to values, searched by string_view, so a
//    lookup touches one or two cache lines and never allocates (the L1 match
//    cache, and the permission decision caches in auth/).
//
// The sublist's shared result cache probes the same way over atomic slots
// (readers take no lock there), with stays_after_erase as its erase rule.
//
// Not thread-safe: owners guard these tables with their own locks or keep
// them on one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "protocol/short_bytes.hpp"

namespace courier::broker {

/// Linear probing with back-shift erase: once slot `hole` is emptied, the
/// entry at `next`, whose home slot is `home`, may stay put if its home lies
/// cyclically in (hole, next]; otherwise it moves back into the hole.
inline bool stays_after_erase(std::size_t hole, std::size_t next, std::size_t home) noexcept {
  return hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
}

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

  /// The hash tables file a key under: string_hash, never 0 (0 marks an
  /// empty slot).
  static std::uint64_t nonzero(std::string_view text) noexcept {
    const std::uint64_t hash = string_hash{}(text);
    return hash ? hash : 1;
  }
};

/// Open-addressing core. Slot is default-constructible and movable, with a
/// `std::uint64_t hash` member: 0 marks an empty slot, and a default-made
/// slot is empty. Keys live wherever the owner keeps them: every search
/// takes the hash and a `same(const Slot&)` predicate, asked only of slots
/// with an equal hash.
///
/// Invariants: slots_ is null or holds mask_ + 1 (a power of two) slots, of
/// which size_ are in use, never more than half; every entry is reachable
/// from its home slot (hash & mask_) without crossing an empty slot.
template <typename Slot>
class probe_table {
 public:
  probe_table() = default;
  probe_table(probe_table&&) noexcept = default;
  probe_table& operator=(probe_table&&) noexcept = default;

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  /// The slot filed under `hash` for which same(slot) holds, or null.
  template <typename Same>
  Slot* find(std::uint64_t hash, Same&& same) const noexcept {
    if (size_ == 0) return nullptr;
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& entry = slots_[i];
      if (entry.hash == 0) return nullptr;
      if (entry.hash == hash && same(std::as_const(entry))) return &entry;
    }
  }

  /// The slot under `hash` for which same(slot) holds, or, if there is none,
  /// a fresh one made by make() and filed (growing first if needed). Returns
  /// the slot and whether it was made.
  template <typename Same, typename Make>
  std::pair<Slot*, bool> find_or_add(std::uint64_t hash, Same&& same, Make&& make) {
    if (!slots_ || (size_ + 1) * 2 > mask_ + 1) grow();
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      Slot& entry = slots_[i];
      if (entry.hash == 0) {
        entry = make();
        entry.hash = hash;
        ++size_;
        return {&entry, true};
      }
      if (entry.hash == hash && same(std::as_const(entry))) return {&entry, false};
    }
  }

  /// Files a slot whose key is known to be absent.
  Slot& add_new(Slot&& entry) {
    if (!slots_ || (size_ + 1) * 2 > mask_ + 1) grow();
    return place(std::move(entry));
  }

  /// Erases the slot under `hash` for which same(slot) holds; false if none.
  template <typename Same>
  bool erase(std::uint64_t hash, Same&& same) noexcept {
    if (size_ == 0) return false;
    for (std::size_t i = hash & mask_;; i = (i + 1) & mask_) {
      const Slot& entry = slots_[i];
      if (entry.hash == 0) return false;
      if (entry.hash == hash && same(entry)) {
        erase_at(i);
        return true;
      }
    }
  }

  /// Removes every slot for which doomed(slot) is true.
  template <typename Doomed>
  void erase_if(Doomed&& doomed) {
    if (size_ == 0) return;
    // Erasing shifts later entries back: recheck the slot just erased. An
    // entry that wraps around into slots already passed was checked there.
    for (std::size_t i = 0; i <= mask_;) {
      if (slots_[i].hash != 0 && doomed(std::as_const(slots_[i]))) {
        erase_at(i);
      } else {
        ++i;
      }
    }
  }

  /// Calls visit(slot) for every slot in use.
  template <typename Visit>
  void for_each(Visit&& visit) const {
    if (size_ == 0) return;
    for (std::size_t i = 0; i <= mask_; ++i) {
      if (slots_[i].hash != 0) visit(slots_[i]);
    }
  }

  /// Keeps only the first `keep` slots in slot order (an arbitrary choice,
  /// as a sweep wants), dropping the rest.
  void retain(std::size_t keep) {
    if (size_ <= keep) return;
    probe_table kept;
    kept.allocate(keep);
    for (std::size_t i = 0; i <= mask_ && kept.size_ < keep; ++i) {
      if (slots_[i].hash != 0) kept.add_new(std::move(slots_[i]));
    }
    *this = std::move(kept);
  }

  /// Removes every slot, keeping the array.
  void clear() noexcept {
    if (size_ == 0) return;
    for (std::size_t i = 0; i <= mask_; ++i) {
      if (slots_[i].hash != 0) slots_[i] = Slot{};
    }
    size_ = 0;
  }

  /// Frees the array (only while empty: a table that emptied gives its memory
  /// back).
  void release() noexcept {
    slots_.reset();
    mask_ = 0;
    size_ = 0;
  }

  /// Asks the CPU to fetch the slot where a probe for `hash` starts, ahead of
  /// a find or erase: in a big table that slot is a cache miss.
  void prefetch(std::uint64_t hash) const noexcept {
    if (size_ != 0) __builtin_prefetch(&slots_[hash & mask_], 1);
  }

 private:
  /// Gives an empty table room for `entries` without growing.
  void allocate(std::size_t entries) {
    std::size_t capacity = 8;
    while (capacity < entries * 2 + 2) capacity *= 2;
    slots_ = std::make_unique<Slot[]>(capacity);
    mask_ = capacity - 1;
  }

  void grow() {
    const std::size_t capacity = slots_ ? (mask_ + 1) * 2 : 8;
    auto old = std::move(slots_);
    const std::size_t old_capacity = old ? mask_ + 1 : 0;
    slots_ = std::make_unique<Slot[]>(capacity);
    mask_ = capacity - 1;
    size_ = 0;
    for (std::size_t i = 0; i < old_capacity; ++i) {
      if (old[i].hash != 0) place(std::move(old[i]));
    }
  }

  /// Files an entry known to be absent, in a table with room for it.
  Slot& place(Slot&& entry) {
    std::size_t i = entry.hash & mask_;
    while (slots_[i].hash != 0) i = (i + 1) & mask_;
    slots_[i] = std::move(entry);
    ++size_;
    return slots_[i];
  }

  /// Empties slot `hole`, shifting back later entries of its probe run that
  /// would otherwise become unreachable.
  void erase_at(std::size_t hole) noexcept {
    for (std::size_t next = (hole + 1) & mask_; slots_[next].hash != 0; next = (next + 1) & mask_) {
      if (stays_after_erase(hole, next, slots_[next].hash & mask_)) continue;
      slots_[hole] = std::move(slots_[next]);
      hole = next;
    }
    slots_[hole] = Slot{};
    --size_;
  }

  std::unique_ptr<Slot[]> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

/// Hash table from strings to Value, searched by string_view without
/// allocating. Value must be default-constructible and movable.
template <typename Value>
class string_table {
 public:
  /// One entry; `hash` 0 marks an empty slot.
  struct slot {
    std::uint64_t hash = 0;
    std::string key;
    Value value{};
  };

  /// The hash this table files key under.
  static std::uint64_t hash_of(std::string_view key) noexcept { return string_hash::nonzero(key); }

  std::size_t size() const noexcept { return table_.size(); }
  bool empty() const noexcept { return table_.empty(); }

  /// The value under key, or null.
  Value* find(std::string_view key) noexcept { return find(key, hash_of(key)); }
  const Value* find(std::string_view key) const noexcept { return find(key, hash_of(key)); }
  /// As find(key), with hash == hash_of(key) already computed.
  Value* find(std::string_view key, std::uint64_t hash) noexcept {
    slot* found = table_.find(hash, [key](const slot& s) { return protocol::equal_bytes(s.key, key); });
    return found ? &found->value : nullptr;
  }
  const Value* find(std::string_view key, std::uint64_t hash) const noexcept {
    return const_cast<string_table*>(this)->find(key, hash);
  }

  /// The entry under key, or null. Valid until the table next changes.
  slot* find_slot(std::string_view key) noexcept {
    return table_.find(hash_of(key), [key](const slot& s) { return protocol::equal_bytes(s.key, key); });
  }

  /// Inserts key -> value unless key is present; returns the stored value and
  /// whether it was inserted.
  std::pair<Value*, bool> try_emplace(std::string_view key, Value value) {
    auto [entry, added] = table_.find_or_add(
        hash_of(key), [key](const slot& s) { return protocol::equal_bytes(s.key, key); },
        [&] { return slot{0, std::string(key), std::move(value)}; });
    return {&entry->value, added};
  }

  /// Removes key; false if absent.
  bool erase(std::string_view key) noexcept {
    return table_.erase(hash_of(key), [key](const slot& s) { return protocol::equal_bytes(s.key, key); });
  }

  /// Calls visit(key, value) for every entry.
  template <typename Visit>
  void for_each(Visit&& visit) {
    table_.for_each([&visit](slot& s) { visit(std::as_const(s.key), s.value); });
  }
  template <typename Visit>
  void for_each(Visit&& visit) const {
    table_.for_each([&visit](const slot& s) { visit(s.key, s.value); });
  }

  /// Removes every entry for which doomed(key, value) is true.
  template <typename Doomed>
  void erase_if(Doomed&& doomed) {
    table_.erase_if([&doomed](const slot& s) { return doomed(s.key, s.value); });
  }

  /// Keeps only the first `keep` entries in slot order (an arbitrary choice,
  /// as a sweep wants), dropping the rest.
  void retain(std::size_t keep) { table_.retain(keep); }

  /// Removes every entry, keeping the slot array.
  void clear() noexcept { table_.clear(); }

 private:
  probe_table<slot> table_;
};

}  // namespace courier::broker
