#include "auth/users.hpp"

#include <crypt.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include "auth/config_error.hpp"
#include "auth/nkeys.hpp"
#include "auth/password.hpp"
#include "conf/options.hpp"
#include "tests/json_support.hpp"

using namespace std::chrono_literals;
namespace auth = courier::auth;
namespace nk = courier::auth::nkeys;

namespace {

using courier::test::parse_json;

std::shared_ptr<const auth::auth_config> build(const std::string& authorization, const std::string& accounts = "null",
                                               std::string_view no_auth_user = {}, const auth::auth_flags& flags = {},
                                               bool tls_map = false) {
  return auth::auth_config::build(parse_json(authorization), parse_json(accounts), no_auth_user, flags, tls_map);
}

std::string build_error(const std::string& authorization, const std::string& accounts = "null",
                        std::string_view no_auth_user = {}) {
  try {
    build(authorization, accounts, no_auth_user);
  } catch (const auth::config_error& e) {
    return e.what();
  }
  return "";
}

std::string bcrypt_of(const std::string& password) {
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (!crypt_gensalt_rn("$2b$", 4, nullptr, 0, setting, sizeof setting)) return {};
  crypt_data data{};
  const char* h = crypt_rn(password.c_str(), setting, &data, sizeof data);
  return h ? h : "";
}

struct user_key {
  nk::key_bytes seed{};
  std::string public_key;
};

user_key make_user_key() {
  user_key k;
  EVP_PKEY* key = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  std::size_t len = k.seed.size();
  EVP_PKEY_get_raw_private_key(key, k.seed.data(), &len);
  nk::key_bytes pub{};
  len = pub.size();
  EVP_PKEY_get_raw_public_key(key, pub.data(), &len);
  EVP_PKEY_free(key);
  k.public_key = nk::encode_public_key(nk::prefix::user, pub);
  return k;
}

auth::auth_result login(const auth::auth_config& c, std::string_view user, std::string_view pass,
                        std::string_view token = {}) {
  auth::client_credentials cred;
  cred.user = user;
  cred.pass = pass;
  cred.auth_token = token;
  return auth::authenticate(c, cred);
}

}  // namespace

TEST(auth_config, no_authorization_means_open) {
  auto c = build("null");
  EXPECT_FALSE(c->auth_required());
  EXPECT_FALSE(c->nonce_required());
  EXPECT_EQ(c->timeout(), 2s);
  auto r = login(*c, "", "");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.account, "$G");
  EXPECT_EQ(r.perms, nullptr);
  EXPECT_EQ(r.label, "User \"N/A\"");
  // Credentials sent to an open server are ignored, as nats-server does.
  EXPECT_TRUE(login(*c, "who", "ever").ok);
}

TEST(auth_config, single_user_plain_and_bcrypt) {
  auto c = build(R"({"user": "alice", "password": "s3cret"})");
  EXPECT_TRUE(c->auth_required());
  EXPECT_TRUE(c->warn_plaintext_passwords());
  EXPECT_TRUE(login(*c, "alice", "s3cret").ok);
  EXPECT_FALSE(login(*c, "alice", "wrong").ok);
  EXPECT_FALSE(login(*c, "bob", "s3cret").ok);
  EXPECT_FALSE(login(*c, "", "").ok);
  auto failed = login(*c, "alice", "wrong");
  EXPECT_EQ(failed.reason.find("s3cret"), std::string::npos);  // no secrets in the reason
  EXPECT_EQ(failed.reason.find("wrong"), std::string::npos);

  auto hash = bcrypt_of("s3cret");
  auto b = build(R"({"user": "alice", "password": ")" + hash + R"("})");
  EXPECT_FALSE(b->warn_plaintext_passwords());
  EXPECT_TRUE(login(*b, "alice", "s3cret").ok);
  EXPECT_FALSE(login(*b, "alice", hash).ok);
  EXPECT_FALSE(login(*b, "alice", std::string(1 << 20, 'p')).ok);  // 1 MiB password
}

