// Message headers (HPUB/HMSG) through libnats: single and repeated values,
// header-only messages, headers on requests and replies.
#include "nats_helpers.hpp"
#include "raw_client.hpp"

namespace courier::test {
namespace {

using headers_test = client_test;

/// Values of key on msg, in order; empty when absent.
std::vector<std::string> values(natsMsg* msg, const char* key) {
  const char** vals = nullptr;
  int count = 0;
  std::vector<std::string> out;
  if (natsMsgHeader_Values(msg, key, &vals, &count) != NATS_OK) return out;
  for (int i = 0; i < count; ++i) out.emplace_back(vals[i]);
  free(static_cast<void*>(vals));
  return out;
}

TEST_F(headers_test, headers_and_payload_are_delivered_intact) {
  auto sub_conn = connect_to(server_.url());
  auto pub_conn = connect_to(server_.url());
  ASSERT_TRUE(sub_conn && pub_conn);
  ASSERT_EQ(NATS_OK, natsConnection_HasHeaderSupport(pub_conn.get()));
  auto sub = subscribe_sync(sub_conn.get(), "hdr.x");
  ASSERT_TRUE(sub);
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));

  natsMsg* raw = nullptr;
  const std::string body = "the body\r\nwith CRLF";
  ASSERT_EQ(NATS_OK, natsMsg_Create(&raw, "hdr.x", nullptr, body.data(), int(body.size())));
  message_ptr out(raw);
  ASSERT_EQ(NATS_OK, natsMsgHeader_Set(out.get(), "Single", "one"));
  ASSERT_EQ(NATS_OK, natsMsgHeader_Add(out.get(), "Multi", "first"));
  ASSERT_EQ(NATS_OK, natsMsgHeader_Add(out.get(), "Multi", "second value"));
  ASSERT_EQ(NATS_OK, natsMsgHeader_Add(out.get(), "Multi", "third: with colon"));
  ASSERT_EQ(NATS_OK, natsMsgHeader_Set(out.get(), "Content-Type", "application/json; charset=utf-8"));
  ASSERT_EQ(NATS_OK, natsConnection_PublishMsg(pub_conn.get(), out.get()));
  ASSERT_EQ(NATS_OK, flush(pub_conn.get()));

  auto in = next_message(sub.get());
  ASSERT_TRUE(in);
  EXPECT_EQ(body, payload(in.get()));
  const char* v = nullptr;
  ASSERT_EQ(NATS_OK, natsMsgHeader_Get(in.get(), "Single", &v));
  EXPECT_STREQ("one", v);
  ASSERT_EQ(NATS_OK, natsMsgHeader_Get(in.get(), "Content-Type", &v));
  EXPECT_STREQ("application/json; charset=utf-8", v);
  EXPECT_EQ((std::vector<std::string>{"first", "second value", "third: with colon"}), values(in.get(), "Multi"));
  EXPECT_EQ(NATS_NOT_FOUND, natsMsgHeader_Get(in.get(), "Absent", &v));

  const char** keys = nullptr;
  int key_count = 0;
  ASSERT_EQ(NATS_OK, natsMsgHeader_Keys(in.get(), &keys, &key_count));
  EXPECT_EQ(3, key_count);
  free(static_cast<void*>(keys));
}

TEST_F(headers_test, header_only_message_with_empty_payload) {
  auto nc = connect_to(server_.url());
  ASSERT_TRUE(nc);
  auto sub = subscribe_sync(nc.get(), "hdr.empty");
  ASSERT_TRUE(sub);
  natsMsg* raw = nullptr;
  ASSERT_EQ(NATS_OK, natsMsg_Create(&raw, "hdr.empty", nullptr, nullptr, 0));
  message_ptr out(raw);
  ASSERT_EQ(NATS_OK, natsMsgHeader_Set(out.get(), "K", "V"));
  ASSERT_EQ(NATS_OK, natsConnection_PublishMsg(nc.get(), out.get()));
  auto in = next_message(sub.get());
  ASSERT_TRUE(in);
  EXPECT_EQ(0, natsMsg_GetDataLength(in.get()));
  const char* v = nullptr;
  ASSERT_EQ(NATS_OK, natsMsgHeader_Get(in.get(), "K", &v));
  EXPECT_STREQ("V", v);
}

