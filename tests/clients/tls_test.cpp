// TLS as libnats (and a hand-driven OpenSSL client) meets it: server-only
// TLS, mutual TLS with verification, users mapped from client certificates,
// plain and TLS clients on one port (allow_non_tls), and TLS before INFO
// (handshake_first, a nats-server 2.10 feature: Courier only).
//
// Certificates come from a CA generated with the openssl CLI for each test.
#include "security_helpers.hpp"
#include "raw_client.hpp"

namespace courier::test {
namespace {

class tls_test : public testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(pki_.ok()) << pki_.log_text();
  }
  test_pki pki_;
};

/// The INFO line a plain TCP client gets first.
std::string plain_info(int port) {
  raw_client raw(port);
  if (!raw.connected() || !raw.read_info()) return {};
  return raw.buffer();
}

TEST_F(tls_test, server_only_tls_delivers_between_libnats_clients) {
  server_process server("tls { " + pki_.server_files() + " }");
  ASSERT_TRUE(server.start());
  const std::string info = plain_info(server.port());
  EXPECT_NE(std::string::npos, info.find("\"tls_required\":true")) << info;
  EXPECT_EQ(std::string::npos, info.find("\"tls_verify\":true")) << info;

  auto opts = make_tls_options(server.url(), pki_);
  ASSERT_TRUE(opts);
  auto a = connect_with(opts.get());
  // The second client gets the CA as PEM text rather than a file.
  std::stringstream ca_pem;
  ca_pem << std::ifstream(pki_.ca()).rdbuf();
  auto text_opts = make_options(server.url());
  ASSERT_EQ(NATS_OK, natsOptions_SetSecure(text_opts.get(), true));
  ASSERT_EQ(NATS_OK, natsOptions_SetCATrustedCertificates(text_opts.get(), ca_pem.str().c_str()));
  auto b = connect_with(text_opts.get());
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(delivers(a.get(), b.get(), "tls.server_only", "over tls"));
  EXPECT_TRUE(delivers(b.get(), a.get(), "tls.back", "and back"));
}

TEST_F(tls_test, plain_client_is_refused_by_tls_required_server) {
  server_process server("tls { " + pki_.server_files() + " }");
  ASSERT_TRUE(server.start());

  // libnats without TLS configured: the server requires it.
  auto plain = make_options(server.url());
  ASSERT_TRUE(plain);
  natsStatus status = NATS_OK;
  auto refused = try_connect(plain.get(), status);
  EXPECT_FALSE(refused);
  EXPECT_NE(NATS_OK, status);

  // A raw client that ignores tls_required and talks in clear: its CONNECT
  // is not a TLS record, so the handshake fails and it is closed, never
  // answered with PONG.
  raw_client raw(server.port());
  ASSERT_TRUE(raw.read_info());
  raw.clear();
  raw.send("CONNECT {\"verbose\":false}\r\nPING\r\n");
  EXPECT_TRUE(raw.wait_closed());
  EXPECT_EQ(std::string::npos, raw.buffer().find("PONG")) << raw.buffer();

  // And a TLS client is still served.
  auto opts = make_tls_options(server.url(), pki_);
  auto nc = connect_with(opts.get());
  ASSERT_TRUE(nc);
  EXPECT_TRUE(round_trip(nc.get(), "tls.after_refusal"));
}

