// A lock for critical sections of a few dozen nanoseconds that are taken on
// every delivery (a receiver's outbound queue): one atomic exchange to lock
// and a store to unlock, where std::mutex costs a library call each way.
// Waiters spin briefly, then yield the CPU, so a holder that was preempted
// (two cores shared with the clients) gets to run. Never hold it across a
// system call or anything that can block. Models Lockable.
#pragma once

#include <atomic>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace courier::broker {

/// Tells the CPU this thread is busy-waiting (x86 `pause`): the sibling
/// hyperthread gets the core's resources, and the loop leaves less memory
/// traffic behind. A no-op elsewhere.
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

class spin_mutex {
 public:
  spin_mutex() = default;
  spin_mutex(const spin_mutex&) = delete;
  spin_mutex& operator=(const spin_mutex&) = delete;

  void lock() noexcept {
    if (!locked_.exchange(true, std::memory_order_acquire)) return;
    lock_contended();
  }

  bool try_lock() noexcept {
    return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire);
  }

  void unlock() noexcept { locked_.store(false, std::memory_order_release); }

 private:
  void lock_contended() noexcept {
    constexpr int spins_before_yield = 64;
    int spins = 0;
    for (;;) {
      while (locked_.load(std::memory_order_relaxed)) {
        if (++spins < spins_before_yield) {
          cpu_relax();
        } else {
          std::this_thread::yield();
        }
      }
      if (!locked_.exchange(true, std::memory_order_acquire)) return;
    }
  }

  std::atomic<bool> locked_{false};
};

}  // namespace courier::broker
