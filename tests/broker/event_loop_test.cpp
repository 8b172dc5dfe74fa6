// How many event loops a server runs when its options leave it to Courier.
#include "broker/event_loop.hpp"

#include <gtest/gtest.h>

namespace courier::broker {
namespace {

TEST(default_loop_count, one_loop_per_two_cores) {
  EXPECT_EQ(default_loop_count(4), 2u);
  EXPECT_EQ(default_loop_count(5), 2u);
  EXPECT_EQ(default_loop_count(64), 32u);
}

TEST(default_loop_count, never_fewer_than_one) {
  // std::thread::hardware_concurrency() returns 0 when it cannot tell.
  EXPECT_EQ(default_loop_count(0), 1u);
  EXPECT_EQ(default_loop_count(1), 1u);
  EXPECT_EQ(default_loop_count(2), 1u);
  EXPECT_EQ(default_loop_count(3), 1u);
}

}  // namespace
}  // namespace courier::broker