TEST(auth_config, token_plain_and_bcrypt) {
  auto c = build(R"({"token": "t0k3n", "timeout": 5})");
  EXPECT_TRUE(c->auth_required());
  EXPECT_FALSE(c->warn_plaintext_passwords());  // nats-server only warns about passwords
  EXPECT_EQ(c->timeout(), 5s);
  EXPECT_TRUE(login(*c, "", "", "t0k3n").ok);
  EXPECT_FALSE(login(*c, "", "", "t0k3").ok);
  EXPECT_FALSE(login(*c, "", "t0k3n").ok);  // a password is not a token
  auto b = build(R"({"token": ")" + bcrypt_of("t0k3n") + R"("})");
  EXPECT_TRUE(login(*b, "", "", "t0k3n").ok);
  EXPECT_FALSE(login(*b, "", "", "nope").ok);
}

TEST(auth_config, users_with_permissions_and_defaults) {
  auto c = build(R"({
    "users": [
      {"user": "admin", "password": "a"},
      {"user": "reader", "password": "r", "permissions": {"publish": [], "subscribe": "data.>"}}
    ],
    "default_permissions": {"publish": "pub.>"},
    "timeout": 0.5
  })");
  EXPECT_EQ(c->timeout(), 500ms);
  auto admin = login(*c, "admin", "a");
  ASSERT_TRUE(admin.ok);
  EXPECT_EQ(admin.user, "admin");
  EXPECT_EQ(admin.account, "$G");
  EXPECT_EQ(admin.label, "User \"admin\"");
  ASSERT_NE(admin.perms, nullptr);  // the default applies
  EXPECT_TRUE(admin.perms->can_publish("pub.x"));
  EXPECT_FALSE(admin.perms->can_publish("other"));
  auto reader = login(*c, "reader", "r");
  ASSERT_TRUE(reader.ok);
  ASSERT_NE(reader.perms, nullptr);
  EXPECT_FALSE(reader.perms->can_publish("pub.x"));
  EXPECT_TRUE(reader.perms->can_subscribe("data.x"));
  EXPECT_FALSE(login(*c, "reader", "a").ok);
  EXPECT_FALSE(login(*c, "nobody", "").ok);
  EXPECT_FALSE(login(*c, "", "").ok);
}

TEST(auth_config, nkey_users_sign_the_nonce) {
  auto key = make_user_key();
  auto other = make_user_key();
  auto c = build(R"({"users": [{"nkey": ")" + key.public_key +
                 R"(", "permissions": {"subscribe": "x"}}, {"user": "u", "password": "p"}]})");
  EXPECT_TRUE(c->nonce_required());
  EXPECT_TRUE(c->auth_required());
  std::string nonce = nk::generate_nonce();

  auth::client_credentials cred;
  cred.nkey = key.public_key;
  cred.nonce = nonce;
  std::string sig = nk::base64url_encode(nk::sign(key.seed, nonce));
  cred.sig = sig;
  auto r = auth::authenticate(*c, cred);
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.user, key.public_key);
  EXPECT_EQ(r.label, "Nkey \"" + key.public_key + "\"");
  ASSERT_NE(r.perms, nullptr);
  EXPECT_FALSE(r.perms->can_subscribe("y"));

  // Signed by another key, over another nonce, missing, garbage.
  std::string wrong = nk::base64url_encode(nk::sign(other.seed, nonce));
  cred.sig = wrong;
  EXPECT_FALSE(auth::authenticate(*c, cred).ok);
  std::string stale = nk::base64url_encode(nk::sign(key.seed, "another-nonce"));
  cred.sig = stale;
  EXPECT_FALSE(auth::authenticate(*c, cred).ok);
  cred.sig = "";
  EXPECT_EQ(auth::authenticate(*c, cred).reason, "signature missing");
  cred.sig = "%%%";
  EXPECT_FALSE(auth::authenticate(*c, cred).ok);
  // An nkey that is not configured.
  cred.nkey = other.public_key;
  cred.sig = wrong;
  EXPECT_FALSE(auth::authenticate(*c, cred).ok);
  // Without an nkey the users list applies.
  EXPECT_TRUE(login(*c, "u", "p").ok);
}

