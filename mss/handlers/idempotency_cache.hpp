// Exactly-once support for actions: remembers, per idempotency key (a
// Nats-Msg-Id header or the message's correlationId), whether the action is
// running or what it answered, for a window of time.
//
//  * First request with a key: begin() returns `started`; the caller runs
//    the action and calls complete() with the reply.
//  * Same key while it runs: begin() returns `waiting` and keeps the
//    waiter; complete() hands it the same reply (the action runs once).
//  * Same key after completion, within the window: begin() returns
//    `completed` with the stored reply.
//  * Failed actions are forgotten by default (complete(..., ok=false)), so
//    a client retry after e.g. an SMTP outage executes again; set
//    cache_failures to answer those from the cache too.
//
// Thread-safe; waiters are called outside the lock, on complete()'s thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace courier::mss {

/// Bounded, time-windowed memory of action results.
class idempotency_cache {
 public:
  /// What begin() found.
  enum class state {
    started,   ///< new key: run the action, then complete()
    waiting,   ///< running already: the waiter gets the reply
    completed  ///< done within the window: `reply` holds the answer
  };
  /// Receives the reply of the run a repeated request attached to.
  using waiter = std::function<void(const std::string& reply)>;

  /// `window`: how long completed replies are kept; `max_entries`: bound on
  /// remembered keys (oldest completed ones are dropped first).
  idempotency_cache(std::chrono::milliseconds window, std::size_t max_entries, bool cache_failures = false);

  /// See the file comment. `on_reply` is kept only for `waiting`.
  state begin(const std::string& key, waiter on_reply, std::string& reply);

  /// Records the reply of a started key and calls its waiters with it.
  void complete(const std::string& key, const std::string& reply, bool ok);

  /// Number of remembered keys (running and completed).
  std::size_t size() const;

 private:
  using clock = std::chrono::steady_clock;
  struct entry {
    bool done = false;
    std::string reply;
    std::vector<waiter> waiters;
  };
  void prune(clock::time_point now);  // lock held

  std::chrono::milliseconds window_;
  std::size_t max_entries_;
  bool cache_failures_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, entry> entries_;
  std::deque<std::pair<clock::time_point, std::string>> completed_order_;  ///< completion time, key
};

}  // namespace courier::mss
