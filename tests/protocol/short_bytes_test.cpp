#include "protocol/short_bytes.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace courier::protocol {
namespace {

// Every size from 0 to 40 (each branch and both sides of 16), copied from
// and to every offset of an 8-byte window; the bytes around the target stay
// as they were.
TEST(short_bytes, copy_bytes_every_size_and_offset) {
  std::string source(64, '\0');
  for (std::size_t i = 0; i < source.size(); ++i) source[i] = static_cast<char>('A' + i % 53);
  for (std::size_t size = 0; size <= 40; ++size) {
    for (std::size_t from = 0; from < 8; ++from) {
      for (std::size_t to = 0; to < 8; ++to) {
        std::string target(64, '#');
        copy_bytes(target.data() + to, source.data() + from, size);
        std::string expected(64, '#');
        expected.replace(to, size, source, from, size);
        ASSERT_EQ(target, expected) << "size " << size << " from " << from << " to " << to;
      }
    }
  }
}

// Equal strings of each size compare equal; a change to any one byte, or a
// different size, does not.
TEST(short_bytes, equal_bytes_sees_every_byte) {
  std::string base(140, '\0');
  for (std::size_t i = 0; i < base.size(); ++i) base[i] = static_cast<char>('a' + i % 26);
  for (std::size_t size = 0; size <= 140; ++size) {
    const std::string a = base.substr(0, size);
    std::string b = a;
    EXPECT_TRUE(equal_bytes(a, b)) << size;
    for (std::size_t at = 0; at < size; ++at) {
      b[at] = static_cast<char>(b[at] ^ 0x20);
      EXPECT_FALSE(equal_bytes(a, b)) << "size " << size << " byte " << at;
      b[at] = a[at];
    }
    if (size > 0) {
      EXPECT_FALSE(equal_bytes(a, std::string_view(a).substr(0, size - 1))) << size;
    }
  }
}

}  // namespace
}  // namespace courier::protocol
