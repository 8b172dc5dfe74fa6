#include "broker/router/epoch_reclaim.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace courier::broker::epoch {
namespace {

/// Counts destructions, and poisons itself so a late reader notices.
struct tracked {
  static inline std::atomic<int> destroyed{0};
  std::atomic<std::uint64_t> value;
  explicit tracked(std::uint64_t v) : value(v) {}
  ~tracked() {
    value.store(0);
    destroyed.fetch_add(1);
  }
};

TEST(EpochReclaim, NothingOpenFreesAtOnce) {
  reclaim();
  const int before = tracked::destroyed.load();
  retire(new tracked(1));
  retire(new tracked(2));
  EXPECT_EQ(reclaim(), 2u);
  EXPECT_EQ(tracked::destroyed.load(), before + 2);
  EXPECT_EQ(pending(), 0u);
}

TEST(EpochReclaim, OpenSectionHoldsWhatWasRetiredSinceItOpened) {
  reclaim();
  const int before = tracked::destroyed.load();
  std::atomic<int> stage{0};
  std::thread reader([&] {
    read_section section;
    stage.store(1);
    while (stage.load() != 2) std::this_thread::yield();
  });
  while (stage.load() != 1) std::this_thread::yield();
  retire(new tracked(1));
  EXPECT_EQ(reclaim(), 0u);  // the reader entered before the retire
  EXPECT_EQ(tracked::destroyed.load(), before);
  stage.store(2);
  reader.join();
  EXPECT_EQ(reclaim(), 1u);
  EXPECT_EQ(tracked::destroyed.load(), before + 1);
}

/// A thread that opens a section when asked and closes it when asked.
class parked_reader {
 public:
  parked_reader()
      : thread_([this] {
          read_section section;
          stage_.store(1);
          while (stage_.load() != 2) std::this_thread::yield();
        }) {
    while (stage_.load() != 1) std::this_thread::yield();
  }
  ~parked_reader() { close(); }
  void close() {
    stage_.store(2);
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::atomic<int> stage_{0};
  std::thread thread_;
};

TEST(EpochReclaim, SectionOpenedAfterTheEpochMovedDoesNotHoldOlderObjects) {
  reclaim();
  const int before = tracked::destroyed.load();
  parked_reader early;
  retire(new tracked(1));
  EXPECT_EQ(reclaim(), 0u);  // held by `early`; the epoch moves on
  parked_reader late;        // opens after the retire and that move
  early.close();
  EXPECT_EQ(reclaim(), 1u);  // `late` cannot have reached it
  EXPECT_EQ(tracked::destroyed.load(), before + 1);
  retire(new tracked(2));
  EXPECT_EQ(reclaim(), 0u);  // but this one was retired while `late` was open
  late.close();
  EXPECT_EQ(reclaim(), 1u);
}

TEST(EpochReclaim, NestedSectionsCloseWithTheOutermost) {
  reclaim();
  std::atomic<int> stage{0};
  std::thread reader([&] {
    read_section outer;
    { read_section inner; }
    stage.store(1);
    while (stage.load() != 2) std::this_thread::yield();
  });
  while (stage.load() != 1) std::this_thread::yield();
  retire(new tracked(1));
  EXPECT_EQ(reclaim(), 0u);  // the inner one closing did not end the section
  stage.store(2);
  reader.join();
  EXPECT_EQ(reclaim(), 1u);
}

// Readers follow a pointer that a writer keeps replacing and retiring; a
// reader must never see a destroyed object (value 0; AddressSanitizer and
// ThreadSanitizer report the access too).
TEST(EpochReclaim, ReadersNeverSeeAFreedObject) {
  std::atomic<tracked*> current{new tracked(1)};
  std::atomic<bool> stop{false};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        read_section section;
        tracked* seen = current.load(std::memory_order_acquire);
        const std::uint64_t first = seen->value.load(std::memory_order_relaxed);
        std::this_thread::yield();
        ASSERT_NE(first, 0u);
        ASSERT_EQ(seen->value.load(std::memory_order_relaxed), first);
        reads.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  for (std::uint64_t v = 2; v < 20000; ++v) {
    tracked* old = current.exchange(new tracked(v), std::memory_order_acq_rel);
    retire(old);
    if (v % 16 == 0) reclaim();
    if (v % 256 == 0) std::this_thread::yield();
  }
  // On a loaded machine the writer can finish before any reader has run:
  // let one read happen, so the test always checks something.
  while (reads.load(std::memory_order_relaxed) == 0) std::this_thread::yield();
  stop.store(true);
  for (auto& t : readers) t.join();
  retire(current.load());
  reclaim();
  EXPECT_EQ(pending(), 0u);
  EXPECT_GT(reads.load(), 0);
}

TEST(EpochReclaim, ReclaimIfPendingFreesWhatAReaderHeldBack) {
  reclaim();
  EXPECT_EQ(reclaim_if_pending(), 0u);  // nothing waiting
  {
    parked_reader reader;
    retire(new tracked(1));
    EXPECT_EQ(reclaim(), 0u);  // held back
  }
  // No further retire: only a periodic reclaim_if_pending() frees it.
  EXPECT_EQ(pending(), 1u);
  EXPECT_EQ(reclaim_if_pending(), 1u);
  EXPECT_EQ(pending(), 0u);
}

TEST(EpochReclaim, ThreadRecordsAreReused) {
  // Many short threads must not leave records that block reclamation.
  for (int i = 0; i < 200; ++i) {
    std::thread([] { read_section section; }).join();
  }
  retire(new tracked(1));
  EXPECT_EQ(reclaim(), 1u);
}

}  // namespace
}  // namespace courier::broker::epoch
