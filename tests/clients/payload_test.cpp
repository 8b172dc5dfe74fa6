// Payload sizes through libnats, and max_payload enforcement on both sides:
// libnats refuses locally from the INFO value, the server refuses a raw PUB.
#include "nats_helpers.hpp"
#include "raw_client.hpp"

namespace courier::test {
namespace {

/// Deterministic, non-repeating-looking bytes, including NUL and CR/LF.
std::string pattern(size_t size, unsigned seed) {
  std::string out(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : out) {
    x = x * 1103515245u + 12345u;
    c = static_cast<char>(x >> 24);
  }
  return out;
}

/// Publishes each size in turn and checks every byte that comes back.
void round_trip_sizes(const std::string& url, const std::vector<size_t>& sizes) {
  auto sub_conn = connect_to(url);
  auto pub_conn = connect_to(url);
  ASSERT_TRUE(sub_conn && pub_conn);
  auto sub = subscribe_sync(sub_conn.get(), "size.x");
  ASSERT_TRUE(sub);
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::string body = pattern(sizes[i], unsigned(i));
    ASSERT_EQ(NATS_OK, natsConnection_Publish(pub_conn.get(), "size.x", body.data(), int(body.size())))
        << "size " << sizes[i];
  }
  ASSERT_EQ(NATS_OK, flush(pub_conn.get()));
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto m = next_message(sub.get());
    ASSERT_TRUE(m) << "size " << sizes[i] << " not delivered";
    ASSERT_EQ(int(sizes[i]), natsMsg_GetDataLength(m.get()));
    EXPECT_TRUE(payload(m.get()) == pattern(sizes[i], unsigned(i))) << "size " << sizes[i] << " corrupted";
  }
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));
  EXPECT_EQ(0u, queued(sub.get()));
}

using payload_test = client_test;

TEST_F(payload_test, sizes_up_to_default_max_payload_arrive_intact) {
  auto nc = connect_to(server_.url());
  ASSERT_TRUE(nc);
  ASSERT_EQ(int64_t(1024 * 1024), natsConnection_GetMaxPayload(nc.get())) << "default max_payload is 1 MiB";
  round_trip_sizes(server_.url(), {0, 1, 2, 4095, 4096, 4097, 65535, 65536, 65537, 1024 * 1024 - 1, 1024 * 1024});
}

TEST_F(payload_test, client_refuses_payload_over_default_max) {
  auto nc = connect_to(server_.url());
  ASSERT_TRUE(nc);
  std::string body(1024 * 1024 + 1, 'x');
  EXPECT_EQ(NATS_MAX_PAYLOAD, natsConnection_Publish(nc.get(), "too.big", body.data(), int(body.size())));
  // The connection stays usable.
  EXPECT_EQ(NATS_OK, flush(nc.get()));
}

TEST(payload_config_test, lowered_max_payload_is_announced_and_enforced_exactly) {
  server_process server("max_payload: 8192\n");
  ASSERT_TRUE(server.start());
  auto nc = connect_to(server.url());
  ASSERT_TRUE(nc);
  ASSERT_EQ(int64_t(8192), natsConnection_GetMaxPayload(nc.get()));
  round_trip_sizes(server.url(), {0, 1, 4095, 4096, 8191, 8192});
  std::string body(8193, 'x');
  EXPECT_EQ(NATS_MAX_PAYLOAD, natsConnection_Publish(nc.get(), "too.big", body.data(), int(body.size())));
  EXPECT_EQ(NATS_OK, flush(nc.get()));
}

TEST(payload_config_test, server_rejects_raw_pub_over_max_payload_and_closes) {
  server_process server("max_payload: 1024\n");
  ASSERT_TRUE(server.start());

  // A bystander on another connection must not be affected.
  auto bystander = connect_to(server.url());
  ASSERT_TRUE(bystander);
  auto seen = subscribe_sync(bystander.get(), "mp.>");
  ASSERT_TRUE(seen);
  ASSERT_EQ(NATS_OK, flush(bystander.get()));

  raw_client raw(server.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.read_info());
  EXPECT_NE(std::string::npos, raw.buffer().find("\"max_payload\":1024")) << raw.buffer();
  raw.clear();
  // Exactly max_payload is fine.
  ASSERT_TRUE(raw.send("CONNECT {\"verbose\":false}\r\nPUB mp.ok 1024\r\n" + std::string(1024, 'a') + "\r\nPING\r\n"));
  ASSERT_TRUE(raw.read_until("PONG\r\n"));
  EXPECT_EQ("PONG\r\n", raw.buffer());
  raw.clear();
  // One byte more: the server refuses on the control line alone and closes.
  raw.send("PUB mp.bad 1025\r\n");
  EXPECT_TRUE(raw.read_until("-ERR 'Maximum Payload Violation'\r\n")) << raw.buffer();
  EXPECT_TRUE(raw.wait_closed()) << "connection left open after a payload violation";

  auto ok = next_message(seen.get());
  ASSERT_TRUE(ok);
  EXPECT_STREQ("mp.ok", natsMsg_GetSubject(ok.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(bystander.get(), "mp.after", "fine"));
  auto after = next_message(seen.get());
  ASSERT_TRUE(after);
  EXPECT_EQ("fine", payload(after.get()));
  ASSERT_EQ(NATS_OK, flush(bystander.get()));
  EXPECT_EQ(0u, queued(seen.get())) << "mp.bad must never be delivered";
}

TEST(payload_config_test, hpub_counts_headers_against_max_payload) {
  server_process server("max_payload: 1024\n");
  ASSERT_TRUE(server.start());
  auto nc = connect_to(server.url());
  ASSERT_TRUE(nc);
  // Headers plus a payload that fits on its own must be refused together.
  natsMsg* raw = nullptr;
  std::string body(1000, 'b');
  ASSERT_EQ(NATS_OK, natsMsg_Create(&raw, "mp.h", nullptr, body.data(), int(body.size())));
  message_ptr msg(raw);
  ASSERT_EQ(NATS_OK, natsMsgHeader_Set(msg.get(), "Padding", std::string(100, 'p').c_str()));
  EXPECT_EQ(NATS_MAX_PAYLOAD, natsConnection_PublishMsg(nc.get(), msg.get()));

  raw_client wire(server.port());
  ASSERT_TRUE(wire.connected());
  ASSERT_TRUE(wire.read_info());
  wire.clear();
  wire.send("CONNECT {\"verbose\":false,\"headers\":true}\r\nHPUB mp.h 12 1025\r\n");
  EXPECT_TRUE(wire.read_until("-ERR 'Maximum Payload Violation'\r\n")) << wire.buffer();
  EXPECT_TRUE(wire.wait_closed());
}

}  // namespace
}  // namespace courier::test
