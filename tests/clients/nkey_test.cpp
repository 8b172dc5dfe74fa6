// nkey authentication: the server puts a nonce in INFO, the client signs it
// with its Ed25519 key and sends the public key and signature in CONNECT.
// libnats does the signing through a callback (natsOptions_SetNKey); the
// keys are generated with OpenSSL at test time. Raw sessions check the two
// signature encodings the server must accept and a replayed signature.
#include "security_helpers.hpp"
#include "raw_client.hpp"

#include <openssl/evp.h>

namespace courier::test {
namespace {

options_ptr nkey_options(const std::string& url, user_nkey& key) {
  auto opts = make_options(url);
  if (opts) {
    EXPECT_EQ(NATS_OK, natsOptions_SetNKey(opts.get(), key.public_key().c_str(), &user_nkey::sign_nonce, &key));
  }
  return opts;
}

/// The value of "nonce" in an INFO line, or empty.
std::string nonce_of(const std::string& info) {
  const std::string field = "\"nonce\":\"";
  auto at = info.find(field);
  if (at == std::string::npos) return {};
  at += field.size();
  auto end = info.find('"', at);
  return end == std::string::npos ? std::string{} : info.substr(at, end - at);
}

/// Standard base64 with padding (the alternative encoding nats-server takes).
std::string base64_standard(const std::vector<unsigned char>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

class nkey_test : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(alice_.public_key().empty());
    ASSERT_FALSE(bob_.public_key().empty());
    ASSERT_FALSE(stranger_.public_key().empty());
    ASSERT_EQ('U', alice_.public_key()[0]);
    ASSERT_EQ(56u, alice_.public_key().size());
  }
  std::string config() const {
    return "authorization { users = [\n"
           "  { nkey: \"" + alice_.public_key() + "\" }\n"
           "  { nkey: \"" + bob_.public_key() + "\", permissions: { publish: \"bob.>\", subscribe: \"bob.>\" } }\n"
           "  { user: plain, password: pw }\n"
           "] }";
  }
  user_nkey alice_;
  user_nkey bob_;
  user_nkey stranger_;
};

TEST_F(nkey_test, libnats_signs_the_nonce_and_messages_flow) {
  server_process server(config());
  ASSERT_TRUE(server.start());

  auto alice_opts = nkey_options(server.url(), alice_);
  auto alice = connect_signed(alice_opts.get(), alice_);
  ASSERT_TRUE(alice) << server.log_text();
  EXPECT_GE(alice_.signatures(), 1) << "libnats never asked for a signature";
  auto plain_opts = make_options(server.url());
  natsOptions_SetUserInfo(plain_opts.get(), "plain", "pw");
  auto plain = connect_with(plain_opts.get());
  ASSERT_TRUE(plain);
  EXPECT_TRUE(delivers(alice.get(), plain.get(), "nkey.to_plain", "signed in"));
  EXPECT_TRUE(delivers(plain.get(), alice.get(), "nkey.to_alice", "hello alice"));
}

TEST_F(nkey_test, nkey_user_permissions_apply) {
  server_process server(config());
  ASSERT_TRUE(server.start());
  async_errors errors;
  auto bob_opts = nkey_options(server.url(), bob_);
  errors.attach(bob_opts.get());
  auto bob = connect_signed(bob_opts.get(), bob_);
  auto alice_opts = nkey_options(server.url(), alice_);
  auto alice = connect_signed(alice_opts.get(), alice_);
  ASSERT_TRUE(bob && alice);
  EXPECT_TRUE(delivers(bob.get(), alice.get(), "bob.out", "allowed"));

  auto watch = subscribe_sync(alice.get(), "elsewhere");
  ASSERT_EQ(NATS_OK, flush(alice.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(bob.get(), "elsewhere", "denied"));
  ASSERT_EQ(NATS_OK, flush(bob.get()));
  EXPECT_TRUE(errors.wait_for("Permissions Violation for Publish to \"elsewhere\"")) << errors.all();
  ASSERT_EQ(NATS_OK, flush(alice.get()));
  EXPECT_EQ(0u, queued(watch.get()));
}

TEST_F(nkey_test, unknown_key_and_wrong_signer_are_refused) {
  server_process server(config());
  ASSERT_TRUE(server.start());
  auto ok_opts = nkey_options(server.url(), alice_);
  auto ok = connect_signed(ok_opts.get(), alice_);
  ASSERT_TRUE(ok);

  // A key the server does not know.
  auto stranger_opts = nkey_options(server.url(), stranger_);
  natsStatus status = NATS_OK;
  auto refused = try_connect(stranger_opts.get(), status);
  EXPECT_FALSE(refused);
  EXPECT_EQ(NATS_CONNECTION_AUTH_FAILED, status) << natsStatus_GetText(status);

  // alice's public key, but the stranger signs the nonce.
  auto forged = make_options(server.url());
  natsOptions_SetNKey(forged.get(), alice_.public_key().c_str(), &user_nkey::sign_nonce, &stranger_);
  refused = try_connect(forged.get(), status);
  EXPECT_FALSE(refused) << "signature by another key was accepted";
  EXPECT_EQ(NATS_CONNECTION_AUTH_FAILED, status) << natsStatus_GetText(status);

  EXPECT_TRUE(round_trip(ok.get(), "nkey.still"));
}

TEST_F(nkey_test, raw_connect_accepts_base64url_and_standard_base64_signatures) {
  server_process server(config());
  ASSERT_TRUE(server.start());
  for (bool standard : {false, true}) {
    raw_client raw(server.port());
    ASSERT_TRUE(raw.read_info());
    const std::string nonce = nonce_of(raw.buffer());
    ASSERT_FALSE(nonce.empty()) << raw.buffer();
    const auto sig = alice_.sign(nonce);
    ASSERT_EQ(64u, sig.size());
    const std::string encoded = standard ? base64_standard(sig) : nkeys::base64url_encode(sig);
    raw.clear();
    raw.send("CONNECT {\"verbose\":false,\"nkey\":\"" + alice_.public_key() + "\",\"sig\":\"" + encoded +
             "\"}\r\nSUB raw.nkey 1\r\nPUB raw.nkey 2\r\nok\r\nPING\r\n");
    EXPECT_TRUE(raw.read_until("PONG\r\n")) << (standard ? "standard: " : "url: ") << raw.buffer();
    EXPECT_NE(std::string::npos, raw.buffer().find("MSG raw.nkey 1 2\r\nok\r\n")) << raw.buffer();
    EXPECT_EQ(std::string::npos, raw.buffer().find("-ERR")) << raw.buffer();
  }
}

TEST_F(nkey_test, signature_over_another_connections_nonce_is_refused) {
  server_process server(config());
  ASSERT_TRUE(server.start());
  raw_client first(server.port());
  raw_client second(server.port());
  ASSERT_TRUE(first.read_info() && second.read_info());
  const std::string first_nonce = nonce_of(first.buffer());
  const std::string second_nonce = nonce_of(second.buffer());
  ASSERT_FALSE(first_nonce.empty());
  ASSERT_NE(first_nonce, second_nonce) << "nonces must differ per connection";

  // Replay first's signature on second.
  const std::string sig = nkeys::base64url_encode(alice_.sign(first_nonce));
  second.clear();
  second.send("CONNECT {\"verbose\":false,\"nkey\":\"" + alice_.public_key() + "\",\"sig\":\"" + sig +
              "\"}\r\nPING\r\n");
  EXPECT_TRUE(second.read_until("-ERR 'Authorization Violation'\r\n")) << second.buffer();
  EXPECT_TRUE(second.wait_closed());
  EXPECT_EQ(std::string::npos, second.buffer().find("PONG")) << second.buffer();

  // first signs its own nonce and is in.
  first.clear();
  first.send("CONNECT {\"verbose\":false,\"nkey\":\"" + alice_.public_key() + "\",\"sig\":\"" + sig +
             "\"}\r\nPING\r\n");
  EXPECT_TRUE(first.read_until("PONG\r\n")) << first.buffer();
}

}  // namespace
}  // namespace courier::test
