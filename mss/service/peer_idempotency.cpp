#include "mss/service/peer_idempotency.hpp"

namespace courier::mss {

void peer_idempotency::touch_locked(const std::string& key, entry& e, clock::time_point now) {
  // Same window for every entry, so the queue stays in expiry order; a
  // touched entry leaves a stale item behind that pruning skips.
  e.expires = now + window_;
  expiry_.emplace_back(e.expires, key);
}

void peer_idempotency::prune_locked(clock::time_point now) {
  while (!expiry_.empty() && expiry_.front().first <= now) {
    auto it = entries_.find(expiry_.front().second);
    if (it != entries_.end() && it->second.expires <= now) entries_.erase(it);
    expiry_.pop_front();
  }
}

peer_idempotency::outcome peer_idempotency::check(const std::string& key, const std::string& reply,
                                                  clock::time_point now) {
  std::lock_guard lock(mutex_);
  prune_locked(now);
  auto [it, inserted] = entries_.try_emplace(key);
  entry& e = it->second;
  if (inserted) {
    e.where = state::local;
    touch_locked(key, e, now);
    return {decision::run_and_announce, {}};
  }
  switch (e.where) {
    case state::local: return {decision::run_locally, {}};
    case state::peer_done: return {decision::answer, e.result};
    case state::peer_running:
      if (!reply.empty()) e.waiters.push_back(reply);
      return {decision::wait_for_peer, {}};
  }
  return {decision::run_and_announce, {}};
}

void peer_idempotency::finished_locally(const std::string& key, bool ok, clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.where != state::local) return;
  if (!ok) {
    entries_.erase(it);
    return;
  }
  touch_locked(key, it->second, now);
}

void peer_idempotency::peer_running(const std::string& key, clock::time_point now) {
  std::lock_guard lock(mutex_);
  prune_locked(now);
  auto [it, inserted] = entries_.try_emplace(key);
  if (!inserted) return;  // known here already (ours, or a note we had)
  it->second.where = state::peer_running;
  touch_locked(key, it->second, now);
}

std::vector<std::string> peer_idempotency::peer_done(const std::string& key, bool ok, const std::string& result,
                                                     clock::time_point now) {
  std::lock_guard lock(mutex_);
  std::vector<std::string> waiters;
  auto it = entries_.find(key);
  if (it != entries_.end() && it->second.where == state::local) return waiters;  // we ran it too
  if (it == entries_.end()) {
    if (!ok) return waiters;
    it = entries_.try_emplace(key).first;
  }
  waiters.swap(it->second.waiters);
  if (ok) {
    it->second.where = state::peer_done;
    it->second.result = result;
    touch_locked(key, it->second, now);
  } else {
    entries_.erase(it);  // a retry runs again; the waiting ones get the failure
  }
  return waiters;
}

std::size_t peer_idempotency::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

}  // namespace courier::mss
