#include "mss/handlers/idempotency_cache.hpp"

namespace courier::mss {

idempotency_cache::idempotency_cache(std::chrono::milliseconds window, std::size_t max_entries, bool cache_failures)
    : window_(window), max_entries_(max_entries == 0 ? 1 : max_entries), cache_failures_(cache_failures) {}

void idempotency_cache::prune(clock::time_point now) {
  // Drop completed entries past the window, then the oldest completed ones
  // while over the bound. Running entries are never dropped: their waiters
  // must be answered.
  while (!completed_order_.empty() &&
         (now - completed_order_.front().first > window_ || entries_.size() > max_entries_)) {
    auto it = entries_.find(completed_order_.front().second);
    if (it != entries_.end() && it->second.done) entries_.erase(it);
    completed_order_.pop_front();
  }
}

idempotency_cache::state idempotency_cache::begin(const std::string& key, waiter on_reply, std::string& reply) {
  std::lock_guard lock(mutex_);
  prune(clock::now());
  auto [it, inserted] = entries_.try_emplace(key);
  if (inserted) return state::started;
  if (it->second.done) {
    reply = it->second.reply;
    return state::completed;
  }
  it->second.waiters.push_back(std::move(on_reply));
  return state::waiting;
}

void idempotency_cache::complete(const std::string& key, const std::string& reply, bool ok) {
  std::vector<waiter> waiters;
  {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    waiters = std::move(it->second.waiters);
    if (ok || cache_failures_) {
      it->second.done = true;
      it->second.reply = reply;
      it->second.waiters.clear();
      completed_order_.emplace_back(clock::now(), key);
    } else {
      entries_.erase(it);
    }
    prune(clock::now());
  }
  for (auto& w : waiters)
    if (w) w(reply);
}

std::size_t idempotency_cache::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace courier::mss
