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
// resident for about that long after it.
//
// Any thread: a receiver's pending buffer grows on its publishers' threads.
#pragma once

#include <chrono>
#include <cstddef>

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
/// that is big enough, else the biggest kept block remapped to the size (its
/// pages come along), else new pages. Throws std::bad_alloc.
block take(std::size_t size);
/// Storage from take(), no longer used: kept, or unmapped past retained_limit.
void give(block storage) noexcept;
/// Unmaps what has been kept unused for longer than `idle` at `now`.
void trim(std::chrono::steady_clock::time_point now, std::chrono::steady_clock::duration idle = max_idle) noexcept;
/// Bytes kept unused right now.
std::size_t retained_bytes() noexcept;

}  // namespace courier::broker::mapped_storage