TEST_F(tls_test, mutual_tls_requires_a_certificate_from_the_trusted_ca) {
  ASSERT_TRUE(pki_.add_client("client", "/O=Courier Tests/CN=client")) << pki_.log_text();
  ASSERT_TRUE(pki_.add_foreign_client("stranger", "/O=Elsewhere/CN=stranger")) << pki_.log_text();
  server_process server("tls { " + pki_.server_files() + ", verify: true }");
  ASSERT_TRUE(server.start());
  const std::string info = plain_info(server.port());
  EXPECT_NE(std::string::npos, info.find("\"tls_verify\":true")) << info;

  auto good = make_tls_options(server.url(), pki_, "client");
  ASSERT_TRUE(good);
  auto a = connect_with(good.get());
  auto b = connect_with(good.get());
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(delivers(a.get(), b.get(), "mtls.ok", "verified"));

  // No client certificate: the handshake (or the first read after it, with
  // TLS 1.3) fails and the connection is refused.
  auto no_cert = make_tls_options(server.url(), pki_);
  natsStatus status = NATS_OK;
  auto refused = try_connect(no_cert.get(), status);
  EXPECT_FALSE(refused) << "client without certificate was let in";
  EXPECT_NE(NATS_OK, status);

  // A certificate signed by a CA the server does not trust.
  auto foreign = make_tls_options(server.url(), pki_, "stranger");
  refused = try_connect(foreign.get(), status);
  EXPECT_FALSE(refused) << "client with untrusted certificate was let in";
  EXPECT_NE(NATS_OK, status);

  // The verified clients were not disturbed.
  EXPECT_TRUE(delivers(b.get(), a.get(), "mtls.still", "still here"));
}

TEST_F(tls_test, raw_client_without_certificate_gets_no_pong_on_mutual_tls) {
  server_process server("tls { " + pki_.server_files() + ", verify: true }");
  ASSERT_TRUE(server.start());
  raw_tls_client raw(server.port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(raw.read_plain_until("\r\n")) << raw.plain();
  // With TLS 1.3 the client may finish its side before the server rejects
  // the missing certificate; either way nothing is ever served.
  if (raw.handshake(pki_.ca())) {
    raw.send("CONNECT {\"verbose\":false}\r\nPING\r\n");
    EXPECT_TRUE(raw.wait_closed());
    EXPECT_EQ(std::string::npos, raw.buffer().find("PONG")) << raw.buffer();
  }
}

constexpr const char* mapped_users = R"(
authorization {
  users = [
    { user: "alice@example.com",
      permissions: { publish: "alice.>", subscribe: ["alice.>", "_INBOX.>"] } }
    { user: "CN=bob,O=Courier Tests" }
    { user: "dave.example.com", permissions: { publish: "dave.>", subscribe: "dave.>" } }
  ]
}
)";

