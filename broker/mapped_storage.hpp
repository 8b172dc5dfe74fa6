// Pages for big outbound buffers, kept for the next buffer that grows as big.
//
// A receiver's outbound buffer grows to megabytes while its client reads
// slower than Courier delivers, and a page costs a fault and a zeroing the
// first time it is written. With fresh pages for every new connection those
// faults were 12-15% of Courier's CPU in fan-out (natsbench -subs 32 -n
// 100000: 19,000-22,000 faults per run against one server; 1,600-2,100 with
// the pages kept). Storage given back here (by a closed connection's
// buffers, or an idle one's) waits, up to retained_limit bytes in all, for
// the next buffer that needs it, and goes back to the kernel once unused for
// max_idle (trim(), from every event loop's tick): a burst's memory stays
// resident for about that long after it. Storage is kept only while a
// keeper exists (every event loop is one): with none, nothing would trim it,
// so given-back storage is unmapped at once, and the last keeper to go
// unmaps what is kept (an application that stops its embedded server gets
// the memory back).
//
// Any thread: a receiver's pending buffer grows on its publishers' threads.
// Header-only, as outbound_buffer, which protocol tests use without the
// broker library; the pool is one per process (an inline function's static).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <new>
#include <vector>

#include <sys/mman.h>

namespace courier::broker::mapped_storage {

/// Most bytes kept unused at once; storage given back beyond it is unmapped.
/// 32 receivers of one fast publisher hold about 75 MiB in their two buffers
/// each; 64 MiB kept half the faults.
inline constexpr std::size_t retained_limit = 128 * 1024 * 1024;
/// How long kept storage may go unused before trim() unmaps it.
inline constexpr std::chrono::seconds max_idle{10};
inline constexpr std::size_t page_size = 4096;

struct block {
  char* data = nullptr;
  std::size_t size = 0;  ///< a multiple of page_size
};

/// At least `size` bytes (rounded up to whole pages): the smallest kept block
/// that is big enough, else the biggest kept block grown to the size, else
/// new pages. Throws std::bad_alloc.
inline block take(std::size_t size);
/// `storage` grown to at least `size` bytes (whole pages) with mremap: its
/// pages move, filled or not, so nothing is copied and nothing refaults.
/// Throws std::bad_alloc, leaving `storage` as it was.
inline block grow(block storage, std::size_t size);
/// Storage from take(), no longer used: kept, or unmapped past retained_limit.
inline void give(block storage) noexcept;
/// Unmaps what has been kept unused for longer than `idle` at `now`.
inline void trim(std::chrono::steady_clock::time_point now,
                 std::chrono::steady_clock::duration idle = max_idle) noexcept;
/// Bytes kept unused right now.
inline std::size_t retained_bytes() noexcept;

/// While one exists, given-back storage may be kept; the last one to be
/// destroyed unmaps everything kept.
class keeper {
 public:
  keeper();
  ~keeper();
  keeper(const keeper&) = delete;
  keeper& operator=(const keeper&) = delete;
};

namespace detail {

struct kept {
  block storage;
  std::chrono::steady_clock::time_point since;
};

struct pool {
  std::mutex mutex;
  std::vector<kept> blocks;  // unordered; one per big buffer given back
  std::size_t bytes = 0;
  std::size_t keepers = 0;
};

inline pool& the_pool() {
  // Never destroyed: buffers of servers that outlive main() still give back.
  static pool* const p = new pool;
  return *p;
}

inline std::size_t whole_pages(std::size_t size) { return (size + page_size - 1) / page_size * page_size; }

}  // namespace detail

inline block take(std::size_t size) {
  size = detail::whole_pages(size);
  detail::pool& p = detail::the_pool();
  block found;
  {
    std::lock_guard lock(p.mutex);
    auto best = p.blocks.end();
    auto biggest = p.blocks.end();
    for (auto it = p.blocks.begin(); it != p.blocks.end(); ++it) {
      const std::size_t have = it->storage.size;
      if (have >= size && (best == p.blocks.end() || have < best->storage.size)) best = it;
      if (biggest == p.blocks.end() || have > biggest->storage.size) biggest = it;
    }
    const auto chosen = best != p.blocks.end() ? best : biggest;
    if (chosen != p.blocks.end()) {
      found = chosen->storage;
      p.bytes -= found.size;
      *chosen = p.blocks.back();
      p.blocks.pop_back();
    }
  }
  if (found.data != nullptr) {
    if (found.size >= size) return found;
    try {
      return grow(found, size);
    } catch (const std::bad_alloc&) {
      give(found);
      throw;
    }
  }
  void* pages = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (pages == MAP_FAILED) throw std::bad_alloc();
  return block{static_cast<char*>(pages), size};
}

inline block grow(block storage, std::size_t size) {
  size = detail::whole_pages(size);
  void* pages = ::mremap(storage.data, storage.size, size, MREMAP_MAYMOVE);
  if (pages == MAP_FAILED) throw std::bad_alloc();
  return block{static_cast<char*>(pages), size};
}

inline void give(block storage) noexcept {
  if (storage.data == nullptr) return;
  detail::pool& p = detail::the_pool();
  {
    std::lock_guard lock(p.mutex);
    if (p.keepers > 0 && p.bytes + storage.size <= retained_limit) {
      try {
        p.blocks.push_back({storage, std::chrono::steady_clock::now()});
        p.bytes += storage.size;
        return;
      } catch (const std::bad_alloc&) {
        // Unmapped below, like storage past the limit.
      }
    }
  }
  ::munmap(storage.data, storage.size);
}

inline void trim(std::chrono::steady_clock::time_point now, std::chrono::steady_clock::duration idle) noexcept {
  detail::pool& p = detail::the_pool();
  std::vector<block> unused;
  {
    std::lock_guard lock(p.mutex);
    if (p.blocks.empty()) return;
    const auto stale = [&](const detail::kept& k) { return now - k.since > idle; };
    for (const auto& k : p.blocks) {
      if (stale(k)) {
        try {
          unused.push_back(k.storage);
        } catch (const std::bad_alloc&) {
          return;  // the next tick
        }
      }
    }
    std::erase_if(p.blocks, stale);
    for (const auto& b : unused) p.bytes -= b.size;
  }
  for (const auto& b : unused) ::munmap(b.data, b.size);
}

inline std::size_t retained_bytes() noexcept {
  detail::pool& p = detail::the_pool();
  std::lock_guard lock(p.mutex);
  return p.bytes;
}

inline keeper::keeper() {
  detail::pool& p = detail::the_pool();
  std::lock_guard lock(p.mutex);
  ++p.keepers;
}

inline keeper::~keeper() {
  detail::pool& p = detail::the_pool();
  std::vector<detail::kept> unused;
  {
    std::lock_guard lock(p.mutex);
    if (--p.keepers > 0) return;
    unused.swap(p.blocks);
    p.bytes = 0;
  }
  for (const auto& k : unused) ::munmap(k.storage.data, k.storage.size);
}

}  // namespace courier::broker::mapped_storage
