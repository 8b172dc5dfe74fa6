// A connection's outbound bytes: a growable byte buffer whose resize() does not
// initialise the new bytes (the encoders overwrite them at once) and whose
// clear() keeps the storage, so a connection streaming large messages neither
// zero-fills each message before copying it nor regrows its buffer after
// every write. release() gives the storage back (an idle connection holds
// none). Small storage comes from malloc/realloc; from mapped_capacity up
// the buffer holds whole pages (broker/mapped_storage.hpp: pages given back
// by closed or idle connections are reused, already faulted in) and grows
// them with mremap, which moves the pages it has instead of copying them
// into fresh ones, as glibc's realloc does once its adaptive mmap threshold
// has risen past the size.
//
// A buffer may also hold references: bytes that stay where they are (a big
// payload in the publishing loop's read slab, which the reference holds)
// and go out in their place among the buffer's own bytes, through a
// gathering write, without being copied here first. materialize() copies
// them in and lets the slabs go. size()/data() are the buffer's own bytes,
// which encoders append to; total() is everything to be written,
// references included.
// Models protocol::byte_buffer. Not thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <cstdlib>
#include <new>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <sys/uio.h>

#include "broker/mapped_storage.hpp"
#include "broker/read_slab.hpp"

namespace courier::broker {

class outbound_buffer {
 public:
  /// Smallest storage allocated: one MSG of a small message and then some.
  static constexpr std::size_t min_capacity = 512;
  /// Capacity from which the storage is mapped pages of its own.
  static constexpr std::size_t mapped_capacity = 256 * 1024;

  outbound_buffer() = default;
  ~outbound_buffer() {
    drop_references();
    free_storage();
  }
  outbound_buffer(const outbound_buffer&) = delete;
  outbound_buffer& operator=(const outbound_buffer&) = delete;

  char* data() noexcept { return data_; }
  const char* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  /// No bytes of its own and no references.
  bool empty() const noexcept { return size_ == 0 && references_.empty(); }
  /// Bytes to write: its own and the referenced ones.
  std::size_t total() const noexcept { return size_ + referenced_; }
  bool has_references() const noexcept { return !references_.empty(); }
  std::size_t capacity() const noexcept { return capacity_; }
  std::string_view view() const noexcept { return {data_, size_}; }

  /// Sets the size to `n`. Bytes past the old size are left uninitialised:
  /// the caller writes them.
  void resize(std::size_t n) {
    if (n > capacity_) grow(n);
    size_ = n;
  }

  void append(std::string_view bytes) {
    if (bytes.empty()) return;
    const std::size_t old = size_;
    resize(old + bytes.size());
    std::memcpy(data_ + old, bytes.data(), bytes.size());
  }

  /// Places `bytes`, which lie in `slab`, after what the buffer holds,
  /// without copying them; holds the slab until they are written (clear())
  /// or copied in (materialize()). On the slab's loop thread.
  void append_reference(std::string_view bytes, read_slab& slab) {
    if (bytes.empty()) return;
    references_.push_back({size_, bytes.data(), bytes.size(), &slab});  // first: it may throw
    slab.retain();
    referenced_ += bytes.size();
  }

  /// Copies the referenced bytes into the buffer, in their places; the
  /// buffer then holds only bytes of its own (the same total()).
  void materialize() {
    if (references_.empty()) return;
    const std::size_t own = size_;
    resize(size_ + referenced_);
    char* p = data_;
    std::size_t end = own;           // end of the own bytes that follow the reference
    std::size_t shift = referenced_;  // how far they move: the references up to and including this one
    for (auto it = references_.rbegin(); it != references_.rend(); ++it) {
      std::memmove(p + it->at + shift, p + it->at, end - it->at);
      shift -= it->size;
      std::memcpy(p + it->at + shift, it->data, it->size);
      end = it->at;
    }
    drop_references();
  }

  /// Fills up to `max` iovecs with the bytes from offset `from` of total(),
  /// in order; returns how many it filled.
  std::size_t gather(std::size_t from, iovec* iov, std::size_t max) const noexcept {
    std::size_t count = 0;
    std::size_t at = 0;  // offset in total() of the next piece
    auto piece = [&](const char* bytes, std::size_t n) {
      if (n == 0) return;
      if (at + n > from) {
        const std::size_t skip = from > at ? from - at : 0;
        iov[count++] = iovec{const_cast<char*>(bytes + skip), n - skip};
      }
      at += n;
    };
    std::size_t own_at = 0;
    for (const auto& reference : references_) {
      if (count < max) piece(data_ + own_at, reference.at - own_at);
      if (count < max) piece(reference.data, reference.size);
      if (count == max) return count;
      own_at = reference.at;
    }
    if (count < max) piece(data_ + own_at, size_ - own_at);
    return count;
  }

  /// Appends the bytes from offset `from` of total() to `out`.
  void copy_to(std::string& out, std::size_t from) const {
    iovec iov[64];
    while (from < total()) {
      const std::size_t count = gather(from, iov, std::size(iov));
      for (std::size_t i = 0; i < count; ++i) {
        out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
        from += iov[i].iov_len;
      }
    }
  }

  /// Empties the buffer and keeps its storage.
  void clear() noexcept {
    size_ = 0;
    drop_references();
  }

  /// Empties the buffer and frees its storage.
  void release() noexcept {
    free_storage();
    data_ = nullptr;
    size_ = 0;
    capacity_ = 0;
    drop_references();
    std::vector<reference>().swap(references_);
  }

  void swap(outbound_buffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
    references_.swap(other.references_);
    std::swap(referenced_, other.referenced_);
  }

 private:
  void drop_references() noexcept {
    for (const auto& reference : references_) reference.slab->release();
    references_.clear();
    referenced_ = 0;
  }

  static bool mapped(std::size_t capacity) noexcept { return capacity >= mapped_capacity; }

  void free_storage() noexcept {
    if (data_ == nullptr) return;
    if (mapped(capacity_)) {
      mapped_storage::give({data_, capacity_});
    } else {
      std::free(data_);
    }
  }

  void grow(std::size_t needed) {
    const std::size_t capacity = std::max({needed, capacity_ * 2, min_capacity});
    if (!mapped(capacity)) {
      char* bigger;
      if (size_ >= capacity_ / 2) {
        // Mostly full: realloc extends or moves the storage and what is in it.
        bigger = static_cast<char*>(std::realloc(data_, capacity));
        if (bigger == nullptr) throw std::bad_alloc();
      } else {
        // Mostly empty: copy only the bytes in use.
        bigger = static_cast<char*>(std::malloc(capacity));
        if (bigger == nullptr) throw std::bad_alloc();
        if (size_ > 0) std::memcpy(bigger, data_, size_);
        std::free(data_);
      }
      data_ = bigger;
      capacity_ = capacity;
      return;
    }
    mapped_storage::block storage;
    if (mapped(capacity_)) {
      storage = mapped_storage::grow({data_, capacity_}, capacity);
    } else {
      storage = mapped_storage::take(capacity);
      if (size_ > 0) std::memcpy(storage.data, data_, size_);
      std::free(data_);
    }
    data_ = storage.data;
    capacity_ = storage.size;
  }

  /// Bytes kept in a slab, to go out before own byte `at`.
  struct reference {
    std::size_t at;
    const char* data;
    std::size_t size;
    read_slab* slab;  ///< held by this reference
  };
  char* data_ = nullptr;  ///< malloc'd below mapped_capacity, mapped from it
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
  std::vector<reference> references_;
  std::size_t referenced_ = 0;  // sum of the references' sizes
};

}  // namespace courier::broker
