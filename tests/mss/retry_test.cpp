// Backoff schedule and the timer-driven retry loop (no real peer needed:
// the retried operation is a local function).
#include "mss/common/retry.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "test_support.hpp"

namespace courier::mss {
namespace {

using namespace std::chrono_literals;

TEST(RetryPolicy, ExponentialWithCap) {
  retry_policy p;
  p.initial_delay = 100ms;
  p.multiplier = 3.0;
  p.max_delay = 1000ms;
  EXPECT_EQ(p.delay_before(1), 0ms);
  EXPECT_EQ(p.delay_before(2), 100ms);
  EXPECT_EQ(p.delay_before(3), 300ms);
  EXPECT_EQ(p.delay_before(4), 900ms);
  EXPECT_EQ(p.delay_before(5), 1000ms);
  EXPECT_EQ(p.delay_before(1000), 1000ms);
}

TEST(AsyncRetry, StopsOnSuccessAndWaitsBetweenAttempts) {
  test::io_thread io;
  retry_policy p;
  p.max_attempts = 6;
  p.initial_delay = 50ms;
  p.multiplier = 2.0;
  std::vector<std::chrono::steady_clock::time_point> times;
  std::promise<std::pair<int, unsigned>> done;
  async_retry<int>(
      io.executor(), p,
      [&](unsigned attempt, std::function<void(int)> complete) {
        times.push_back(std::chrono::steady_clock::now());
        complete(attempt < 3 ? -1 : 42);
      },
      [](const int& r) { return r < 0; }, [&](int r, unsigned n) { done.set_value({r, n}); });
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  const auto [result, attempts] = f.get();
  EXPECT_EQ(result, 42);
  EXPECT_EQ(attempts, 3u);
  ASSERT_EQ(times.size(), 3u);
  EXPECT_GE(times[1] - times[0], 45ms);
  EXPECT_GE(times[2] - times[1], 95ms);
}

TEST(AsyncRetry, GivesUpAfterMaxAttemptsAndDoesNotBlockTheContext) {
  test::io_thread io;
  retry_policy p;
  p.max_attempts = 4;
  p.initial_delay = 100ms;
  std::atomic<int> other_work{0};
  std::promise<unsigned> done;
  async_retry<int>(
      io.executor(), p, [](unsigned, std::function<void(int)> complete) { complete(-1); },
      [](const int&) { return true; }, [&](int, unsigned n) { done.set_value(n); });
  // While the retry loop waits, the same single-threaded context runs other work.
  for (int i = 0; i < 10; ++i) boost::asio::post(io.executor(), [&] { ++other_work; });
  ASSERT_TRUE(test::wait_until([&] { return other_work == 10; }, 1s));
  auto f = done.get_future();
  ASSERT_EQ(f.wait_for(5s), std::future_status::ready);
  EXPECT_EQ(f.get(), 4u);
}

}  // namespace
}  // namespace courier::mss
