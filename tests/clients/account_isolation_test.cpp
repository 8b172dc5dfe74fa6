// Accounts through libnats: each account is its own subject space, so the
// same subject in two accounts are two unrelated subjects. A message must
// never cross, whether the other side listens on the literal subject, a
// wildcard, a queue group, or a request's reply inbox.
#include "security_helpers.hpp"

namespace courier::test {
namespace {

constexpr const char* accounts_config = R"(
accounts {
  RED: { users: [ { user: red1, password: r1 }, { user: red2, password: r2 } ] }
  BLUE: { users: [ { user: blue1, password: b1 } ] }
}
)";

class account_isolation_test : public testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()); }
  connection_ptr login(const char* user, const char* password) {
    auto opts = make_options(server_.url());
    if (!opts) return nullptr;
    natsOptions_SetUserInfo(opts.get(), user, password);
    return connect_with(opts.get());
  }
  server_process server_{accounts_config};
};

TEST_F(account_isolation_test, same_subject_in_two_accounts_never_crosses) {
  collector red_seen, blue_seen, blue_wild, blue_queue, red_wild;
  auto red1 = login("red1", "r1");
  auto red2 = login("red2", "r2");
  auto blue = login("blue1", "b1");
  ASSERT_TRUE(red1 && red2 && blue);
  auto s1 = red_seen.subscribe(red2.get(), "shared.subject");
  auto s2 = red_wild.subscribe(red2.get(), ">");
  auto s3 = blue_seen.subscribe(blue.get(), "shared.subject");
  auto s4 = blue_wild.subscribe(blue.get(), ">");
  auto s5 = blue_queue.subscribe(blue.get(), "shared.subject", "q");
  ASSERT_EQ(NATS_OK, flush(red2.get()));
  ASSERT_EQ(NATS_OK, flush(blue.get()));

  ASSERT_EQ(NATS_OK, natsConnection_PublishString(red1.get(), "shared.subject", "red"));
  ASSERT_EQ(NATS_OK, flush(red1.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(blue.get(), "shared.subject", "blue"));
  ASSERT_EQ(NATS_OK, flush(blue.get()));

  // Inside each account the message arrives everywhere it should...
  ASSERT_TRUE(red_seen.wait_for(1));
  ASSERT_TRUE(red_wild.wait_for(1));
  ASSERT_TRUE(blue_seen.wait_for(1));
  ASSERT_TRUE(blue_wild.wait_for(1));
  ASSERT_TRUE(blue_queue.wait_for(1));
  // ...and nowhere else: one round trip more on each side, then exact counts.
  ASSERT_EQ(NATS_OK, flush(red2.get()));
  ASSERT_EQ(NATS_OK, flush(blue.get()));
  auto datas = [](collector& c) {
    std::vector<std::string> out;
    for (auto& item : c.items()) out.push_back(item.data);
    return out;
  };
  using list = std::vector<std::string>;
  EXPECT_EQ(list{"red"}, datas(red_seen));
  EXPECT_EQ(list{"red"}, datas(red_wild));
  EXPECT_EQ(list{"blue"}, datas(blue_seen));
  EXPECT_EQ(list{"blue"}, datas(blue_wild));
  EXPECT_EQ(list{"blue"}, datas(blue_queue));
}

TEST_F(account_isolation_test, requests_are_answered_only_inside_the_account) {
  auto red1 = login("red1", "r1");
  auto red2 = login("red2", "r2");
  auto blue = login("blue1", "b1");
  ASSERT_TRUE(red1 && red2 && blue);
  // A responder in RED only.
  auto service = subscribe_sync(red2.get(), "svc.time");
  ASSERT_EQ(NATS_OK, flush(red2.get()));

  std::thread responder([&] {
    for (int i = 0; i < 2; ++i) {
      auto m = next_message(service.get(), 3s);
      if (!m) return;
      natsConnection_PublishString(red2.get(), natsMsg_GetReply(m.get()), "noon");
      natsConnection_Flush(red2.get());
    }
  });
  natsMsg* reply = nullptr;
  EXPECT_EQ(NATS_OK, natsConnection_RequestString(&reply, red1.get(), "svc.time", "now?", 2000));
  if (reply != nullptr) {
    EXPECT_EQ("noon", payload(reply));
    natsMsg_Destroy(reply);
    reply = nullptr;
  }
  // BLUE has no such service: no responders (or a timeout), never RED's answer.
  natsStatus blue_status = natsConnection_RequestString(&reply, blue.get(), "svc.time", "now?", 500);
  EXPECT_NE(NATS_OK, blue_status);
  EXPECT_EQ(nullptr, reply);
  if (reply != nullptr) natsMsg_Destroy(reply);
  // Release the responder's second wait with a request it may answer.
  reply = nullptr;
  EXPECT_EQ(NATS_OK, natsConnection_RequestString(&reply, red1.get(), "svc.time", "again", 2000));
  if (reply != nullptr) natsMsg_Destroy(reply);
  responder.join();
}

}  // namespace
}  // namespace courier::test
