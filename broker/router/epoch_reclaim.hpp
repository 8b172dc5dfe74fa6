// Epoch-based reclamation: lets readers follow pointers into a shared
// structure with no lock and no reference count, while writers unlink objects
// and hand them over to be freed once no reader can still be looking at them.
//
// A reader opens a read_section around its lookups. Opening one writes the
// current epoch to the thread's own record (a cache line nobody else writes),
// closing it writes 0: no shared cache line is written, so readers on many
// cores do not slow each other down. A writer unlinks an object (readers that
// start later can no longer reach it) and retire()s it; reclaim() moves the
// epoch on, then frees every retired object that no open section can reach.
//
// Ordering: a reader's epoch store must be visible before its loads of the
// structure. Instead of a full fence in every read_section, reclaim() issues
// membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED), which runs a fence on every
// thread of the process at that moment (the technique of liburcu's "memb"
// flavour). Where the kernel lacks it, readers fall back to a fence each.
//
// Objects wait in the retired list until a reclaim() finds them unreachable,
// so a reader that stays in a section holds back only what was retired after
// it entered. Sections nest; they must be short (a lookup), and must never be
// held across blocking calls.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace courier::broker::epoch {

namespace detail {

/// One per thread that has ever read; reused after the thread ends.
struct alignas(64) reader_record {
  /// 0 outside any section, else the epoch read when the outermost one opened.
  std::atomic<std::uint64_t> active{0};
  /// Section nesting depth; touched only by the owning thread.
  unsigned depth = 0;
  /// Claimed by a live thread.
  std::atomic<bool> in_use{false};
  /// Next record in the registry (set before publication, then immutable).
  reader_record* next = nullptr;
};

/// The global epoch, never 0.
extern std::atomic<std::uint64_t> global_epoch;
/// True when reclaim() has membarrier and readers need no fence of their own.
extern bool asymmetric_fences;
/// The calling thread's record, null until its first section.
extern constinit thread_local reader_record* this_thread_record;

reader_record* register_this_thread();

}  // namespace detail

/// Keeps everything the calling thread reaches through epoch-protected
/// pointers alive until it is destroyed. Cheap: two stores to a thread-local
/// cache line (plus a fence only where the kernel lacks membarrier).
class read_section {
 public:
  read_section() noexcept {
    detail::reader_record* record = detail::this_thread_record;
    if (!record) [[unlikely]] record = detail::register_this_thread();
    record_ = record;
    if (record->depth++ != 0) return;
    record->active.store(detail::global_epoch.load(std::memory_order_acquire),
                         std::memory_order_relaxed);
#if defined(__SANITIZE_THREAD__)
    // ThreadSanitizer does not model fences; an RMW gives it the same order.
    record->active.fetch_add(0, std::memory_order_seq_cst);
#else
    if (detail::asymmetric_fences) {
      std::atomic_signal_fence(std::memory_order_seq_cst);
    } else {
      std::atomic_thread_fence(std::memory_order_seq_cst);
    }
#endif
  }
  ~read_section() {
    if (--record_->depth == 0) record_->active.store(0, std::memory_order_release);
  }
  read_section(const read_section&) = delete;
  read_section& operator=(const read_section&) = delete;

 private:
  detail::reader_record* record_;
};

/// Hands `object`, already unreachable for readers that start from now on,
/// over to be destroyed by destroy(object) once no open read section can
/// still reach it. Never destroys anything itself, so it may be called under
/// the writer's locks.
void retire(void* object, void (*destroy)(void*));

/// retire() for an object allocated with new.
template <typename T>
void retire(T* object) {
  retire(static_cast<void*>(object), [](void* p) { delete static_cast<T*>(p); });
}

/// Frees every retired object that no open read section can reach (readers
/// still inside a section that began before an object was retired keep it
/// for a later call). Call with no locks held: the destructors run here.
/// Returns how many objects it freed.
std::size_t reclaim();

/// reclaim(), if anything is waiting; otherwise a single relaxed load. For a
/// periodic caller (the broker's tick), so that what a reader held back at
/// the last reclaim is not kept until the next retire.
std::size_t reclaim_if_pending();

/// Number of retired objects not yet freed (for tests).
std::size_t pending();

}  // namespace courier::broker::epoch
