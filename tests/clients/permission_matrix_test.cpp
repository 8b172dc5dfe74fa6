// The permission matrix through libnats: publish and subscribe, allow and
// deny, queue-scoped subscribe entries and allow_responses. Each case is
// judged by what is delivered (a denied message must never arrive, checked
// after a later allowed marker has arrived on the same path) and by the -ERR
// text libnats reports through its asynchronous error handler.
#include "security_helpers.hpp"

namespace courier::test {
namespace {

constexpr const char* matrix_config = R"(
authorization {
  users = [
    { user: admin, password: a }
    { user: pubber, password: p, permissions: {
        publish: { allow: ["orders.>"], deny: ["orders.secret.>"] }, subscribe: "_INBOX.>" } }
    { user: watcher, password: w, permissions: {
        publish: "_INBOX.>", subscribe: { allow: ["orders.>", "metrics.*"], deny: ["orders.secret.>"] } } }
    { user: worker, password: k, permissions: {
        publish: "jobs.>", subscribe: { allow: ["jobs.* workers", "status.>"], deny: ["jobs.admin workers"] } } }
    { user: svc, password: s, permissions: { subscribe: "svc.>", allow_responses: true } }
    { user: svc2, password: s, permissions: { subscribe: "svc.>", allow_responses: { max: 2, expires: "300ms" } } }
  ]
}
)";

class permission_matrix_test : public testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()); }

  /// Connects as user; errors (if given) collects its async errors.
  connection_ptr login(const char* user, const char* password, async_errors* errors = nullptr) {
    auto opts = make_options(server_.url());
    if (!opts) return nullptr;
    natsOptions_SetUserInfo(opts.get(), user, password);
    if (errors != nullptr) errors->attach(opts.get());
    return connect_with(opts.get());
  }

  /// Subjects delivered to c, in order.
  static std::vector<std::string> subjects(collector& c) {
    std::vector<std::string> out;
    for (auto& item : c.items()) out.push_back(item.subject);
    return out;
  }

  server_process server_{matrix_config};
};

using subject_list = std::vector<std::string>;

TEST_F(permission_matrix_test, publish_allow_and_deny) {
  collector seen;
  auto admin = login("admin", "a");
  async_errors errors;
  auto pubber = login("pubber", "p", &errors);
  ASSERT_TRUE(admin && pubber);
  auto all = seen.subscribe(admin.get(), ">");
  ASSERT_EQ(NATS_OK, flush(admin.get()));

  auto publish = [&](const char* subject) {
    ASSERT_EQ(NATS_OK, natsConnection_PublishString(pubber.get(), subject, subject));
    ASSERT_EQ(NATS_OK, flush(pubber.get()));
  };
  publish("orders.new");
  publish("orders.secret.plan");
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Publish to \"orders.secret.plan\"")) << errors.all();
  publish("billing.invoice");
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Publish to \"billing.invoice\"")) << errors.all();
  publish("orders.secret");
  publish("orders.marker");
  ASSERT_TRUE(seen.wait_for(3));
  ASSERT_EQ(NATS_OK, flush(admin.get()));
  // orders.secret is not under orders.secret.>, so it is allowed.
  EXPECT_EQ((subject_list{"orders.new", "orders.secret", "orders.marker"}), subjects(seen));
  EXPECT_FALSE(errors.saw("\"orders.new\"") || errors.saw("\"orders.secret\"")) << errors.all();
  EXPECT_EQ(NATS_CONN_STATUS_CONNECTED, natsConnection_Status(pubber.get()));
}

