#include "broker/outbound_buffer.hpp"

#include <string>

#include <gtest/gtest.h>

#include "protocol/encoder.hpp"

namespace courier::broker {
namespace {

TEST(outbound_buffer, encoders_append_and_growth_keeps_earlier_bytes) {
  outbound_buffer buffer;
  std::string expected;
  const std::string payload(3000, 'x');
  for (int i = 0; i < 100; ++i) {
    protocol::append_msg(buffer, "bench.subject", "1", i % 2 ? "_INBOX.r" : "", payload);
    protocol::append_msg(expected, "bench.subject", "1", i % 2 ? "_INBOX.r" : "", payload);
  }
  ASSERT_EQ(buffer.size(), expected.size());
  EXPECT_EQ(buffer.view(), expected);
  EXPECT_GE(buffer.capacity(), buffer.size());
}

TEST(outbound_buffer, clear_keeps_storage_and_release_frees_it) {
  outbound_buffer buffer;
  buffer.append(std::string(100000, 'a'));
  const char* storage = buffer.data();
  const std::size_t capacity = buffer.capacity();
  buffer.clear();
  EXPECT_TRUE(buffer.empty());
  buffer.append("PONG\r\n");
  EXPECT_EQ(buffer.data(), storage);  // no reallocation after clear()
  EXPECT_EQ(buffer.capacity(), capacity);
  EXPECT_EQ(buffer.view(), "PONG\r\n");
  buffer.release();
  EXPECT_EQ(buffer.capacity(), 0u);
  EXPECT_EQ(buffer.data(), nullptr);
  buffer.append("+OK\r\n");
  EXPECT_EQ(buffer.view(), "+OK\r\n");
}

TEST(outbound_buffer, swap_exchanges_contents) {
  outbound_buffer a;
  outbound_buffer b;
  a.append("first");
  b.append("second, longer");
  a.swap(b);
  EXPECT_EQ(a.view(), "second, longer");
  EXPECT_EQ(b.view(), "first");
  b.append("");  // empty append is a no-op
  EXPECT_EQ(b.view(), "first");
}

}  // namespace
}  // namespace courier::broker