TEST_F(tls_test, verify_and_map_takes_the_user_from_the_certificate_and_enforces_its_permissions) {
  ASSERT_TRUE(pki_.add_client("alice", "/O=Courier Tests/CN=alice", "email:alice@example.com")) << pki_.log_text();
  ASSERT_TRUE(pki_.add_client("bob", "/O=Courier Tests/CN=bob")) << pki_.log_text();
  ASSERT_TRUE(pki_.add_client("carol", "/O=Courier Tests/CN=carol")) << pki_.log_text();
  server_process server("tls { " + pki_.server_files() + ", verify_and_map: true }\n" + mapped_users);
  ASSERT_TRUE(server.start());

  async_errors alice_errors;
  auto alice_opts = make_tls_options(server.url(), pki_, "alice");
  ASSERT_TRUE(alice_opts);
  alice_errors.attach(alice_opts.get());
  auto alice = connect_with(alice_opts.get());
  auto bob_opts = make_tls_options(server.url(), pki_, "bob");
  auto bob = connect_with(bob_opts.get());
  ASSERT_TRUE(alice && bob);

  // Allowed both ways.
  EXPECT_TRUE(delivers(alice.get(), bob.get(), "alice.news", "from alice"));
  EXPECT_TRUE(delivers(bob.get(), alice.get(), "alice.inbox", "to alice"));

  // alice (mapped from the email SAN) may not publish outside alice.>: bob,
  // subscribed to everything, must never see it.
  auto everything = subscribe_sync(bob.get(), ">");
  ASSERT_TRUE(everything);
  ASSERT_EQ(NATS_OK, flush(bob.get()));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(alice.get(), "bob.private", "leak"));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(alice.get(), "alice.marker", "marker"));
  ASSERT_EQ(NATS_OK, flush(alice.get()));
  EXPECT_TRUE(alice_errors.wait_for("Permissions Violation for Publish to \"bob.private\"")) << alice_errors.all();
  auto m = next_message(everything.get());
  ASSERT_TRUE(m);
  EXPECT_EQ("alice.marker", std::string(natsMsg_GetSubject(m.get()))) << "denied publish was delivered";

  // Nor subscribe outside her permission.
  auto denied = subscribe_sync(alice.get(), "bob.>");
  ASSERT_TRUE(denied);
  EXPECT_TRUE(alice_errors.wait_for("Permissions Violation for Subscription to \"bob.>\"")) << alice_errors.all();
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(bob.get(), "bob.notes", "not for alice"));
  ASSERT_EQ(NATS_OK, flush(bob.get()));
  ASSERT_EQ(NATS_OK, flush(alice.get()));
  EXPECT_EQ(0u, queued(denied.get()));
  EXPECT_EQ(NATS_CONN_STATUS_CONNECTED, natsConnection_Status(alice.get()));

  // dave has no email, so the DNS name in his certificate names the user;
  // his permissions differ from alice's.
  ASSERT_TRUE(pki_.add_client("dave", "/O=Courier Tests/CN=dave", "DNS:dave.example.com")) << pki_.log_text();
  async_errors dave_errors;
  auto dave_opts = make_tls_options(server.url(), pki_, "dave");
  dave_errors.attach(dave_opts.get());
  auto dave = connect_with(dave_opts.get());
  ASSERT_TRUE(dave);
  EXPECT_TRUE(delivers(dave.get(), bob.get(), "dave.hello", "from dave"));
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(dave.get(), "alice.spoof", "x"));
  ASSERT_EQ(NATS_OK, flush(dave.get()));
  EXPECT_TRUE(dave_errors.wait_for("Permissions Violation for Publish to \"alice.spoof\"")) << dave_errors.all();

  // carol's certificate is valid but maps to no user.
  auto carol_opts = make_tls_options(server.url(), pki_, "carol");
  natsStatus status = NATS_OK;
  auto carol = try_connect(carol_opts.get(), status);
  EXPECT_FALSE(carol) << "unmapped certificate was let in";
  EXPECT_EQ(NATS_CONNECTION_AUTH_FAILED, status) << natsStatus_GetText(status);
}

TEST_F(tls_test, allow_non_tls_serves_plain_and_tls_clients_on_one_port) {
  server_process server("tls { " + pki_.server_files() + " }\nallow_non_tls: true");
  ASSERT_TRUE(server.start());
  const std::string info = plain_info(server.port());
  EXPECT_EQ(std::string::npos, info.find("\"tls_required\":true")) << info;
  EXPECT_NE(std::string::npos, info.find("\"tls_available\":true")) << info;

  auto plain_opts = make_options(server.url());
  auto plain = connect_with(plain_opts.get());
  ASSERT_TRUE(plain);
  auto other_opts = make_options(server.url());
  auto other = connect_with(other_opts.get());
  ASSERT_TRUE(other);
  EXPECT_TRUE(delivers(plain.get(), other.get(), "mixed.plain", "plain to plain"));

  // libnats 3.4 does not know tls_available: with natsOptions_SetSecure it
  // refuses a server whose INFO says tls_required false ("Secure Connection
  // not available"). So the TLS side is a hand-driven OpenSSL client that
  // upgrades after the plain INFO, as libnats does on a TLS-only port.
  raw_tls_client secure(server.port());
  ASSERT_TRUE(secure.read_plain_until("\r\n"));
  ASSERT_TRUE(secure.handshake(pki_.ca()));
  secure.send("CONNECT {\"verbose\":false,\"tls_required\":true}\r\nSUB mixed.to_tls 1\r\nPING\r\n");
  ASSERT_TRUE(secure.read_until("PONG\r\n")) << secure.buffer();
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(plain.get(), "mixed.to_tls", "to tls"));
  ASSERT_EQ(NATS_OK, flush(plain.get()));
  EXPECT_TRUE(secure.read_until("MSG mixed.to_tls 1 6\r\nto tls\r\n")) << secure.buffer();

  auto from_tls = subscribe_sync(plain.get(), "mixed.to_plain");
  ASSERT_EQ(NATS_OK, flush(plain.get()));
  secure.send("PUB mixed.to_plain 8\r\nfrom tls\r\n");
  auto m = next_message(from_tls.get());
  ASSERT_TRUE(m) << "nothing from the TLS client";
  EXPECT_EQ("from tls", payload(m.get()));
}

