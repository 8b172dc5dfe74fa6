// A loop's read buffer, shared by reference. Connections read into the
// loop's current slab; a receiver that queues a big payload in place
// (outbound_buffer::append_reference) holds the slab the payload lies in
// until it has written it, and the loop reads into another slab meanwhile.
// So a payload is copied only by the kernel, in and out, even when the
// receiver's socket is full and the delivery waits.
//
// Thread rules: only the owning loop's thread makes slabs, reads into them
// and adds holders (deliveries happen on the publisher's loop thread, which
// owns the slab its read went into); any thread drops a holder, and the
// last one frees the slab. A slab whose only holder is its loop stays that
// way until the loop itself adds one, so the loop may read into it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

namespace courier::broker {

class read_slab {
 public:
  static constexpr std::size_t size = 1024 * 1024;

  /// A new slab, held once (by the caller, its loop).
  static read_slab* make() { return new read_slab; }
  read_slab(const read_slab&) = delete;
  read_slab& operator=(const read_slab&) = delete;

  char* data() noexcept { return data_.get(); }
  bool contains(const char* bytes, std::size_t n) const noexcept {
    return bytes >= data_.get() && bytes + n <= data_.get() + size;
  }
  /// One more holder. The owning loop's thread.
  void retain() noexcept { holders_.fetch_add(1, std::memory_order_relaxed); }
  /// One holder less: the last frees the slab. Any thread; what the holder
  /// read from the slab happens before the loop's next write into it.
  void release() noexcept {
    if (holders_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }
  /// True when the caller (its loop) is the only holder: it may write into it.
  bool sole_holder() const noexcept { return holders_.load(std::memory_order_acquire) == 1; }

 private:
  read_slab() : data_(new char[size]) {}
  ~read_slab() = default;

  std::atomic<std::uint32_t> holders_{1};
  std::unique_ptr<char[]> data_;
};

}  // namespace courier::broker
