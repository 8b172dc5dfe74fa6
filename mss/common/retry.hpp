// Retry with exponential backoff, on timers: between attempts nothing
// sleeps, the io_context runs other work. Used by webhook/SMS handlers and
// by the dispatcher for failed event handlers.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>

namespace courier::mss {

/// Backoff schedule: attempt 1 runs at once; attempt n (n >= 2) runs after
/// min(max_delay, initial_delay * multiplier^(n-2)).
struct retry_policy {
  unsigned max_attempts = 5;                   ///< total attempts including the first (>= 1)
  std::chrono::milliseconds initial_delay{200};  ///< delay before the 2nd attempt
  double multiplier = 2.0;                     ///< growth factor per attempt (>= 1)
  std::chrono::milliseconds max_delay{30000};  ///< cap on any single delay

  /// Delay before attempt `attempt` (1-based); zero for the first.
  std::chrono::milliseconds delay_before(unsigned attempt) const {
    if (attempt <= 1) return std::chrono::milliseconds(0);
    double delay = static_cast<double>(initial_delay.count());
    for (unsigned i = 2; i < attempt && delay < static_cast<double>(max_delay.count()); ++i)
      delay *= std::max(1.0, multiplier);
    return std::chrono::milliseconds(
        static_cast<long long>(std::min(delay, static_cast<double>(max_delay.count()))));
  }
};

/// The `mss` block's default policy: `event_retry` when the block has none,
/// and the fields a `retry` or `event_retry` block leaves out. 3 tries, the
/// 2nd after 500 ms, then twice as long each time, never more than 30 s
/// apart: a peer restarting or briefly overloaded gets a few seconds, a
/// peer that is down does not hold a message for long.
inline constexpr retry_policy default_config_retry{3, std::chrono::milliseconds(500), 2.0,
                                                   std::chrono::milliseconds(30000)};

/// Runs `attempt(n, complete)` until `should_retry(result)` is false or the
/// policy's attempts are used up, then calls `done(result, attempts_made)`.
/// `attempt` must call `complete` exactly once (from any thread). Waits use a
/// steady_timer on `executor`; `done` runs on whichever thread completed the
/// last attempt.
template <class Result>
void async_retry(boost::asio::any_io_executor executor, retry_policy policy,
                 std::function<void(unsigned attempt, std::function<void(Result)> complete)> attempt,
                 std::function<bool(const Result&)> should_retry,
                 std::function<void(Result result, unsigned attempts)> done) {
  struct state : std::enable_shared_from_this<state> {
    state(boost::asio::any_io_executor executor) : timer(executor) {}
    boost::asio::steady_timer timer;
    retry_policy policy;
    std::function<void(unsigned, std::function<void(Result)>)> attempt;
    std::function<bool(const Result&)> should_retry;
    std::function<void(Result, unsigned)> done;
    unsigned number = 0;

    void run_next() {
      ++number;
      auto self = this->shared_from_this();
      attempt(number, [self](Result result) { self->on_result(std::move(result)); });
    }

    void on_result(Result result) {
      if (number >= std::max(1u, policy.max_attempts) || !should_retry(result)) {
        done(std::move(result), number);
        return;
      }
      timer.expires_after(policy.delay_before(number + 1));
      timer.async_wait([self = this->shared_from_this()](boost::system::error_code) { self->run_next(); });
    }
  };
  auto s = std::make_shared<state>(executor);
  s->policy = policy;
  s->attempt = std::move(attempt);
  s->should_retry = std::move(should_retry);
  s->done = std::move(done);
  // The first attempt is posted so the caller never re-enters itself.
  boost::asio::post(executor, [s] { s->run_next(); });
}

}  // namespace courier::mss
