// Queue groups through libnats: each message goes to exactly one member of a
// group, members are chosen at random, plain subscribers still see everything.
#include "nats_helpers.hpp"

#include <set>

namespace courier::test {
namespace {

using queue_group_test = client_test;

TEST_F(queue_group_test, each_message_goes_to_exactly_one_member_and_all_members_share) {
  constexpr int members = 5;
  constexpr int messages = 500;
  std::vector<connection_ptr> conns;
  std::vector<subscription_ptr> subs;
  for (int i = 0; i < members; ++i) {
    conns.push_back(connect_to(server_.url()));
    ASSERT_TRUE(conns.back());
    subs.push_back(subscribe_sync(conns.back().get(), "jobs.run", "workers"));
    ASSERT_TRUE(subs.back());
    ASSERT_EQ(NATS_OK, flush(conns.back().get()));
  }
  auto watcher_conn = connect_to(server_.url());
  ASSERT_TRUE(watcher_conn);
  auto watcher = subscribe_sync(watcher_conn.get(), "jobs.*");
  ASSERT_TRUE(watcher);
  ASSERT_EQ(NATS_OK, flush(watcher_conn.get()));

  auto pub = connect_to(server_.url());
  ASSERT_TRUE(pub);
  for (int i = 0; i < messages; ++i) {
    std::string body = std::to_string(i);
    ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub.get(), "jobs.run", body.c_str()));
  }
  ASSERT_EQ(NATS_OK, flush(pub.get()));
  // After these round trips every delivery is queued in the client library.
  for (auto& c : conns) ASSERT_EQ(NATS_OK, flush(c.get()));
  ASSERT_EQ(NATS_OK, flush(watcher_conn.get()));

  std::multiset<int> seen;
  std::vector<int> per_member(members, 0);
  for (int m = 0; m < members; ++m) {
    const uint64_t n = queued(subs[m].get());
    for (uint64_t k = 0; k < n; ++k) {
      auto msg = next_message(subs[m].get());
      ASSERT_TRUE(msg);
      seen.insert(std::stoi(payload(msg.get())));
      ++per_member[m];
    }
  }
  EXPECT_EQ(size_t(messages), seen.size()) << "total deliveries across the group";
  for (int i = 0; i < messages; ++i) EXPECT_EQ(1u, seen.count(i)) << "message " << i;
  for (int m = 0; m < members; ++m) {
    // With random choice, a member getting nothing out of 500 has odds 5*(4/5)^500.
    EXPECT_GT(per_member[m], 0) << "member " << m << " got nothing";
    EXPECT_LT(per_member[m], messages) << "member " << m << " got everything";
  }
  EXPECT_EQ(uint64_t(messages), queued(watcher.get())) << "plain subscriber sees every message";
}

TEST_F(queue_group_test, separate_groups_each_get_one_copy) {
  constexpr int messages = 50;
  auto nc = connect_to(server_.url());
  auto pub = connect_to(server_.url());
  ASSERT_TRUE(nc && pub);
  auto a1 = subscribe_sync(nc.get(), "grp.x", "a");
  auto a2 = subscribe_sync(nc.get(), "grp.x", "a");
  auto b1 = subscribe_sync(nc.get(), "grp.*", "b");
  ASSERT_TRUE(a1 && a2 && b1);
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  for (int i = 0; i < messages; ++i) ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub.get(), "grp.x", "m"));
  ASSERT_EQ(NATS_OK, flush(pub.get()));
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  EXPECT_EQ(uint64_t(messages), queued(a1.get()) + queued(a2.get()));
  EXPECT_EQ(uint64_t(messages), queued(b1.get()));
}

TEST_F(queue_group_test, member_leaving_hands_all_work_to_the_rest) {
  constexpr int messages = 100;
  auto c1 = connect_to(server_.url());
  auto c2 = connect_to(server_.url());
  auto pub = connect_to(server_.url());
  ASSERT_TRUE(c1 && c2 && pub);
  auto s1 = subscribe_sync(c1.get(), "leave.x", "q");
  auto s2 = subscribe_sync(c2.get(), "leave.x", "q");
  ASSERT_TRUE(s1 && s2);
  ASSERT_EQ(NATS_OK, flush(c1.get()));
  ASSERT_EQ(NATS_OK, flush(c2.get()));
  // The round trip after UNSUB makes the server's view certain before publishing.
  ASSERT_EQ(NATS_OK, natsSubscription_Unsubscribe(s1.get()));
  ASSERT_EQ(NATS_OK, flush(c1.get()));
  for (int i = 0; i < messages; ++i) ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub.get(), "leave.x", "m"));
  ASSERT_EQ(NATS_OK, flush(pub.get()));
  ASSERT_EQ(NATS_OK, flush(c2.get()));
  EXPECT_EQ(uint64_t(messages), queued(s2.get()));
}

}  // namespace
}  // namespace courier::test
