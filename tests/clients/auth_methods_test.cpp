// Each authentication method a nats-server 2.9.10 config can name, met by
// libnats: plain and bcrypt passwords ($2a$/$2b$/$2y$ hashes made at test
// time with libxcrypt), plain and bcrypt tokens, a users list, no_auth_user
// and the authorization timeout. Every accepted client must carry a message
// end to end; every refused one must fail to connect.
#include "security_helpers.hpp"
#include "raw_client.hpp"

#include <crypt.h>

namespace courier::test {
namespace {

/// A bcrypt hash of secret with the given prefix ("$2b$") and cost, made by
/// libxcrypt; empty (with a test failure) if it refuses.
std::string bcrypt(const std::string& secret, const char* prefix = "$2b$", unsigned long cost = 5) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn(prefix, cost, nullptr, 0, setting, sizeof setting) == nullptr) {
    ADD_FAILURE() << "crypt_gensalt_rn " << prefix;
    return {};
  }
  crypt_data data{};
  const char* hash = crypt_rn(secret.c_str(), setting, &data, sizeof data);
  if (hash == nullptr || hash[0] == '*') {
    ADD_FAILURE() << "crypt_rn " << prefix;
    return {};
  }
  return hash;
}

options_ptr user_options(const std::string& url, const char* user, const char* password) {
  auto opts = make_options(url);
  if (opts && user != nullptr) natsOptions_SetUserInfo(opts.get(), user, password);
  return opts;
}

options_ptr token_options(const std::string& url, const char* token) {
  auto opts = make_options(url);
  if (opts) natsOptions_SetToken(opts.get(), token);
  return opts;
}

/// The connection attempt is refused with an authorization failure.
testing::AssertionResult refused(natsOptions* opts) {
  natsStatus status = NATS_OK;
  auto nc = try_connect(opts, status);
  if (nc) return testing::AssertionFailure() << "connection was accepted";
  if (status != NATS_CONNECTION_AUTH_FAILED) {
    return testing::AssertionFailure() << "refused with " << natsStatus_GetText(status)
                                       << ", expected an authorization failure";
  }
  return testing::AssertionSuccess();
}

TEST(auth_methods_test, plain_password_delivers_and_wrong_ones_are_refused) {
  server_process server("authorization { user: alice, password: \"pl4in pass\" }");
  ASSERT_TRUE(server.start());
  auto opts = user_options(server.url(), "alice", "pl4in pass");
  auto a = connect_with(opts.get());
  auto b = connect_with(opts.get());
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(delivers(a.get(), b.get(), "plain.pw", "with password"));

  EXPECT_TRUE(refused(user_options(server.url(), "alice", "pl4in").get()));
  EXPECT_TRUE(refused(user_options(server.url(), "alice", "pl4in pass ").get()));
  EXPECT_TRUE(refused(user_options(server.url(), "Alice", "pl4in pass").get()));
  EXPECT_TRUE(refused(make_options(server.url()).get()));
  EXPECT_TRUE(refused(token_options(server.url(), "pl4in pass").get()));
}

TEST(auth_methods_test, bcrypt_password_single_user) {
  const std::string hash = bcrypt("correct horse");
  ASSERT_FALSE(hash.empty());
  server_process server("authorization { user: alice, password: \"" + hash + "\" }");
  ASSERT_TRUE(server.start());
  auto opts = user_options(server.url(), "alice", "correct horse");
  auto a = connect_with(opts.get());
  auto b = connect_with(opts.get());
  ASSERT_TRUE(a && b) << server.log_text();
  EXPECT_TRUE(delivers(a.get(), b.get(), "bcrypt.single", "hashed"));

  EXPECT_TRUE(refused(user_options(server.url(), "alice", "correct horse battery").get()));
  // The hash itself is not a password.
  EXPECT_TRUE(refused(user_options(server.url(), "alice", hash.c_str()).get()));
}

TEST(auth_methods_test, bcrypt_prefixes_2a_2b_2y_in_a_users_list) {
  const std::string a_hash = bcrypt("pw-a", "$2a$");
  const std::string b_hash = bcrypt("pw-b", "$2b$");
  const std::string y_hash = bcrypt("pw-y", "$2y$");
  ASSERT_FALSE(a_hash.empty() || b_hash.empty() || y_hash.empty());
  ASSERT_EQ(0u, y_hash.rfind("$2y$", 0)) << y_hash;
  server_process server("authorization { users = [\n"
                        "  { user: ua, password: \"" + a_hash + "\" }\n"
                        "  { user: ub, password: \"" + b_hash + "\" }\n"
                        "  { user: uy, password: \"" + y_hash + "\" }\n"
                        "  { user: plain, password: \"pw-plain\" }\n"
                        "] }");
  ASSERT_TRUE(server.start());
  auto plain_opts = user_options(server.url(), "plain", "pw-plain");
  auto plain = connect_with(plain_opts.get());
  ASSERT_TRUE(plain);
  for (auto [user, password] : {std::pair{"ua", "pw-a"}, std::pair{"ub", "pw-b"}, std::pair{"uy", "pw-y"}}) {
    auto opts = user_options(server.url(), user, password);
    auto nc = connect_with(opts.get());
    ASSERT_TRUE(nc) << user;
    EXPECT_TRUE(delivers(nc.get(), plain.get(), std::string("bcrypt.") + user, user)) << user;
    // Another user's password, and a neighbour's hash, are refused.
    EXPECT_TRUE(refused(user_options(server.url(), user, "pw-plain").get())) << user;
  }
  EXPECT_TRUE(refused(user_options(server.url(), "ua", "pw-b").get()));
}

