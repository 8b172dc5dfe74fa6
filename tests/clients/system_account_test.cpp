// The system account's subjects through libnats: only its users see them.
// A user of another account asking $SYS.REQ.SERVER.PING gets no responders
// (as from nats-server 2.9.10), subscribing to $SYS.> receives none of the
// system account's advisories, and only the CONNZ/STATZ that nats-server
// imports into every account are answered there, for that account alone.
#include "security_helpers.hpp"

namespace courier::test {
namespace {

constexpr const char* system_config = R"(
system_account: SYS
accounts {
  SYS: { users: [ { user: sys, password: s } ] }
  APP: { users: [ { user: app, password: a } ] }
}
)";

class system_account_test : public testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.start()); }
  connection_ptr login(const char* user, const char* password, const char* name) {
    auto opts = make_options(server_.url());
    if (!opts) return nullptr;
    natsOptions_SetUserInfo(opts.get(), user, password);
    natsOptions_SetName(opts.get(), name);
    return connect_with(opts.get());
  }
  /// The reply to a request, or the status that ended it.
  static std::pair<natsStatus, std::string> ask(natsConnection* nc, const char* subject, const char* body = "") {
    natsMsg* reply = nullptr;
    const natsStatus status = natsConnection_RequestString(&reply, nc, subject, body, 10000);
    message_ptr owned(reply);
    return {status, status == NATS_OK ? payload(reply) : std::string()};
  }
  server_process server_{system_config};
};

TEST_F(system_account_test, only_system_users_get_server_ping_answers) {
  auto sys = login("sys", "s", "sysmon");
  auto app = login("app", "a", "app1");
  ASSERT_TRUE(sys && app);

  auto [sys_status, statsz] = ask(sys.get(), "$SYS.REQ.SERVER.PING");
  ASSERT_EQ(NATS_OK, sys_status);
  EXPECT_NE(std::string::npos, statsz.find("\"statsz\":{\"start\":")) << statsz;

  // Another account: nothing in its subject space answers these.
  for (const char* subject : {"$SYS.REQ.SERVER.PING", "$SYS.REQ.SERVER.PING.VARZ", "$SYS.REQ.SERVER.PING.SUBSZ",
                              "$SYS.REQ.ACCOUNT.APP.CONNZ"}) {
    EXPECT_EQ(NATS_NO_RESPONDERS, ask(app.get(), subject).first) << subject;
  }
}

TEST_F(system_account_test, imported_connz_is_scoped_to_the_requesting_account) {
  auto sys = login("sys", "s", "sysmon");
  auto app = login("app", "a", "app1");
  ASSERT_TRUE(sys && app);
  for (const char* subject : {"$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.PING.CONNZ"}) {
    auto [status, reply] = ask(app.get(), subject);
    ASSERT_EQ(NATS_OK, status) << subject;
    EXPECT_NE(std::string::npos, reply.find("\"num_connections\":1,")) << reply;
    EXPECT_NE(std::string::npos, reply.find("\"name\":\"app1\"")) << reply;
    EXPECT_EQ(std::string::npos, reply.find("sysmon")) << reply;
  }
}

TEST_F(system_account_test, advisories_reach_system_users_only) {
  auto sys = login("sys", "s", "sysmon");
  auto watcher = login("app", "a", "watcher");
  ASSERT_TRUE(sys && watcher);
  auto advisories = subscribe_sync(sys.get(), "$SYS.ACCOUNT.APP.CONNECT");
  auto intruder = subscribe_sync(watcher.get(), "$SYS.>");
  ASSERT_TRUE(advisories && intruder);
  ASSERT_EQ(NATS_OK, flush(sys.get()));
  ASSERT_EQ(NATS_OK, flush(watcher.get()));

  auto app = login("app", "a", "app1");
  ASSERT_TRUE(app);
  // The watcher's own advisory may come first: it is sent asynchronously,
  // possibly after the subscription above (by nats-server too).
  std::string text;
  while (text.find("\"name\":\"app1\"") == std::string::npos) {
    auto connect = next_message(advisories.get(), std::chrono::seconds(10));
    ASSERT_TRUE(connect);
    text = payload(connect.get());
  }
  EXPECT_NE(std::string::npos, text.find("\"type\":\"io.nats.server.advisory.v1.client_connect\"")) << text;
  EXPECT_NE(std::string::npos, text.find("\"acc\":\"APP\",\"user\":\"app\",\"name\":\"app1\"")) << text;

  // The APP subscriber to $SYS.> saw none of it: one round trip through
  // the system account's own subjects later, still nothing.
  ASSERT_EQ(NATS_OK, ask(sys.get(), "$SYS.REQ.SERVER.PING.HEALTHZ").first);
  ASSERT_EQ(NATS_OK, flush(watcher.get()));
  EXPECT_EQ(0u, queued(intruder.get()));
}

}  // namespace
}  // namespace courier::test
