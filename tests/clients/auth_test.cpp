// Authentication and permissions as a stock client meets them: credentials in
// libnats options, refused connections, and permission violations reported
// through the asynchronous error handler while the connection stays up.
#include "nats_helpers.hpp"
#include "raw_client.hpp"

namespace courier::test {
namespace {

connection_ptr try_connect(natsOptions* opts, natsStatus& status) {
  natsConnection* raw = nullptr;
  status = natsConnection_Connect(&raw, opts);
  return connection_ptr(raw);
}

TEST(auth_test, user_and_password) {
  server_process server("authorization { user: alice, password: \"s3cret\" }\n");
  ASSERT_TRUE(server.start());

  auto good = make_options(server.url());
  ASSERT_TRUE(good);
  natsOptions_SetUserInfo(good.get(), "alice", "s3cret");
  auto nc = connect_with(good.get());
  ASSERT_TRUE(nc);
  auto sub = subscribe_sync(nc.get(), "auth.x");
  ASSERT_TRUE(sub);
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(nc.get(), "auth.x", "in"));
  auto m = next_message(sub.get());
  ASSERT_TRUE(m);
  EXPECT_EQ("in", payload(m.get()));

  for (auto [user, password] : {std::pair{"alice", "wrong"}, std::pair{"bob", "s3cret"}, std::pair{"", ""}}) {
    auto opts = make_options(server.url());
    ASSERT_TRUE(opts);
    if (*user) natsOptions_SetUserInfo(opts.get(), user, password);
    natsStatus status = NATS_OK;
    auto refused = try_connect(opts.get(), status);
    EXPECT_FALSE(refused) << user << "/" << password;
    EXPECT_NE(NATS_OK, status) << user << "/" << password;
  }
}

TEST(auth_test, refused_connection_gets_authorization_violation_on_the_wire) {
  server_process server("authorization { user: alice, password: \"s3cret\" }\n");
  ASSERT_TRUE(server.start());
  raw_client raw(server.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.read_info());
  EXPECT_NE(std::string::npos, raw.buffer().find("\"auth_required\":true")) << raw.buffer();
  raw.clear();
  raw.send("CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"nope\"}\r\nPING\r\n");
  EXPECT_TRUE(raw.read_until("-ERR 'Authorization Violation'\r\n")) << raw.buffer();
  EXPECT_TRUE(raw.wait_closed());
  EXPECT_EQ(std::string::npos, raw.buffer().find("PONG")) << raw.buffer();
}

TEST(auth_test, token) {
  server_process server("authorization { token: \"tok-123\" }\n");
  ASSERT_TRUE(server.start());
  auto good = make_options(server.url());
  ASSERT_TRUE(good);
  natsOptions_SetToken(good.get(), "tok-123");
  auto nc = connect_with(good.get());
  ASSERT_TRUE(nc);
  EXPECT_EQ(NATS_OK, flush(nc.get()));

  auto bad = make_options(server.url());
  ASSERT_TRUE(bad);
  natsOptions_SetToken(bad.get(), "tok-124");
  natsStatus status = NATS_OK;
  auto refused = try_connect(bad.get(), status);
  EXPECT_FALSE(refused);
  EXPECT_NE(NATS_OK, status);
}

/// Records asynchronous errors libnats reports for a connection.
struct error_log {
  std::mutex mutex;
  std::vector<natsStatus> statuses;
  std::vector<std::string> texts;

  static void on_error(natsConnection* nc, natsSubscription*, natsStatus err, void* closure) {
    auto* self = static_cast<error_log*>(closure);
    const char* text = nullptr;
    natsConnection_GetLastError(nc, &text);
    std::lock_guard lock(self->mutex);
    self->statuses.push_back(err);
    self->texts.emplace_back(text ? text : "");
  }
  natsStatus first() {
    std::lock_guard lock(mutex);
    return statuses.empty() ? NATS_OK : statuses.front();
  }
  size_t size() {
    std::lock_guard lock(mutex);
    return statuses.size();
  }
  std::string all() {
    std::lock_guard lock(mutex);
    std::string out;
    for (auto& t : texts) out += t + "\n";
    return out;
  }
};

constexpr const char* permissions_config = R"(authorization {
  users = [
    { user: pub, password: p, permissions: { publish: "allowed.>", subscribe: "_INBOX.>" } }
    { user: sub, password: s, permissions: { publish: "_INBOX.>", subscribe: { allow: ">", deny: "secret.>" } } }
    { user: admin, password: a }
  ]
}
)";