TEST(auth_methods_test, plain_token) {
  server_process server("authorization { token: \"t0k-3n_value\" }");
  ASSERT_TRUE(server.start());
  auto opts = token_options(server.url(), "t0k-3n_value");
  auto a = connect_with(opts.get());
  auto b = connect_with(opts.get());
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(delivers(a.get(), b.get(), "token.plain", "tok"));
  EXPECT_TRUE(refused(token_options(server.url(), "t0k-3n_valu").get()));
  EXPECT_TRUE(refused(token_options(server.url(), "t0k-3n_value2").get()));
  EXPECT_TRUE(refused(make_options(server.url()).get()));
  // A token is not a password (and vice versa).
  EXPECT_TRUE(refused(user_options(server.url(), "t0k-3n_value", "t0k-3n_value").get()));
}

TEST(auth_methods_test, bcrypt_token) {
  const std::string hash = bcrypt("hashed-token");
  ASSERT_FALSE(hash.empty());
  server_process server("authorization { token: \"" + hash + "\" }");
  ASSERT_TRUE(server.start());
  auto opts = token_options(server.url(), "hashed-token");
  auto a = connect_with(opts.get());
  auto b = connect_with(opts.get());
  ASSERT_TRUE(a && b) << server.log_text();
  EXPECT_TRUE(delivers(a.get(), b.get(), "token.bcrypt", "hashed tok"));
  EXPECT_TRUE(refused(token_options(server.url(), "hashed-tokeN").get()));
  EXPECT_TRUE(refused(token_options(server.url(), hash.c_str()).get()));
}

TEST(auth_methods_test, no_auth_user_gets_that_users_permissions) {
  server_process server(R"(
authorization {
  users = [
    { user: admin, password: adm }
    { user: guest, password: unused, permissions: { publish: "public.>", subscribe: "public.>" } }
  ]
}
no_auth_user: guest
)");
  ASSERT_TRUE(server.start());
  async_errors errors;
  auto anonymous_opts = make_options(server.url());
  errors.attach(anonymous_opts.get());
  auto anonymous = connect_with(anonymous_opts.get());
  auto admin_opts = user_options(server.url(), "admin", "adm");
  auto admin = connect_with(admin_opts.get());
  ASSERT_TRUE(anonymous && admin);
  EXPECT_TRUE(delivers(anonymous.get(), admin.get(), "public.hello", "anon"));
  EXPECT_TRUE(delivers(admin.get(), anonymous.get(), "public.news", "to anon"));

  // As guest, the anonymous client may not publish elsewhere.
  auto watch = subscribe_sync(admin.get(), "private.>");
  ASSERT_EQ(NATS_OK, flush(admin.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(anonymous.get(), "private.x", "nope"));
  ASSERT_EQ(NATS_OK, flush(anonymous.get()));
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Publish to \"private.x\"")) << errors.all();
  ASSERT_EQ(NATS_OK, flush(admin.get()));
  EXPECT_EQ(0u, queued(watch.get()));

  // Wrong credentials are not turned into the guest.
  EXPECT_TRUE(refused(user_options(server.url(), "admin", "wrong").get()));
}

TEST(auth_methods_test, authorization_timeout_closes_a_silent_client) {
  server_process server("authorization { user: a, password: b, timeout: 0.5 }");
  ASSERT_TRUE(server.start());
  auto opts = user_options(server.url(), "a", "b");
  auto nc = connect_with(opts.get());
  ASSERT_TRUE(nc);

  raw_client silent(server.port());
  ASSERT_TRUE(silent.read_info());
  const auto started = steady::now();
  // The -ERR text says which timer closed it; the bounds only rule out a
  // hang, with room for a loaded machine.
  EXPECT_TRUE(silent.read_until("-ERR 'Authentication Timeout'\r\n", 10s)) << silent.buffer();
  EXPECT_TRUE(silent.wait_closed(10s));
  EXPECT_LT(steady::now() - started, 10s);
  // The authenticated client is untouched, even past the timeout.
  EXPECT_TRUE(round_trip(nc.get(), "timeout.still_fine"));
}

TEST(auth_methods_test, command_line_user_pass_and_auth_flags) {
  {
    listening_process server("", {"--user", "cli", "--pass", "cli-pw"});
    ASSERT_TRUE(server.start());
    auto opts = user_options(server.url(), "cli", "cli-pw");
    auto a = connect_with(opts.get());
    auto b = connect_with(opts.get());
    ASSERT_TRUE(a && b) << server.log_text();
    EXPECT_TRUE(delivers(a.get(), b.get(), "flags.user", "--user"));
    EXPECT_TRUE(refused(user_options(server.url(), "cli", "nope").get()));
    EXPECT_TRUE(refused(make_options(server.url()).get()));
  }
  {
    listening_process server("", {"--auth", "cli-token"});
    ASSERT_TRUE(server.start());
    auto opts = token_options(server.url(), "cli-token");
    auto a = connect_with(opts.get());
    auto b = connect_with(opts.get());
    ASSERT_TRUE(a && b) << server.log_text();
    EXPECT_TRUE(delivers(a.get(), b.get(), "flags.auth", "--auth"));
    EXPECT_TRUE(refused(token_options(server.url(), "cli-tokeN").get()));
  }
}

}  // namespace
}  // namespace courier::test