TEST_F(headers_test, many_headered_messages_keep_their_own_headers) {
  auto sub_conn = connect_to(server_.url());
  auto pub_conn = connect_to(server_.url());
  ASSERT_TRUE(sub_conn && pub_conn);
  auto sub = subscribe_sync(sub_conn.get(), "hdr.many.*");
  ASSERT_TRUE(sub);
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));
  constexpr int count = 300;
  for (int i = 0; i < count; ++i) {
    std::string subject = "hdr.many." + std::to_string(i % 7);
    std::string body(size_t(i), char('a' + i % 26));
    natsMsg* raw = nullptr;
    ASSERT_EQ(NATS_OK, natsMsg_Create(&raw, subject.c_str(), nullptr, body.data(), int(body.size())));
    message_ptr out(raw);
    ASSERT_EQ(NATS_OK, natsMsgHeader_Set(out.get(), "Seq", std::to_string(i).c_str()));
    for (int k = 0; k < i % 4; ++k) natsMsgHeader_Add(out.get(), "Rep", std::to_string(k).c_str());
    ASSERT_EQ(NATS_OK, natsConnection_PublishMsg(pub_conn.get(), out.get()));
  }
  ASSERT_EQ(NATS_OK, flush(pub_conn.get()));
  for (int i = 0; i < count; ++i) {
    auto in = next_message(sub.get());
    ASSERT_TRUE(in) << i;
    EXPECT_EQ("hdr.many." + std::to_string(i % 7), natsMsg_GetSubject(in.get()));
    EXPECT_EQ(std::string(size_t(i), char('a' + i % 26)), payload(in.get()));
    const char* v = nullptr;
    ASSERT_EQ(NATS_OK, natsMsgHeader_Get(in.get(), "Seq", &v));
    EXPECT_EQ(std::to_string(i), v);
    EXPECT_EQ(size_t(i % 4), values(in.get(), "Rep").size());
  }
}

void header_echo(natsConnection* nc, natsSubscription*, natsMsg* msg, void*) {
  natsMsg* reply = nullptr;
  if (natsMsg_Create(&reply, natsMsg_GetReply(msg), nullptr, natsMsg_GetData(msg), natsMsg_GetDataLength(msg)) ==
      NATS_OK) {
    const char* v = nullptr;
    if (natsMsgHeader_Get(msg, "Ask", &v) == NATS_OK) {
      std::string answer = std::string("answer-to-") + v;
      natsMsgHeader_Set(reply, "Answer", answer.c_str());
    }
    natsConnection_PublishMsg(nc, reply);
    natsMsg_Destroy(reply);
  }
  natsMsg_Destroy(msg);
}

TEST_F(headers_test, request_and_reply_carry_headers) {
  auto svc = connect_to(server_.url());
  ASSERT_TRUE(svc);
  natsSubscription* raw_sub = nullptr;
  ASSERT_EQ(NATS_OK, natsConnection_Subscribe(&raw_sub, svc.get(), "hdr.svc", header_echo, nullptr));
  subscription_ptr sub(raw_sub);
  ASSERT_EQ(NATS_OK, flush(svc.get()));

  auto nc = connect_to(server_.url());
  ASSERT_TRUE(nc);
  natsMsg* raw = nullptr;
  ASSERT_EQ(NATS_OK, natsMsg_Create(&raw, "hdr.svc", nullptr, "data", 4));
  message_ptr req(raw);
  ASSERT_EQ(NATS_OK, natsMsgHeader_Set(req.get(), "Ask", "life"));
  natsMsg* raw_reply = nullptr;
  ASSERT_EQ(NATS_OK, natsConnection_RequestMsg(&raw_reply, nc.get(), req.get(), 2000));
  message_ptr reply(raw_reply);
  EXPECT_EQ("data", payload(reply.get()));
  const char* v = nullptr;
  ASSERT_EQ(NATS_OK, natsMsgHeader_Get(reply.get(), "Answer", &v));
  EXPECT_STREQ("answer-to-life", v);
}

TEST_F(headers_test, hpub_on_the_wire_becomes_hmsg_with_same_sizes) {
  raw_client raw(server_.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.read_info());
  EXPECT_NE(std::string::npos, raw.buffer().find("\"headers\":true")) << raw.buffer();
  raw.clear();
  const std::string headers = "NATS/1.0\r\nA: b\r\n\r\n";  // 18 bytes
  const std::string body = "xyz";
  ASSERT_TRUE(raw.send("CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB h.w 3\r\nHPUB h.w r.to 18 21\r\n" +
                       headers + body + "\r\nPING\r\n"));
  ASSERT_TRUE(raw.read_until("PONG\r\n"));
  EXPECT_EQ("HMSG h.w 3 r.to 18 21\r\n" + headers + body + "\r\nPONG\r\n", raw.buffer());
}

}  // namespace
}  // namespace courier::test