TEST(auth_test, publish_permission_violation_is_reported_and_not_delivered) {
  server_process server(permissions_config);
  ASSERT_TRUE(server.start());
  auto sub_opts = make_options(server.url());
  ASSERT_TRUE(sub_opts);
  natsOptions_SetUserInfo(sub_opts.get(), "sub", "s");
  auto sub_conn = connect_with(sub_opts.get());
  ASSERT_TRUE(sub_conn);
  auto everything = subscribe_sync(sub_conn.get(), "allowed.>");
  auto denied_too = subscribe_sync(sub_conn.get(), "denied.>");
  ASSERT_TRUE(everything && denied_too);
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));

  error_log errors;
  auto pub_opts = make_options(server.url());
  ASSERT_TRUE(pub_opts);
  natsOptions_SetUserInfo(pub_opts.get(), "pub", "p");
  natsOptions_SetErrorHandler(pub_opts.get(), &error_log::on_error, &errors);
  auto pub = connect_with(pub_opts.get());
  ASSERT_TRUE(pub);
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub.get(), "denied.x", "no"));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(pub.get(), "allowed.x", "yes"));
  ASSERT_EQ(NATS_OK, flush(pub.get()));
  ASSERT_TRUE(wait_until([&] { return errors.size() > 0; })) << "no async error reported";
  EXPECT_EQ(NATS_NOT_PERMITTED, errors.first());
  EXPECT_NE(std::string::npos, errors.all().find("Permissions Violation for Publish to \"denied.x\"")) << errors.all();

  // The violation does not close the connection; the allowed publish went through.
  EXPECT_EQ(NATS_CONN_STATUS_CONNECTED, natsConnection_Status(pub.get()));
  auto ok = next_message(everything.get());
  ASSERT_TRUE(ok);
  EXPECT_EQ("yes", payload(ok.get()));
  ASSERT_EQ(NATS_OK, flush(sub_conn.get()));
  EXPECT_EQ(0u, queued(denied_too.get())) << "denied publish was delivered";
}

TEST(auth_test, subscribe_permission_violation_is_reported_and_gets_nothing) {
  server_process server(permissions_config);
  ASSERT_TRUE(server.start());
  error_log errors;
  auto opts = make_options(server.url());
  ASSERT_TRUE(opts);
  natsOptions_SetUserInfo(opts.get(), "sub", "s");
  natsOptions_SetErrorHandler(opts.get(), &error_log::on_error, &errors);
  auto nc = connect_with(opts.get());
  ASSERT_TRUE(nc);
  auto secret = subscribe_sync(nc.get(), "secret.plans");
  auto open = subscribe_sync(nc.get(), "open.plans");
  ASSERT_TRUE(secret && open);
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  ASSERT_TRUE(wait_until([&] { return errors.size() > 0; })) << "no async error reported";
  EXPECT_NE(std::string::npos, errors.all().find("Permissions Violation for Subscription to \"secret.plans\""))
      << errors.all();

  // An unrestricted publisher sends to both: only the permitted interest
  // exists at the server, and the connection is still fine.
  auto admin_opts = make_options(server.url());
  ASSERT_TRUE(admin_opts);
  natsOptions_SetUserInfo(admin_opts.get(), "admin", "a");
  auto admin = connect_with(admin_opts.get());
  ASSERT_TRUE(admin);
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(admin.get(), "secret.plans", "hidden"));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(admin.get(), "open.plans", "visible"));
  ASSERT_EQ(NATS_OK, flush(admin.get()));
  auto m = next_message(open.get());
  ASSERT_TRUE(m) << "connection unusable after a subscribe violation";
  EXPECT_EQ("visible", payload(m.get()));
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  EXPECT_EQ(0u, queued(secret.get())) << "denied subscription received a message";
  EXPECT_EQ(NATS_CONN_STATUS_CONNECTED, natsConnection_Status(nc.get()));
}

}  // namespace
}  // namespace courier::test
