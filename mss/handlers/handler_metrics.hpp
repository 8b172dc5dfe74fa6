// What each handler's runs came to, counted by the dispatcher where it
// decides outcomes (mss/handlers/dispatcher.cpp, run_with_retry and
// dead_letter) and written to /metrics by mss/service/metrics. Relaxed
// atomics only: a few increments per handler run, no lock.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace courier::mss {

/// Upper bounds (seconds) of the handler duration histogram's buckets:
/// 1 ms (a log or an audit record on a fast disk) to 30 s (the longest
/// SMTP or HTTP exchange worth telling apart: the default retry delay
/// cap, and longer than the default 10 s peer timeouts). Steps of about
/// 2.5x.
inline constexpr std::array<double, 14> handler_duration_bounds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                                 0.25,  0.5,    1.0,   2.5,  5.0,   10.0, 30.0};

/// A snapshot of a handler's counters.
struct handler_counts {
  std::uint64_t messages = 0;      ///< messages given to the handler (once each, however many attempts)
  std::uint64_t attempts = 0;      ///< runs started (the dispatcher's retries included)
  std::uint64_t succeeded = 0;     ///< messages whose final run succeeded (sent, recorded)
  std::uint64_t failed = 0;        ///< messages whose final run failed (retries used up or not retryable)
  std::uint64_t retries = 0;       ///< attempts after the first (the dispatcher owns retrying)
  std::uint64_t dead_letters = 0;  ///< failures published to the dead letter subject
  std::uint64_t busy = 0;          ///< messages refused because max_in_flight were in flight
  /// Runs per duration bucket (not cumulative); the last is above every bound.
  std::vector<std::uint64_t> duration_buckets;
  double duration_sum_seconds = 0;  ///< total time of the runs counted in duration_buckets
};

/// A handler's live counters. Thread-safe.
class handler_metrics {
 public:
  handler_metrics() = default;
  handler_metrics(const handler_metrics&) = delete;
  handler_metrics& operator=(const handler_metrics&) = delete;

  void on_message() { messages_.fetch_add(1, std::memory_order_relaxed); }
  /// A run started; `attempt` counts from 1.
  void on_attempt(unsigned attempt) {
    attempts_.fetch_add(1, std::memory_order_relaxed);
    if (attempt > 1) retries_.fetch_add(1, std::memory_order_relaxed);
  }
  /// A run (one attempt) ended after `duration`.
  void on_run_done(std::chrono::steady_clock::duration duration) {
    const double seconds = std::chrono::duration<double>(duration).count();
    std::size_t bucket = 0;
    while (bucket < handler_duration_bounds.size() && seconds > handler_duration_bounds[bucket]) ++bucket;
    duration_buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
    duration_sum_ns_.fetch_add(
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(duration).count()),
        std::memory_order_relaxed);
  }
  /// The message's final outcome.
  void on_outcome(bool ok) { (ok ? succeeded_ : failed_).fetch_add(1, std::memory_order_relaxed); }
  void on_dead_letter() { dead_letters_.fetch_add(1, std::memory_order_relaxed); }
  void on_busy() { busy_.fetch_add(1, std::memory_order_relaxed); }

  /// The counters now (each read on its own: a run ending meanwhile may
  /// show in one and not yet in another).
  handler_counts snapshot() const {
    handler_counts out;
    out.messages = messages_.load(std::memory_order_relaxed);
    out.attempts = attempts_.load(std::memory_order_relaxed);
    out.succeeded = succeeded_.load(std::memory_order_relaxed);
    out.failed = failed_.load(std::memory_order_relaxed);
    out.retries = retries_.load(std::memory_order_relaxed);
    out.dead_letters = dead_letters_.load(std::memory_order_relaxed);
    out.busy = busy_.load(std::memory_order_relaxed);
    out.duration_buckets.reserve(duration_buckets_.size());
    for (const auto& b : duration_buckets_) out.duration_buckets.push_back(b.load(std::memory_order_relaxed));
    out.duration_sum_seconds = static_cast<double>(duration_sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return out;
  }

 private:
  std::atomic<std::uint64_t> messages_{0}, attempts_{0}, succeeded_{0}, failed_{0}, retries_{0}, dead_letters_{0}, busy_{0};
  std::array<std::atomic<std::uint64_t>, handler_duration_bounds.size() + 1> duration_buckets_{};
  std::atomic<std::uint64_t> duration_sum_ns_{0};
};

}  // namespace courier::mss
