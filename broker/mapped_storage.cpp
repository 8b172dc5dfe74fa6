#include "broker/mapped_storage.hpp"

#include <algorithm>
#include <mutex>
#include <new>
#include <vector>

#include <sys/mman.h>

namespace courier::broker::mapped_storage {
namespace {

struct kept {
  block storage;
  std::chrono::steady_clock::time_point since;
};

struct pool {
  std::mutex mutex;
  std::vector<kept> blocks;  // unordered; a handful at most
  std::size_t bytes = 0;
};

pool& the_pool() {
  // Never destroyed: buffers of servers that outlive main() still give back.
  static pool* const p = new pool;
  return *p;
}

std::size_t whole_pages(std::size_t size) { return (size + page_size - 1) / page_size * page_size; }

}  // namespace

block take(std::size_t size) {
  size = whole_pages(size);
  pool& p = the_pool();
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
  if (found.data != nullptr && found.size >= size) return found;
  void* pages;
  if (found.data != nullptr) {
    pages = ::mremap(found.data, found.size, size, MREMAP_MAYMOVE);
    if (pages == MAP_FAILED) {
      give(found);
      throw std::bad_alloc();
    }
  } else {
    pages = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED) throw std::bad_alloc();
  }
  return block{static_cast<char*>(pages), size};
}

void give(block storage) noexcept {
  if (storage.data == nullptr) return;
  pool& p = the_pool();
  {
    std::lock_guard lock(p.mutex);
    if (p.bytes + storage.size <= retained_limit) {
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

void trim(std::chrono::steady_clock::time_point now, std::chrono::steady_clock::duration idle) noexcept {
  pool& p = the_pool();
  std::vector<block> unused;
  {
    std::lock_guard lock(p.mutex);
    if (p.blocks.empty()) return;
    const auto stale = [&](const kept& k) { return now - k.since > idle; };
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

std::size_t retained_bytes() noexcept {
  pool& p = the_pool();
  std::lock_guard lock(p.mutex);
  return p.bytes;
}

}  // namespace courier::broker::mapped_storage