TEST(auth_config, no_auth_user) {
  auto c = build(R"({"users": [{"user": "guest", "password": "g", "permissions": {"publish": "public.>"}},
                               {"user": "bob", "password": "b"}]})",
                 "null", "guest");
  auto r = login(*c, "", "");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.user, "guest");
  ASSERT_NE(r.perms, nullptr);
  EXPECT_FALSE(r.perms->can_publish("x"));
  EXPECT_TRUE(login(*c, "bob", "b").ok);
  EXPECT_FALSE(login(*c, "bob", "").ok);  // naming a user means its password is needed
  EXPECT_FALSE(login(*c, "", "", "token").ok);

  // nats-server 2.9.10 refuses a no_auth_user whose password is bcrypt.
  auto b = build(R"({"users": [{"user": "guest", "password": ")" + bcrypt_of("g") + R"("}]})", "null", "guest");
  EXPECT_FALSE(login(*b, "", "").ok);
  EXPECT_TRUE(login(*b, "guest", "g").ok);

  EXPECT_EQ(build_error(R"({"user": "a", "password": "b"})", "null", "guest"),
            R"(no_auth_user: "guest" present, but users are not defined)");
  EXPECT_EQ(build_error(R"({"users": [{"user": "a"}]})", "null", "guest"),
            R"(no_auth_user: "guest" not present as user in authorization block or account configuration)");
}

TEST(auth_config, accounts_hold_users) {
  auto key = make_user_key();
  auto c = build("null", R"({
    "A": {"users": [{"user": "a1", "password": "p"}, {"nkey": ")" + key.public_key + R"("}]},
    "B": {"users": [{"user": "b1", "password": "p"}], "default_permissions": {"subscribe": "b.>"}},
    "C": {}
  })");
  EXPECT_TRUE(c->auth_required());
  EXPECT_EQ(c->accounts().size(), 4u);  // $G, A, B, C
  auto a1 = login(*c, "a1", "p");
  ASSERT_TRUE(a1.ok);
  EXPECT_EQ(a1.account, "A");
  EXPECT_EQ(a1.perms, nullptr);
  auto b1 = login(*c, "b1", "p");
  ASSERT_TRUE(b1.ok);
  EXPECT_EQ(b1.account, "B");
  ASSERT_NE(b1.perms, nullptr);
  EXPECT_FALSE(b1.perms->can_subscribe("a.x"));
  EXPECT_EQ(c->nkey_users().at(key.public_key).account, "A");

  // Users in both places, the array form, reserved names, exports.
  auto mixed = build(R"({"users": [{"user": "g", "password": "p"}]})", R"({"A": {"users": [{"user": "a", "password": "p"}]}})");
  EXPECT_EQ(login(*mixed, "g", "p").account, "$G");
  EXPECT_EQ(login(*mixed, "a", "p").account, "A");
  EXPECT_EQ(build("null", R"(["X", "Y"])")->accounts().size(), 3u);
  EXPECT_EQ(build_error("null", R"({"$G": {}})"), R"("$G" is a Reserved Account)");
  EXPECT_EQ(build_error("null", R"(["X", "X"])"), "Duplicate Account Entry: X");
  EXPECT_NE(build_error("null", R"({"A": {"exports": [{"stream": "x"}]}})").find("not supported"), std::string::npos);
  EXPECT_EQ(build_error("null", R"({"A": 5})"), "Expected map entries for accounts");
  EXPECT_EQ(build_error("null", R"({"A": {"users": [{"user": "x", "password": "p"}]}, "B": {"users": [{"user": "x", "password": "q"}]}})"),
            R"(Duplicate user "x" detected)");
  EXPECT_EQ(build_error(R"({"token": "t"})", R"({"A": {"users": [{"user": "x"}]}})"), "Can not have a token and accounts");
  EXPECT_EQ(build_error(R"({"user": "u", "password": "p"})", R"({"A": {"users": [{"user": "x"}]}})"),
            "Can not have a single user/pass and accounts");
  EXPECT_FALSE(build("null", R"({"A": {"jetstream": "enabled"}})")->warnings().empty());
}

