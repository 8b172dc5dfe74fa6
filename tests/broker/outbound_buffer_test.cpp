#include "broker/outbound_buffer.hpp"

#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "broker/mapped_storage.hpp"
#include "broker/server.hpp"
#include "protocol/encoder.hpp"
#include "tests/broker/raw_socket_client.hpp"

namespace courier::broker {
namespace {

// The pool is the process's: every test starts it empty.
void empty_pool() {
  mapped_storage::trim(std::chrono::steady_clock::now() + std::chrono::hours(1), std::chrono::seconds(0));
  ASSERT_EQ(mapped_storage::retained_bytes(), 0u);
}

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

TEST(outbound_buffer, growth_into_mapped_storage_keeps_every_byte) {
  // Past mapped_capacity the buffer maps its own pages and grows them with
  // mremap: every byte written before each growth must still be there, from
  // malloc'd storage into mapped, mapped into bigger mapped, and from a
  // mostly empty buffer straight to a mapped size. No kept pages: each
  // growth past mapped_capacity maps or remaps.
  empty_pool();
  outbound_buffer buffer;
  std::string expected;
  std::size_t growths_into_mapped = 0;
  for (int i = 0; expected.size() < 6 * outbound_buffer::mapped_capacity; ++i) {
    const std::string piece(1 + (i * 7919) % 5000, static_cast<char>('a' + i % 26));
    const std::size_t before = buffer.capacity();
    buffer.append(piece);
    expected += piece;
    if (buffer.capacity() != before && buffer.capacity() >= outbound_buffer::mapped_capacity) ++growths_into_mapped;
  }
  EXPECT_GE(growths_into_mapped, 2u);  // the first mapping and at least one mremap
  EXPECT_EQ(buffer.capacity() % 4096, 0u);
  ASSERT_EQ(buffer.size(), expected.size());
  EXPECT_TRUE(buffer.view() == expected);

  // A few bytes in small storage, then one append far past mapped_capacity.
  outbound_buffer jump;
  jump.append("MSG a 1 3\r\n");
  const std::string big(3 * outbound_buffer::mapped_capacity + 123, 'z');
  jump.append(big);
  EXPECT_EQ(jump.view(), "MSG a 1 3\r\n" + big);

  // A mapped buffer and a malloc'd one swapped: each frees its own kind.
  outbound_buffer small;
  small.append("PONG\r\n");
  small.swap(jump);
  EXPECT_EQ(jump.view(), "PONG\r\n");
  EXPECT_EQ(small.size(), big.size() + 11);
  small.clear();
  const char* kept = small.data();
  small.append(std::string(outbound_buffer::mapped_capacity, 'k'));
  EXPECT_EQ(small.data(), kept);  // cleared mapped storage is reused in place
  small.release();
  EXPECT_EQ(small.capacity(), 0u);
  small.append("again");
  EXPECT_EQ(small.view(), "again");
}

TEST(mapped_storage, given_back_pages_are_taken_again_with_their_bytes) {
  const mapped_storage::keeper keep;  // as an event loop
  empty_pool();
  const mapped_storage::block first = mapped_storage::take(300 * 1024 + 1);
  ASSERT_EQ(first.size, 304 * 1024u);  // whole pages
  std::memset(first.data, 'p', first.size);
  mapped_storage::give(first);
  EXPECT_EQ(mapped_storage::retained_bytes(), first.size);
  const mapped_storage::block again = mapped_storage::take(256 * 1024);
  EXPECT_EQ(again.data, first.data);  // the kept block, not new pages
  EXPECT_EQ(again.size, first.size);
  EXPECT_EQ(again.data[0], 'p');
  EXPECT_EQ(again.data[again.size - 1], 'p');
  EXPECT_EQ(mapped_storage::retained_bytes(), 0u);
  mapped_storage::give(again);
  empty_pool();
}

TEST(mapped_storage, takes_the_smallest_block_that_fits_else_grows_the_biggest) {
  const mapped_storage::keeper keep;  // as an event loop
  empty_pool();
  const mapped_storage::block small = mapped_storage::take(512 * 1024);
  const mapped_storage::block big = mapped_storage::take(1024 * 1024);
  std::memset(small.data, 's', small.size);
  std::memset(big.data, 'b', big.size);
  mapped_storage::give(big);
  mapped_storage::give(small);
  const mapped_storage::block fits = mapped_storage::take(400 * 1024);
  EXPECT_EQ(fits.data[0], 's');
  EXPECT_EQ(fits.size, small.size);
  // Nothing kept is 2 MiB: the biggest kept block grows, its bytes with it.
  const mapped_storage::block grown = mapped_storage::take(2 * 1024 * 1024);
  EXPECT_EQ(grown.size, 2 * 1024 * 1024u);
  EXPECT_EQ(grown.data[0], 'b');
  EXPECT_EQ(grown.data[big.size - 1], 'b');
  EXPECT_EQ(mapped_storage::retained_bytes(), 0u);
  mapped_storage::give(fits);
  mapped_storage::give(grown);
  empty_pool();
}

TEST(mapped_storage, keeps_at_most_the_limit_and_trims_what_stays_unused) {
  const mapped_storage::keeper keep;  // as an event loop
  empty_pool();
  const mapped_storage::block whole = mapped_storage::take(mapped_storage::retained_limit);
  const mapped_storage::block more = mapped_storage::take(1024 * 1024);
  mapped_storage::give(whole);
  mapped_storage::give(more);  // past the limit: unmapped
  EXPECT_EQ(mapped_storage::retained_bytes(), mapped_storage::retained_limit);
  const auto now = std::chrono::steady_clock::now();
  mapped_storage::trim(now, std::chrono::hours(1));  // recently used: kept
  EXPECT_EQ(mapped_storage::retained_bytes(), mapped_storage::retained_limit);
  mapped_storage::trim(now + mapped_storage::max_idle + std::chrono::seconds(1));
  EXPECT_EQ(mapped_storage::retained_bytes(), 0u);
}

TEST(outbound_buffer, big_storage_goes_back_to_the_pool_for_the_next_buffer) {
  const mapped_storage::keeper keep;  // as an event loop
  empty_pool();
  const char* storage;
  std::size_t capacity;
  {
    outbound_buffer first;
    first.append(std::string(outbound_buffer::mapped_capacity + 5, 'f'));
    storage = first.data();
    capacity = first.capacity();
  }  // a closed connection's buffer
  EXPECT_EQ(mapped_storage::retained_bytes(), capacity);
  outbound_buffer next;
  next.append("MSG a 1 1\r\nx\r\n");  // small: malloc'd
  EXPECT_EQ(mapped_storage::retained_bytes(), capacity);
  next.append(std::string(outbound_buffer::mapped_capacity, 'n'));
  EXPECT_EQ(next.data(), storage);
  EXPECT_EQ(next.view(), "MSG a 1 1\r\nx\r\n" + std::string(outbound_buffer::mapped_capacity, 'n'));
  next.release();  // an idle connection's buffer
  EXPECT_EQ(mapped_storage::retained_bytes(), capacity);
  empty_pool();
}

TEST(mapped_storage, keeps_only_while_a_keeper_exists) {
  empty_pool();
  const mapped_storage::block early = mapped_storage::take(256 * 1024);
  mapped_storage::give(early);  // no keeper (no event loop): unmapped
  EXPECT_EQ(mapped_storage::retained_bytes(), 0u);
  {
    const mapped_storage::keeper first;
    {
      const mapped_storage::keeper second;
      mapped_storage::give(mapped_storage::take(256 * 1024));
      EXPECT_EQ(mapped_storage::retained_bytes(), 256 * 1024u);
    }
    EXPECT_EQ(mapped_storage::retained_bytes(), 256 * 1024u);  // one keeper left
  }
  EXPECT_EQ(mapped_storage::retained_bytes(), 0u);  // the last one unmapped it
}

TEST(mapped_storage, a_closed_receivers_pages_are_kept_until_the_server_is_gone) {
  empty_pool();
  conf::server_options options;
  options.host = "127.0.0.1";
  options.port = 0;
  options.threads = 1;
  auto broker = std::make_unique<server>(options);
  broker->start();
  {
    // A receiver that reads nothing, and 2 MiB for it (under the stall
    // threshold) in payloads small enough to be copied into its queue (not
    // referenced): its outbound buffer grows past mapped_capacity.
    test_support::raw_socket_client receiver(broker->port());
    receiver.set_receive_buffer(4096);
    receiver.send("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nSUB big 1\r\n");
    receiver.sync();
    test_support::raw_socket_client publisher(broker->port());
    const std::string payload(1024, 'b');
    std::string batch = "CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";
    for (int i = 0; i < 2048; ++i) batch += "PUB big 1024\r\n" + payload + "\r\n";
    ASSERT_TRUE(publisher.send(batch));
    publisher.sync();  // every message queued for the receiver
  }  // both close: the server drops the receiver and its buffers
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (mapped_storage::retained_bytes() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GE(mapped_storage::retained_bytes(), outbound_buffer::mapped_capacity);  // kept for the next buffer
  broker->shutdown();
  broker.reset();  // its event loop was the last keeper
  EXPECT_EQ(mapped_storage::retained_bytes(), 0u);
}

}  // namespace
}  // namespace courier::broker
