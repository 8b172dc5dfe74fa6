// The fixture itself: the server comes up on its port, goes away on stop,
// comes back on the same port, and a bad config is reported, not hung on.
#include "server_process.hpp"

#include "raw_client.hpp"

// LeakSanitizer hook (used only in sanitizer builds). libnats 3.4.1 leaks
// the buffer of a message it was part-way through reading when the server
// closes the connection (seen when a broker cuts off a subscriber of 1 MiB
// messages). That is the client library's leak, not ours or the broker's.
extern "C" const char* __lsan_default_suppressions() { return "leak:natsBuf_Create\n"; }

namespace courier::test {
namespace {

TEST(server_process_test, starts_stops_and_restarts_on_the_same_port) {
  server_process server;
  ASSERT_TRUE(server.start()) << "binary: " << server_binary();
  EXPECT_TRUE(server.running());
  const int port = server.port();
  ASSERT_GT(port, 0);
  {
    raw_client raw(port);
    ASSERT_TRUE(raw.connected());
    ASSERT_TRUE(raw.read_info());
    EXPECT_NE(std::string::npos, raw.buffer().find("\"port\":" + std::to_string(port))) << raw.buffer();
  }
  const int status = server.stop();
  EXPECT_FALSE(server.running());
  EXPECT_TRUE(WIFEXITED(status) || WIFSIGNALED(status));
  EXPECT_LT(connect_loopback(port), 0) << "port still accepting after stop";

  ASSERT_TRUE(server.start());
  EXPECT_EQ(port, server.port());
  server.kill();
  EXPECT_FALSE(server.running());
  EXPECT_LT(connect_loopback(port), 0);
}

TEST(server_process_test, open_clients_are_disconnected_on_stop) {
  server_process server;
  ASSERT_TRUE(server.start());
  raw_client raw(server.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.read_info());
  server.stop();
  EXPECT_TRUE(raw.wait_closed(2s));
}

TEST(server_process_test, unreadable_config_fails_start_instead_of_hanging) {
  server_process server("this is { not a valid config");
  const auto start = steady::now();
  EXPECT_FALSE(server.start(5s));
  EXPECT_LT(steady::now() - start, 5s) << "startup failure should be seen as an early exit";
  EXPECT_FALSE(server.running());
}

}  // namespace
}  // namespace courier::test