TEST_F(permission_matrix_test, subscribe_allow_and_deny) {
  async_errors errors;
  auto watcher = login("watcher", "w", &errors);
  auto admin = login("admin", "a");
  ASSERT_TRUE(watcher && admin);
  collector denied_secret, denied_billing, metrics;
  auto s1 = denied_secret.subscribe(watcher.get(), "orders.secret.plan");
  ASSERT_EQ(NATS_OK, flush(watcher.get()));
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Subscription to \"orders.secret.plan\"")) << errors.all();
  auto s2 = denied_billing.subscribe(watcher.get(), "billing.>");
  ASSERT_EQ(NATS_OK, flush(watcher.get()));
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Subscription to \"billing.>\"")) << errors.all();
  auto s3 = metrics.subscribe(watcher.get(), "metrics.cpu");
  ASSERT_EQ(NATS_OK, flush(watcher.get()));
  EXPECT_FALSE(errors.saw("metrics.cpu")) << errors.all();

  for (const char* subject : {"orders.secret.plan", "billing.q1", "metrics.cpu"}) {
    ASSERT_EQ(NATS_OK, natsConnection_PublishString(admin.get(), subject, "x"));
  }
  ASSERT_EQ(NATS_OK, flush(admin.get()));
  ASSERT_TRUE(metrics.wait_for(1));
  ASSERT_EQ(NATS_OK, flush(watcher.get()));
  EXPECT_EQ(0u, denied_secret.size());
  EXPECT_EQ(0u, denied_billing.size());
  EXPECT_EQ(1u, metrics.size());
}

TEST_F(permission_matrix_test, wildcard_subscription_overlapping_a_deny_is_filtered_at_delivery) {
  async_errors errors;
  auto watcher = login("watcher", "w", &errors);
  auto admin = login("admin", "a");
  ASSERT_TRUE(watcher && admin);
  collector orders;
  auto sub = orders.subscribe(watcher.get(), "orders.>");
  ASSERT_EQ(NATS_OK, flush(watcher.get()));
  for (const char* subject : {"orders.public", "orders.secret.plan", "orders.secret.x.y", "orders.secret", "orders.end"}) {
    ASSERT_EQ(NATS_OK, natsConnection_PublishString(admin.get(), subject, "x"));
  }
  ASSERT_EQ(NATS_OK, flush(admin.get()));
  ASSERT_TRUE(orders.wait_for(3));
  ASSERT_EQ(NATS_OK, flush(watcher.get()));
  EXPECT_EQ((subject_list{"orders.public", "orders.secret", "orders.end"}), subjects(orders));
  EXPECT_EQ(0u, errors.size()) << "the wildcard subscription itself is allowed: " << errors.all();
}

TEST_F(permission_matrix_test, queue_scoped_subscribe_permissions) {
  async_errors errors;
  auto worker = login("worker", "k", &errors);
  auto admin = login("admin", "a");
  ASSERT_TRUE(worker && admin);
  collector in_group, plain, other_group, admin_jobs, status;
  auto q1 = in_group.subscribe(worker.get(), "jobs.build", "workers");
  auto q5 = status.subscribe(worker.get(), "status.up");
  ASSERT_EQ(NATS_OK, flush(worker.get()));
  auto q2 = plain.subscribe(worker.get(), "jobs.build");
  ASSERT_EQ(NATS_OK, flush(worker.get()));
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Subscription to \"jobs.build\"")) << errors.all();
  // The plain subscription's violation names no queue.
  EXPECT_FALSE(errors.saw("using queue")) << errors.all();
  auto q3 = other_group.subscribe(worker.get(), "jobs.build", "others");
  ASSERT_EQ(NATS_OK, flush(worker.get()));
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Subscription to \"jobs.build\" using queue \"others\""))
      << errors.all();
  auto q4 = admin_jobs.subscribe(worker.get(), "jobs.admin", "workers");
  ASSERT_EQ(NATS_OK, flush(worker.get()));
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Subscription to \"jobs.admin\" using queue \"workers\""))
      << errors.all();
  // Neither the permitted queue subscription nor status.up was refused.
  EXPECT_EQ(3u, errors.size()) << errors.all();

  for (int i = 0; i < 3; ++i) ASSERT_EQ(NATS_OK, natsConnection_PublishString(admin.get(), "jobs.build", "b"));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(admin.get(), "jobs.admin", "a"));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(admin.get(), "status.up", "s"));
  ASSERT_EQ(NATS_OK, flush(admin.get()));
  ASSERT_TRUE(in_group.wait_for(3));
  ASSERT_TRUE(status.wait_for(1));
  ASSERT_EQ(NATS_OK, flush(worker.get()));
  EXPECT_EQ(3u, in_group.size());
  EXPECT_EQ(0u, plain.size());
  EXPECT_EQ(0u, other_group.size());
  EXPECT_EQ(0u, admin_jobs.size());
  EXPECT_EQ(1u, status.size());
  // The worker may publish jobs.> and is still connected.
  EXPECT_TRUE(delivers(worker.get(), admin.get(), "jobs.result", "done"));
}

