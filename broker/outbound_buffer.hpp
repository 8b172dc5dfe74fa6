// A connection's outbound bytes: a growable byte buffer whose resize() does not
// initialise the new bytes (the encoders overwrite them at once) and whose
// clear() keeps the storage, so a connection streaming large messages neither
// zero-fills each message before copying it nor regrows its buffer after
// every write. release() gives the storage back (an idle connection holds
// none). Storage comes from malloc/realloc, so a big buffer (mmapped by
// glibc) grows with mremap instead of a copy and fresh page faults.
// Models protocol::byte_buffer. Not thread-safe.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <cstdlib>
#include <memory>
#include <new>
#include <string_view>
#include <utility>

namespace courier::broker {

class outbound_buffer {
 public:
  /// Smallest storage allocated: one MSG of a small message and then some.
  static constexpr std::size_t min_capacity = 512;

  outbound_buffer() = default;
  outbound_buffer(const outbound_buffer&) = delete;
  outbound_buffer& operator=(const outbound_buffer&) = delete;

  char* data() noexcept { return data_.get(); }
  const char* data() const noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::string_view view() const noexcept { return {data_.get(), size_}; }

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
    std::memcpy(data_.get() + old, bytes.data(), bytes.size());
  }

  /// Empties the buffer and keeps its storage.
  void clear() noexcept { size_ = 0; }

  /// Empties the buffer and frees its storage.
  void release() noexcept {
    data_.reset();
    size_ = 0;
    capacity_ = 0;
  }

  void swap(outbound_buffer& other) noexcept {
    std::swap(data_, other.data_);
    std::swap(size_, other.size_);
    std::swap(capacity_, other.capacity_);
  }

 private:
  void grow(std::size_t needed) {
    const std::size_t capacity = std::max({needed, capacity_ * 2, min_capacity});
    char* bigger;
    if (size_ >= capacity_ / 2) {
      // Mostly full: realloc moves (or remaps) the storage and what is in it.
      bigger = static_cast<char*>(std::realloc(data_.get(), capacity));
      if (bigger == nullptr) throw std::bad_alloc();
      (void)data_.release();
    } else {
      // Mostly empty: copy only the bytes in use.
      bigger = static_cast<char*>(std::malloc(capacity));
      if (bigger == nullptr) throw std::bad_alloc();
      if (size_ > 0) std::memcpy(bigger, data_.get(), size_);
    }
    data_.reset(bigger);
    capacity_ = capacity;
  }

  struct free_storage {
    void operator()(char* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<char, free_storage> data_;
  std::size_t size_ = 0;
  std::size_t capacity_ = 0;
};

}  // namespace courier::broker