TEST(auth_config, config_errors_are_clear) {
  auto key = make_user_key();
  EXPECT_EQ(build_error(R"({"user": "u", "password": "p", "token": "t"})"), "Cannot have a user/pass and token");
  EXPECT_EQ(build_error(R"({"user": "u", "users": []})"), "Can not have a single user/pass and a users array");
  EXPECT_EQ(build_error(R"({"token": "t", "users": []})"), "Can not have a token and a users array");
  EXPECT_EQ(build_error(R"({"users": [{"password": "p"}]})"), "User entry requires a user");
  EXPECT_EQ(build_error(R"({"users": [{"nkey": ")" + key.public_key + R"(", "user": "x"}]})"),
            "Nkey users do not take usernames or passwords");
  EXPECT_EQ(build_error(R"({"users": [{"user": "x"}, {"user": "x"}]})"), R"(Duplicate user "x" detected)");
  EXPECT_EQ(build_error(R"({"users": [{"nkey": ")" + key.public_key + R"("}, {"nkey": ")" + key.public_key + R"("}]})"),
            "Duplicate nkey \"" + key.public_key + "\" detected");
  EXPECT_NE(build_error(R"({"users": 5})").find("Expected users field to be an array"), std::string::npos);
  EXPECT_NE(build_error(R"({"users": ["x"]})").find("Expected user entry to be a map/struct"), std::string::npos);
  EXPECT_EQ(build_error(R"({"usr": "x"})"), R"(unknown field "usr")");
  EXPECT_NE(build_error(R"({"users": [{"user": "x", "permissions": {"publish": "a..b"}}]})").find("not a valid subject"),
            std::string::npos);

  // Malformed nkeys: bad checksum, an account key, a seed, garbage.
  std::string bad_crc = key.public_key;
  bad_crc[10] = bad_crc[10] == 'A' ? 'B' : 'A';
  for (const std::string& bad : {bad_crc, std::string("A") + key.public_key.substr(1), std::string("UABC"),
                                 std::string("not-a-key")}) {
    auto err = build_error(R"({"users": [{"nkey": ")" + bad + R"("}]})");
    EXPECT_EQ(err.rfind("Not a valid public nkey for a user", 0), 0u) << err;
  }
  EXPECT_NE(build_error(R"({"users": [{"nkey": ")" + bad_crc + R"("}]})").find("checksum"), std::string::npos);
}

TEST(auth_config, flags_override_the_file) {
  auto c = build(R"({"user": "file", "password": "f"})", "null", {}, {"flag", "x", ""});
  EXPECT_TRUE(login(*c, "flag", "x").ok);
  EXPECT_FALSE(login(*c, "file", "f").ok);
  auto t = build("null", "null", {}, {"", "", "tok"});
  EXPECT_TRUE(t->auth_required());
  EXPECT_TRUE(login(*t, "", "", "tok").ok);
  EXPECT_FALSE(login(*t, "", "", "tik").ok);
}

TEST(auth_config, timeout_defaults_follow_tls) {
  auto c = auth::auth_config::build(parse_json("null"), parse_json("null"), {}, {}, false, std::chrono::milliseconds(2000));
  EXPECT_EQ(c->timeout(), 3s);
  auto d = auth::auth_config::build(parse_json(R"({"timeout": 1})"), parse_json("null"), {}, {}, false, 2000ms);
  EXPECT_EQ(d->timeout(), 1s);
}

TEST(auth_config, allowed_connection_types) {
  auto c = build(R"({"users": [{"user": "ws", "password": "p", "allowed_connection_types": ["WEBSOCKET"]},
                               {"user": "std", "password": "p", "allowed_connection_types": ["STANDARD", "MQTT"]}]})");
  EXPECT_FALSE(login(*c, "ws", "p").ok);
  EXPECT_TRUE(login(*c, "std", "p").ok);
  EXPECT_NE(build_error(R"({"users": [{"user": "x", "allowed_connection_types": ["CARRIER_PIGEON"]}]})"), "");
}

TEST(auth_config, load_reads_the_options) {
  courier::conf::server_options options;
  options.authorization = parse_json(R"({"users": [{"user": "a", "password": "p"}]})");
  options.document = parse_json(R"({"No_Auth_User": "a"})");
  auto c = auth::auth_config::load(options);
  EXPECT_EQ(c->no_auth_user(), "a");
  EXPECT_TRUE(login(*c, "", "").ok);
}

