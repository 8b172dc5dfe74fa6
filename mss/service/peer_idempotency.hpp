// Idempotency across mss instances. Each instance's dispatcher remembers
// the actions it ran (mss/handlers/idempotency_cache); with several instances in one
// queue group a client's retry may land on another instance, which would
// run the action again. So instances tell each other, on
// `<prefix>.mss.idempotency`, when they start and finish a keyed action:
//   {"instance":"<id>","key":"<subject> <key>","state":"running"}
//   {"instance":"<id>","key":"...","state":"done","ok":true,"result":"<reply>"}
// A repeat that arrives at another instance waits for the running one's
// result, or is answered from it, and is not run again. Failed runs are not
// kept (as in the dispatcher: a retry after a failure runs again).
//
// Limits: two instances receiving the same key within the time a note takes
// to travel (well under a millisecond on one server) may both run it; a
// "running" note whose instance dies is forgotten after the window.
#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace courier::mss {

/// What this instance knows about keys; thread-safe.
class peer_idempotency {
 public:
  using clock = std::chrono::steady_clock;

  explicit peer_idempotency(std::chrono::milliseconds window) : window_(window) {}

  /// What to do with an action carrying `key`.
  enum class decision {
    run_and_announce,  ///< unknown key: run here and tell the peers
    run_locally,       ///< ours (running or done here): the dispatcher's cache answers it
    wait_for_peer,     ///< a peer runs it: the reply waits for its note
    answer,            ///< a peer finished it: reply with `result`
  };
  struct outcome {
    decision what = decision::run_and_announce;
    std::string result;
  };

  /// Decides for `key`; with wait_for_peer, a non-empty `reply` is kept.
  outcome check(const std::string& key, const std::string& reply, clock::time_point now = clock::now());
  /// This instance finished `key` (ok: keep it; failed: forget it).
  void finished_locally(const std::string& key, bool ok, clock::time_point now = clock::now());
  /// A peer's "running" note.
  void peer_running(const std::string& key, clock::time_point now = clock::now());
  /// A peer's "done" note: returns the replies waiting here for it.
  std::vector<std::string> peer_done(const std::string& key, bool ok, const std::string& result,
                                     clock::time_point now = clock::now());
  /// Keys held.
  std::size_t size() const;

 private:
  enum class state { local, peer_running, peer_done };
  struct entry {
    state where = state::local;
    std::string result;
    std::vector<std::string> waiters;
    clock::time_point expires;
  };
  void prune_locked(clock::time_point now);
  void touch_locked(const std::string& key, entry& e, clock::time_point now);

  const std::chrono::milliseconds window_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, entry> entries_;                    // lock: mutex_
  std::deque<std::pair<clock::time_point, std::string>> expiry_;      // lock: mutex_; oldest first
};

}  // namespace courier::mss