TEST_F(permission_matrix_test, allow_responses_permits_one_reply_to_a_received_request) {
  async_errors errors;
  auto svc = login("svc", "s", &errors);
  auto admin = login("admin", "a");
  ASSERT_TRUE(svc && admin);
  auto requests = subscribe_sync(svc.get(), "svc.echo");
  ASSERT_EQ(NATS_OK, flush(svc.get()));
  collector replies;
  auto reply_sub = replies.subscribe(admin.get(), "reply.>");
  ASSERT_EQ(NATS_OK, flush(admin.get()));

  ASSERT_EQ(NATS_OK, natsConnection_PublishRequestString(admin.get(), "svc.echo", "reply.box1", "question"));
  ASSERT_EQ(NATS_OK, flush(admin.get()));
  auto request = next_message(requests.get());
  ASSERT_TRUE(request);
  ASSERT_STREQ("reply.box1", natsMsg_GetReply(request.get()));

  // First response allowed, second not (default max 1); a reply subject
  // never received and an ordinary subject are never allowed.
  auto respond = [&](const char* subject, const char* data) {
    ASSERT_EQ(NATS_OK, natsConnection_PublishString(svc.get(), subject, data));
    ASSERT_EQ(NATS_OK, flush(svc.get()));
  };
  respond("reply.box1", "answer 1");
  respond("reply.box1", "answer 2");
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Publish to \"reply.box1\"")) << errors.all();
  respond("reply.box2", "unsolicited");
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Publish to \"reply.box2\"")) << errors.all();
  respond("svc.echo", "loop");
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Publish to \"svc.echo\"")) << errors.all();

  // A second request opens a second, independent reply permission; its
  // answer arriving proves the earlier denied ones are not just late.
  ASSERT_EQ(NATS_OK, natsConnection_PublishRequestString(admin.get(), "svc.echo", "reply.box3", "again"));
  ASSERT_EQ(NATS_OK, flush(admin.get()));
  auto second = next_message(requests.get());
  ASSERT_TRUE(second);
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(svc.get(), "reply.box3", "answer 3"));
  ASSERT_EQ(NATS_OK, flush(svc.get()));
  ASSERT_TRUE(replies.wait_for(2));
  ASSERT_EQ(NATS_OK, flush(admin.get()));
  std::vector<std::string> got;
  for (auto& item : replies.items()) got.push_back(item.subject + ":" + item.data);
  EXPECT_EQ((subject_list{"reply.box1:answer 1", "reply.box3:answer 3"}), got);
  EXPECT_EQ(NATS_CONN_STATUS_CONNECTED, natsConnection_Status(svc.get()));
}