TEST_F(tls_test, cipher_suites_limit_tls12_suites) {
  server_process server("tls { " + pki_.server_files() +
                        ", cipher_suites: [\"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384\"] }");
  ASSERT_TRUE(server.start());
  auto tls12_with = [](const char* ciphers) {
    return [ciphers](SSL_CTX* ctx) {
      SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
      SSL_CTX_set_cipher_list(ctx, ciphers);
    };
  };
  // The listed suite is negotiated and the session works.
  raw_tls_client listed(server.port());
  ASSERT_TRUE(listed.read_plain_until("\r\n"));
  ASSERT_TRUE(listed.handshake(pki_.ca(), {}, {}, 5s, tls12_with("ECDHE-ECDSA-AES256-GCM-SHA384")));
  EXPECT_EQ("ECDHE-ECDSA-AES256-GCM-SHA384", listed.cipher());
  listed.send("CONNECT {\"verbose\":false}\r\nSUB cs.x 1\r\nPUB cs.x 2\r\nok\r\nPING\r\n");
  EXPECT_TRUE(listed.read_until("PONG\r\n")) << listed.buffer();
  EXPECT_NE(std::string::npos, listed.buffer().find("MSG cs.x 1 2\r\nok\r\n")) << listed.buffer();

  // A client offering only an unlisted TLS 1.2 suite is refused.
  raw_tls_client unlisted(server.port());
  ASSERT_TRUE(unlisted.read_plain_until("\r\n"));
  EXPECT_FALSE(unlisted.handshake(pki_.ca(), {}, {}, 3s, tls12_with("ECDHE-ECDSA-CHACHA20-POLY1305")));

  // TLS 1.3 suites are not configurable: libnats (TLS 1.3) still connects.
  auto opts = make_tls_options(server.url(), pki_);
  auto nc = connect_with(opts.get());
  ASSERT_TRUE(nc);
  EXPECT_TRUE(round_trip(nc.get(), "cs.libnats"));
}

TEST_F(tls_test, command_line_tls_flags) {
  ASSERT_TRUE(pki_.add_client("client", "/O=Courier Tests/CN=client")) << pki_.log_text();
  {
    listening_process server("", {"--tls", "--tlscert", pki_.cert("server"), "--tlskey", pki_.key("server")});
    ASSERT_TRUE(server.start());
    auto opts = make_tls_options(server.url(), pki_);
    auto a = connect_with(opts.get());
    auto b = connect_with(opts.get());
    ASSERT_TRUE(a && b) << server.log_text();
    EXPECT_TRUE(delivers(a.get(), b.get(), "flags.tls", "--tls"));
    natsStatus status = NATS_OK;
    auto plain_opts = make_options(server.url());
    EXPECT_FALSE(try_connect(plain_opts.get(), status));
  }
  {
    listening_process server("", {"--tlsverify", "--tlscert", pki_.cert("server"), "--tlskey", pki_.key("server"),
                                  "--tlscacert", pki_.ca()});
    ASSERT_TRUE(server.start());
    auto opts = make_tls_options(server.url(), pki_, "client");
    auto a = connect_with(opts.get());
    auto b = connect_with(opts.get());
    ASSERT_TRUE(a && b) << server.log_text();
    EXPECT_TRUE(delivers(a.get(), b.get(), "flags.tlsverify", "--tlsverify"));
    natsStatus status = NATS_OK;
    auto no_cert = make_tls_options(server.url(), pki_);
    EXPECT_FALSE(try_connect(no_cert.get(), status)) << "--tlsverify let a client without certificate in";
  }
}

