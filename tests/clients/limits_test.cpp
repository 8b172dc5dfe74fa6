// Server limits from the config file, as libnats and the wire see them:
// max_connections and max_subscriptions.
#include "nats_helpers.hpp"
#include "raw_client.hpp"

namespace courier::test {
namespace {

TEST(limits_test, max_connections_refuses_one_more_and_frees_the_slot_on_close) {
  server_process server("max_connections: 3\n");
  ASSERT_TRUE(server.start());
  std::vector<connection_ptr> conns;
  for (int i = 0; i < 3; ++i) {
    conns.push_back(connect_to(server.url()));
    ASSERT_TRUE(conns.back()) << "connection " << i;
  }
  {
    auto opts = make_options(server.url());
    ASSERT_TRUE(opts);
    natsConnection* raw = nullptr;
    EXPECT_NE(NATS_OK, natsConnection_Connect(&raw, opts.get())) << "fourth connection accepted";
    connection_ptr extra(raw);
  }
  {
    raw_client raw(server.port());
    ASSERT_TRUE(raw.connected());
    EXPECT_TRUE(raw.read_until("-ERR 'maximum connections exceeded'\r\n")) << raw.buffer();
    EXPECT_TRUE(raw.wait_closed());
  }
  // Closing one makes room again (the server sees the close asynchronously).
  natsConnection_Close(conns.back().get());
  connection_ptr again;
  ASSERT_TRUE(wait_until([&] {
    auto opts = make_options(server.url());
    natsConnection* raw = nullptr;
    if (natsConnection_Connect(&raw, opts.get()) != NATS_OK) return false;
    again.reset(raw);
    return true;
  }));
  EXPECT_EQ(NATS_OK, flush(again.get()));
}

TEST(limits_test, max_subscriptions_refuses_extra_sub_but_keeps_connection) {
  server_process server("max_subscriptions: 2\n");
  ASSERT_TRUE(server.start());
  raw_client raw(server.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.read_info());
  raw.clear();
  ASSERT_TRUE(raw.send("CONNECT {\"verbose\":false}\r\nSUB a 1\r\nSUB b 2\r\nSUB c 3\r\nPING\r\n"));
  ASSERT_TRUE(raw.read_until("PONG\r\n"));
  EXPECT_EQ("-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n", raw.buffer());
  raw.clear();
  // The first two work, the refused one does not exist.
  ASSERT_TRUE(raw.send("PUB a 1\r\n1\r\nPUB b 1\r\n2\r\nPUB c 1\r\n3\r\nPING\r\n"));
  ASSERT_TRUE(raw.read_until("PONG\r\n"));
  EXPECT_EQ("MSG a 1 1\r\n1\r\nMSG b 2 1\r\n2\r\nPONG\r\n", raw.buffer());

  // libnats treats this -ERR as fatal: the stock client ends up closed with
  // the server's text as its last error.
  auto nc = connect_to(server.url());
  ASSERT_TRUE(nc);
  auto s1 = subscribe_sync(nc.get(), "x.1");
  auto s2 = subscribe_sync(nc.get(), "x.2");
  auto s3 = subscribe_sync(nc.get(), "x.3");
  ASSERT_TRUE(s1 && s2 && s3);
  flush(nc.get());
  ASSERT_TRUE(wait_until([&] { return natsConnection_IsClosed(nc.get()); })) << "libnats saw no error";
  const char* last = nullptr;
  natsConnection_GetLastError(nc.get(), &last);
  ASSERT_NE(nullptr, last);
  EXPECT_NE(std::string::npos, std::string(last).find("maximum subscriptions exceeded")) << last;
}

}  // namespace
}  // namespace courier::test