TEST_F(permission_matrix_test, allow_responses_with_max_and_expiry) {
  async_errors errors;
  auto svc = login("svc2", "s", &errors);
  auto admin = login("admin", "a");
  ASSERT_TRUE(svc && admin);
  auto requests = subscribe_sync(svc.get(), "svc.>");
  ASSERT_EQ(NATS_OK, flush(svc.get()));
  collector replies;
  auto reply_sub = replies.subscribe(admin.get(), "reply.>");
  ASSERT_EQ(NATS_OK, flush(admin.get()));

  ASSERT_EQ(NATS_OK, natsConnection_PublishRequestString(admin.get(), "svc.a", "reply.a", "q"));
  ASSERT_EQ(NATS_OK, natsConnection_PublishRequestString(admin.get(), "svc.b", "reply.b", "q"));
  ASSERT_EQ(NATS_OK, flush(admin.get()));
  ASSERT_TRUE(next_message(requests.get()));
  ASSERT_TRUE(next_message(requests.get()));

  // Up to max (2) responses to reply.a.
  for (int i = 1; i <= 3; ++i) {
    ASSERT_EQ(NATS_OK, natsConnection_PublishString(svc.get(), "reply.a", ("a" + std::to_string(i)).c_str()));
  }
  ASSERT_EQ(NATS_OK, flush(svc.get()));
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Publish to \"reply.a\"")) << errors.all();

  // reply.b expires 300 ms after the request was delivered.
  std::this_thread::sleep_for(450ms);
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(svc.get(), "reply.b", "late"));
  ASSERT_EQ(NATS_OK, flush(svc.get()));
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Publish to \"reply.b\"")) << errors.all();

  // A fresh request answered in time goes through (and marks the end).
  ASSERT_EQ(NATS_OK, natsConnection_PublishRequestString(admin.get(), "svc.c", "reply.c", "q"));
  ASSERT_EQ(NATS_OK, flush(admin.get()));
  ASSERT_TRUE(next_message(requests.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(svc.get(), "reply.c", "c1"));
  ASSERT_EQ(NATS_OK, flush(svc.get()));
  ASSERT_TRUE(replies.wait_for(3));
  ASSERT_EQ(NATS_OK, flush(admin.get()));
  std::vector<std::string> got;
  for (auto& item : replies.items()) got.push_back(item.subject + ":" + item.data);
  EXPECT_EQ((subject_list{"reply.a:a1", "reply.a:a2", "reply.c:c1"}), got);
}

TEST(default_permissions_test, apply_to_users_without_their_own) {
  server_process server(R"(
authorization {
  default_permissions: { publish: "public.>", subscribe: ["public.>", "_INBOX.>"] }
  users = [
    { user: plain, password: p }
    { user: boss, password: b, permissions: { publish: ">", subscribe: ">" } }
  ]
}
)");
  ASSERT_TRUE(server.start());
  async_errors errors;
  auto plain_opts = make_options(server.url());
  natsOptions_SetUserInfo(plain_opts.get(), "plain", "p");
  errors.attach(plain_opts.get());
  auto plain = connect_with(plain_opts.get());
  auto boss_opts = make_options(server.url());
  natsOptions_SetUserInfo(boss_opts.get(), "boss", "b");
  auto boss = connect_with(boss_opts.get());
  ASSERT_TRUE(plain && boss);
  EXPECT_TRUE(delivers(plain.get(), boss.get(), "public.x", "default allows"));
  EXPECT_TRUE(delivers(boss.get(), plain.get(), "public.y", "to plain"));

  auto watch = subscribe_sync(boss.get(), "private.>");
  ASSERT_EQ(NATS_OK, flush(boss.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(plain.get(), "private.x", "denied"));
  ASSERT_EQ(NATS_OK, flush(plain.get()));
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Publish to \"private.x\"")) << errors.all();
  auto denied = subscribe_sync(plain.get(), "private.>");
  ASSERT_EQ(NATS_OK, flush(plain.get()));
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Subscription to \"private.>\"")) << errors.all();
  // boss has its own permissions, not the defaults.
  EXPECT_TRUE(delivers(boss.get(), boss.get(), "private.z", "boss may"));
  ASSERT_EQ(NATS_OK, flush(plain.get()));
  EXPECT_EQ(0u, queued(denied.get()));
  EXPECT_EQ(1u, queued(watch.get())) << "only boss's private.z";
}

}  // namespace
}  // namespace courier::test