TEST_F(tls_test, handshake_first_starts_tls_before_info) {
  if (against_reference()) GTEST_SKIP() << "handshake_first is a nats-server 2.10 feature; 2.9.10 lacks it";
  listening_process server("tls { " + pki_.server_files() + ", handshake_first: true }");
  ASSERT_TRUE(server.start());

  // A client that waits for INFO in clear gets nothing to read.
  raw_tls_client waiting(server.port());
  ASSERT_TRUE(waiting.connected());
  EXPECT_FALSE(waiting.read_plain_until("INFO", 300ms)) << waiting.plain();

  // TLS right away: the INFO comes over TLS, then the session works.
  raw_tls_client first(server.port());
  ASSERT_TRUE(first.handshake(pki_.ca())) << server.log_text();
  ASSERT_TRUE(first.read_until("\r\n")) << first.buffer();
  EXPECT_EQ(0u, first.buffer().rfind("INFO {", 0)) << first.buffer();
  EXPECT_NE(std::string::npos, first.buffer().find("\"tls_required\":true")) << first.buffer();
  first.clear();
  first.send("CONNECT {\"verbose\":false}\r\nSUB hf.x 1\r\nPUB hf.x 5\r\nfirst\r\nPING\r\n");
  EXPECT_TRUE(first.read_until("PONG\r\n")) << first.buffer();
  EXPECT_NE(std::string::npos, first.buffer().find("MSG hf.x 1 5\r\nfirst\r\n")) << first.buffer();

  // libnats 3.4 cannot start with TLS (no natsOptions_TLSHandshakeFirst):
  // it waits for INFO and is refused.
  auto opts = make_tls_options(server.url(), pki_);
  natsOptions_SetTimeout(opts.get(), 500);
  natsStatus status = NATS_OK;
  auto refused = try_connect(opts.get(), status);
  EXPECT_FALSE(refused);
  EXPECT_NE(NATS_OK, status);
}

TEST_F(tls_test, handshake_first_with_fallback_serves_both_orders) {
  if (against_reference()) GTEST_SKIP() << "handshake_first is a nats-server 2.10 feature; 2.9.10 lacks it";
  // With a duration, a client that says nothing gets INFO in clear after it
  // and upgrades as usual (nats-server 2.10 handshake_first: "<duration>").
  listening_process server("tls { " + pki_.server_files() + ", handshake_first: \"200ms\" }");
  ASSERT_TRUE(server.start());
  raw_client waiting(server.port());
  ASSERT_TRUE(waiting.connected());
  const auto started = steady::now();
  ASSERT_TRUE(waiting.read_info(5s)) << "no INFO in clear after the 200ms fallback delay: '"
                                         << waiting.buffer() << "'";
  EXPECT_GE(steady::now() - started, 150ms) << "INFO came before the fallback delay";
  EXPECT_NE(std::string::npos, waiting.buffer().find("\"tls_required\":true")) << waiting.buffer();

  auto opts = make_tls_options(server.url(), pki_);
  auto nc = connect_with(opts.get());
  ASSERT_TRUE(nc) << server.log_text();

  raw_tls_client first(server.port());
  ASSERT_TRUE(first.handshake(pki_.ca()));
  ASSERT_TRUE(first.read_until("\r\n"));
  EXPECT_EQ(0u, first.buffer().rfind("INFO {", 0)) << first.buffer();
  first.clear();
  first.send("CONNECT {\"verbose\":false}\r\nSUB hf.mixed 1\r\nPING\r\n");
  ASSERT_TRUE(first.read_until("PONG\r\n")) << first.buffer();
  ASSERT_EQ(NATS_OK, natsConnection_PublishString(nc.get(), "hf.mixed", "from libnats"));
  ASSERT_EQ(NATS_OK, flush(nc.get()));
  EXPECT_TRUE(first.read_until("MSG hf.mixed 1 12\r\nfrom libnats\r\n")) << first.buffer();
}

}  // namespace
}  // namespace courier::test