TEST(auth_config, tls_map_users_from_certificate) {
  auto c = build(R"({"users": [{"user": "alice@example.com"}, {"user": "svc.example.com"},
                               {"user": "CN=bob,O=Acme,C=US"}, {"user": "carol", "password": "p"}]})",
                 "null", {}, {}, true);
  EXPECT_TRUE(c->warn_plaintext_passwords());  // carol's plain password
  // Certificate-only users have no password to warn about (with tls_map).
  EXPECT_FALSE(build(R"({"users": [{"user": "CN=x"}]})", "null", {}, {}, true)->warn_plaintext_passwords());
  EXPECT_TRUE(build(R"({"users": [{"user": "CN=x"}]})", "null", {}, {}, false)->warn_plaintext_passwords());
  auth::peer_certificate cert;
  cert.emails = {"nobody@example.com", "alice@example.com"};
  cert.dns_names = {"svc.example.com"};
  cert.subject = "CN=alice";
  auth::client_credentials cred;
  cred.certificate = &cert;
  auto r = auth::authenticate(*c, cred);
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.user, "alice@example.com");  // email first

  cert.emails.clear();
  r = auth::authenticate(*c, cred);
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.user, "svc.example.com");  // then DNS

  cert.dns_names.clear();
  cert.subject = "CN=bob,O=Acme,C=US";
  EXPECT_EQ(auth::authenticate(*c, cred).user, "CN=bob,O=Acme,C=US");  // then the subject
  // The same DN in another order, from the attributes.
  cert.subject = "C=US,O=Acme,CN=bob";
  cert.subject_attributes = {{"C", "US"}, {"O", "Acme"}, {"CN", "bob"}};
  EXPECT_EQ(auth::authenticate(*c, cred).user, "CN=bob,O=Acme,C=US");

  cert.subject = "CN=mallory";
  cert.subject_attributes = {{"CN", "mallory"}};
  EXPECT_FALSE(auth::authenticate(*c, cred).ok);
  cred.certificate = nullptr;
  EXPECT_FALSE(auth::authenticate(*c, cred).ok);
  // A mapped user with a password still needs it.
  auth::peer_certificate carol;
  carol.subject = "carol";
  cred.certificate = &carol;
  cred.pass = "p";
  EXPECT_TRUE(auth::authenticate(*c, cred).ok);
  cred.pass = "x";
  EXPECT_FALSE(auth::authenticate(*c, cred).ok);
}

TEST(auth_config, reload_reauthenticates_live_connections) {
  auto before = build(R"({"users": [{"user": "a", "password": "p", "permissions": {"subscribe": ">"}},
                                    {"user": "b", "password": "p"}, {"user": "c", "password": "p"}]})");
  auto credentials = [](std::string_view user) {
    auth::client_credentials cred;
    cred.user = user;
    cred.pass = "p";
    return cred;
  };
  auto a = credentials("a"), b = credentials("b"), c = credentials("c");
  auto ra = auth::authenticate(*before, a);
  auto rb = auth::authenticate(*before, b);
  auto rc = auth::authenticate(*before, c);
  ASSERT_TRUE(ra.ok && rb.ok && rc.ok);

  // a's permissions shrink, b's password changes, c moves to account X.
  auto after = build(R"({"users": [{"user": "a", "password": "p", "permissions": {"subscribe": "only.>"}},
                                   {"user": "b", "password": "new"}]})",
                     R"({"X": {"users": [{"user": "c", "password": "p"}]}})");
  auto oa = auth::reauthenticate(*after, a, ra);
  EXPECT_EQ(oa.what, auth::reload_outcome::action::keep);
  ASSERT_NE(oa.result.perms, nullptr);
  EXPECT_TRUE(auth::keeps_subscription_on_reload(oa.result.perms.get(), "only.x", ""));
  EXPECT_FALSE(auth::keeps_subscription_on_reload(oa.result.perms.get(), "other", "q"));
  EXPECT_EQ(auth::reauthenticate(*after, b, rb).what, auth::reload_outcome::action::authorization_violation);
  EXPECT_EQ(auth::reauthenticate(*after, c, rc).what, auth::reload_outcome::action::close);
  EXPECT_EQ(auth::reload_subscription_violation("other", "7"),
            R"(Permissions Violation for Subscription to "other" (sid "7"))");
  EXPECT_EQ(auth::reload_subscription_removed_log("other", "7", "User \"a\""),
            R"(Removed sub "other" (sid "7") for User "a" - not authorized)");
  // Queue subscriptions survive when the queue is allowed even if plain is not.
  auto queue_only = std::make_shared<const auth::permissions>(
      auth::parse_permissions(parse_json(R"({"subscribe": ["jobs workers"]})")));
  EXPECT_TRUE(auth::keeps_subscription_on_reload(queue_only.get(), "jobs", "workers"));
  EXPECT_FALSE(auth::keeps_subscription_on_reload(queue_only.get(), "jobs", ""));
}
