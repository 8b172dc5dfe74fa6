#include "broker/router/string_table.hpp"

#include <cstring>

namespace courier::broker {

namespace {

/// 64x64->128 multiply folded to 64 bits: a cheap, well-mixing step.
inline std::uint64_t fold_multiply(std::uint64_t a, std::uint64_t b) noexcept {
  const unsigned __int128 product = static_cast<unsigned __int128>(a) * b;
  return static_cast<std::uint64_t>(product) ^ static_cast<std::uint64_t>(product >> 64);
}

inline std::uint64_t load_u64(const char* p) noexcept {
  std::uint64_t value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

inline std::uint32_t load_u32(const char* p) noexcept {
  std::uint32_t value;
  std::memcpy(&value, p, sizeof value);
  return value;
}

}  // namespace

std::size_t string_hash::operator()(std::string_view text) const noexcept {
  // Odd 64-bit constants with well-spread bits (digits of pi and the golden
  // ratio); any such constants do. Subjects are short, so the loop runs a few
  // times at most and the tail is read with two overlapping loads.
  const char* p = text.data();
  std::size_t n = text.size();
  std::uint64_t hash = 0x9e3779b97f4a7c15ull ^ (n * 0x243f6a8885a308d3ull);
  while (n > 8) {
    hash = fold_multiply(hash ^ load_u64(p), 0x13198a2e03707345ull);
    p += 8;
    n -= 8;
  }
  std::uint64_t tail = 0;
  if (n >= 4) {
    tail = (static_cast<std::uint64_t>(load_u32(p)) << 32) | load_u32(p + n - 4);
  } else if (n > 0) {
    tail = (static_cast<std::uint64_t>(static_cast<unsigned char>(p[0])) << 16) |
           (static_cast<std::uint64_t>(static_cast<unsigned char>(p[n / 2])) << 8) |
           static_cast<unsigned char>(p[n - 1]);
  }
  return fold_multiply(hash ^ tail, 0xa4093822299f31d1ull);
}

}  // namespace courier::broker
