#include "broker/router/epoch_reclaim.hpp"

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <mutex>
#include <utility>
#include <vector>

namespace courier::broker::epoch {

namespace detail {

std::atomic<std::uint64_t> global_epoch{1};
constinit thread_local reader_record* this_thread_record = nullptr;

namespace {

bool register_membarrier() noexcept {
  return syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
}

}  // namespace

// Registered before main() starts any thread, so readers never see it change.
bool asymmetric_fences = register_membarrier();

namespace {

/// Head of the registry of reader records: records are pushed at the front
/// and never removed, so a scan can walk it without a lock.
std::atomic<reader_record*> registry_head{nullptr};

/// Gives the record back when its thread ends.
struct record_release {
  reader_record* record = nullptr;
  ~record_release() {
    if (record) {
      this_thread_record = nullptr;
      record->in_use.store(false, std::memory_order_release);
    }
  }
};
thread_local record_release this_thread_release;

}  // namespace

reader_record* register_this_thread() {
  reader_record* record = nullptr;
  for (reader_record* r = registry_head.load(std::memory_order_acquire); r; r = r->next) {
    bool free = false;
    if (!r->in_use.load(std::memory_order_relaxed) &&
        r->in_use.compare_exchange_strong(free, true, std::memory_order_acquire)) {
      record = r;
      break;
    }
  }
  if (!record) {
    // Records live as long as the process: a scan may be reading one at any time.
    record = new reader_record;
    record->in_use.store(true, std::memory_order_relaxed);
    record->next = registry_head.load(std::memory_order_relaxed);
    while (!registry_head.compare_exchange_weak(record->next, record, std::memory_order_release,
                                                std::memory_order_relaxed)) {
    }
  }
  this_thread_release.record = record;
  this_thread_record = record;
  return record;
}

}  // namespace detail

namespace {

struct retired_object {
  void* object;
  void (*destroy)(void*);
  /// The epoch when it was retired: a reader whose section opened at a later
  /// epoch started after it was unlinked.
  std::uint64_t epoch;
};

/// Retired objects not yet freed. Leaked on purpose at exit (a static with no
/// destructor): threads may still be reading while statics are destroyed.
struct retired_list {
  std::mutex mutex;
  std::vector<retired_object> objects;
  /// objects.size(), readable without the lock.
  std::atomic<std::size_t> count{0};
};

retired_list& retired() {
  static retired_list* list = new retired_list;
  return *list;
}

/// Makes every reader's earlier section-entry store visible to this thread,
/// and this thread's earlier unlinks visible to every reader's later loads.
void heavy_fence() noexcept {
  if (detail::asymmetric_fences &&
      syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) {
    return;
  }
#if defined(__SANITIZE_THREAD__)
  detail::global_epoch.fetch_add(0, std::memory_order_seq_cst);
#else
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

}  // namespace

void retire(void* object, void (*destroy)(void*)) {
  retired_list& list = retired();
  std::lock_guard lock(list.mutex);
  list.objects.push_back(
      {object, destroy, detail::global_epoch.load(std::memory_order_relaxed)});
  list.count.store(list.objects.size(), std::memory_order_relaxed);
}

std::size_t reclaim() {
  retired_list& list = retired();
  std::vector<retired_object> freeable;
  {
    std::lock_guard lock(list.mutex);
    if (list.objects.empty()) return 0;
    // Epochs move only here, under this lock, so every retired object's epoch
    // is below the new one.
    const std::uint64_t now = detail::global_epoch.fetch_add(1, std::memory_order_seq_cst) + 1;
    heavy_fence();
    // The oldest epoch an open section entered at; `now` if none is open.
    // Sections that open from here on read `now` or later.
    std::uint64_t oldest = now;
    for (auto* r = detail::registry_head.load(std::memory_order_acquire); r; r = r->next) {
      const std::uint64_t entered = r->active.load(std::memory_order_acquire);
      if (entered != 0 && entered < oldest) oldest = entered;
    }
    // An object retired at epoch e is unreachable for a section that entered
    // at an epoch after e; one that entered at e or before may hold it.
    auto keep = list.objects.begin();
    for (auto& object : list.objects) {
      if (object.epoch < oldest) {
        freeable.push_back(object);
      } else {
        *keep++ = object;
      }
    }
    list.objects.erase(keep, list.objects.end());
    list.count.store(list.objects.size(), std::memory_order_relaxed);
  }
  for (const auto& object : freeable) object.destroy(object.object);
  return freeable.size();
}

std::size_t reclaim_if_pending() {
  if (retired().count.load(std::memory_order_relaxed) == 0) return 0;
  return reclaim();
}

std::size_t pending() {
  retired_list& list = retired();
  std::lock_guard lock(list.mutex);
  return list.objects.size();
}

}  // namespace courier::broker::epoch
