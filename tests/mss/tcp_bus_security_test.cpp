// The TCP bus's production connection settings (client/tcp_bus,
// client/nats_client, auth/nats_credentials) against real nats-server
// 2.9.10 processes: TLS with the server's certificate checked (right CA,
// wrong CA, wrong name), a server that requires TLS of a nats:// URL, a
// client certificate for `verify: true`, nkey authentication (right and
// wrong seed), a .creds file against a server in operator mode (JWTs made
// here), and failover over a list of URLs. Certificates come from a
// test CA made at test time (tests/test_pki.hpp), nkeys from random seeds.
#include "client/tcp_bus.hpp"

#include <gtest/gtest.h>

#include <openssl/rand.h>

#include <atomic>
#include <ctime>
#include <mutex>
#include <span>

#include "auth/nkeys.hpp"
#include "broker_process.hpp"
#include "logged_bus.hpp"
#include "auth/nats_credentials.hpp"
#include "tests/test_jwt.hpp"
#include "tests/test_pki.hpp"

namespace courier::mss {
namespace tcp_bus_security_test {
namespace {

using auth::load_credentials_file;
using auth::load_nkey_seed_file;
using auth::nats_credentials;

using namespace std::chrono_literals;

/// Generous: CI is a busy 2-core machine running sanitizer builds.
constexpr auto patience = 30s;

using test::logged_bus;

/// One message there and back over `bus`: the connection really works
/// (CONNECT accepted, subscriptions and publishes flow).
testing::AssertionResult round_trip(tcp_bus& bus) {
  std::atomic<int> got{0};
  const auto sid = bus.subscribe("security.echo", {}, [&](bus_message m) {
    if (m.payload == "hello") ++got;
  });
  if (!bus.flush(patience)) return testing::AssertionFailure() << "no PONG";
  bus.publish("security.echo", "hello");
  const bool ok = test::wait_until([&] { return got == 1; }, patience);
  bus.unsubscribe(sid);
  return ok ? testing::AssertionSuccess() : testing::AssertionFailure() << "the message did not come back";
}

/// A nats-server with `config` in a file beside the certificates.
class SecureServer : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(pki_.ok()) << pki_.log_text(); }

  bool start(const std::string& config) {
    if (config.empty()) return server_.start(test::nats_server_binary(), {});
    const auto path = dir_.write("server.conf", config);
    return server_.start(test::nats_server_binary(), {"-c", path});
  }
  std::string url(const std::string& scheme, const std::string& host = "127.0.0.1") const {
    return scheme + "://" + host + ":" + std::to_string(server_.port());
  }
  std::string tls_block(const std::string& extra = "") const {
    return "tls {\n  cert_file: \"" + pki_.cert("server") + "\"\n  key_file: \"" + pki_.key("server") +
           "\"\n  ca_file: \"" + pki_.ca() + "\"\n" + extra + "}\n";
  }

  courier::test::test_pki pki_;
  courier::test::scratch_dir dir_;
  test::broker_process server_;
};

TEST_F(SecureServer, TlsUrlWithTheRightCaConnectsAndChecksTheName) {
  ASSERT_TRUE(start(tls_block()));
  for (const std::string host : {"127.0.0.1", "localhost"}) {
    tcp_bus_options options;
    options.urls = url("tls", host);
    options.tls.ca_file = pki_.ca();
    logged_bus bus(options);
    ASSERT_TRUE(bus->wait_connected(patience)) << host << ": " << bus.text();
    EXPECT_TRUE(round_trip(*bus)) << host;
    EXPECT_EQ(bus->describe(), url("tls", host));
  }
}

TEST_F(SecureServer, ServerRequiringTlsUpgradesANatsUrl) {
  // nats-server sends INFO in clear with tls_required; the client starts
  // the handshake after reading it, as stock clients do.
  ASSERT_TRUE(start(tls_block()));
  tcp_bus_options options;
  options.urls = url("nats");
  options.tls.ca_file = pki_.ca();
  logged_bus bus(options);
  ASSERT_TRUE(bus->wait_connected(patience)) << bus.text();
  EXPECT_TRUE(round_trip(*bus));
}

TEST_F(SecureServer, WrongCaIsRefusedWithAClearError) {
  ASSERT_TRUE(start(tls_block()));
  courier::test::test_pki other;
  ASSERT_TRUE(other.ok()) << other.log_text();
  tcp_bus_options options;
  options.urls = url("tls");
  options.tls.ca_file = other.ca();
  logged_bus bus(options);
  ASSERT_TRUE(bus.wait_logged("TLS handshake with tls://127.0.0.1", patience)) << bus.text();
  const auto line = bus.line_with("TLS handshake");
  EXPECT_NE(line.find("certificate verify failed"), std::string::npos) << line;
  EXPECT_NE(line.find("unable to get local issuer certificate"), std::string::npos) << line;
  EXPECT_FALSE(bus->connected());
  EXPECT_EQ(bus->connections(), 0u);
}

TEST_F(SecureServer, NameMismatchIsRefusedUnlessInsecure) {
  ASSERT_TRUE(pki_.add_server("elsewhere", "DNS:elsewhere.test")) << pki_.log_text();
  ASSERT_TRUE(start("tls {\n  cert_file: \"" + pki_.cert("elsewhere") + "\"\n  key_file: \"" + pki_.key("elsewhere") +
                    "\"\n}\n"));
  {
    tcp_bus_options options;
    options.urls = url("tls", "localhost");
    options.tls.ca_file = pki_.ca();
    logged_bus bus(options);
    ASSERT_TRUE(bus.wait_logged("TLS handshake with tls://localhost", patience)) << bus.text();
    EXPECT_NE(bus.line_with("TLS handshake").find("hostname mismatch"), std::string::npos) << bus.text();
    EXPECT_EQ(bus->connections(), 0u);
  }
  {
    tcp_bus_options options;
    options.urls = url("tls");
    options.tls.ca_file = pki_.ca();
    logged_bus bus(options);
    ASSERT_TRUE(bus.wait_logged("TLS handshake with tls://127.0.0.1", patience)) << bus.text();
    EXPECT_NE(bus.line_with("TLS handshake").find("IP address mismatch"), std::string::npos) << bus.text();
  }
  {
    // insecure: neither the chain nor the name is checked.
    tcp_bus_options options;
    options.urls = url("tls", "localhost");
    options.tls.insecure = true;
    logged_bus bus(options);
    ASSERT_TRUE(bus->wait_connected(patience)) << bus.text();
    EXPECT_TRUE(round_trip(*bus));
  }
}

TEST_F(SecureServer, ClientCertificateForVerifyTrue) {
  ASSERT_TRUE(pki_.add_client("mss", "/O=Courier Tests/CN=mss")) << pki_.log_text();
  ASSERT_TRUE(start(tls_block("  verify: true\n")));
  {
    tcp_bus_options options;
    options.urls = url("tls");
    options.tls.ca_file = pki_.ca();
    options.tls.cert_file = pki_.cert("mss");
    options.tls.key_file = pki_.key("mss");
    logged_bus bus(options);
    ASSERT_TRUE(bus->wait_connected(patience)) << bus.text();
    EXPECT_TRUE(round_trip(*bus));
  }
  {
    // Without a certificate the server refuses: over TLS 1.3 it says so
    // after the client's side of the handshake finished, with the alert
    // Go sends ("bad certificate"; OpenSSL servers send "certificate
    // required").
    tcp_bus_options options;
    options.urls = url("tls");
    options.tls.ca_file = pki_.ca();
    logged_bus bus(options);
    ASSERT_TRUE(test::wait_until([&] { return !bus.line_with("alert bad certificate").empty() ||
                                              !bus.line_with("alert certificate required").empty(); },
                                 patience))
        << bus.text();
    EXPECT_EQ(bus->connections(), 0u);
  }
}

TEST_F(SecureServer, ClientThatWantsTlsRefusesAPlainServer) {
  ASSERT_TRUE(start(""));
  tcp_bus_options options;
  options.urls = url("tls");
  logged_bus bus(options);
  ASSERT_TRUE(bus.wait_logged("does not offer TLS", patience)) << bus.text();
  EXPECT_EQ(bus->connections(), 0u);
}

TEST(TcpBusTlsSettings, FilesThatDoNotLoadAreRefusedAtConstruction) {
  courier::test::scratch_dir dir;
  const auto garbage = dir.write("garbage.pem", "not a certificate\n");
  tcp_bus_options options;
  options.urls = "tls://127.0.0.1:1";
  options.tls.ca_file = dir.file("missing.pem");
  try {
    tcp_bus bus(options);
    ADD_FAILURE() << "a missing CA file must be refused";
  } catch (const bus_error& e) {
    EXPECT_NE(std::string(e.what()).find("tls: failed to parse root ca certificate"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
  }
  options.tls.ca_file.clear();
  options.tls.cert_file = garbage;
  options.tls.key_file = garbage;
  EXPECT_THROW(tcp_bus{options}, bus_error);
  options.tls.key_file.clear();
  EXPECT_THROW(tcp_bus{options}, bus_error);  // a certificate without its key
}

// ---- nkeys ----

/// A fresh random user seed, encoded ("SU...").
std::string random_user_seed() {
  auth::nkeys::key_bytes raw{};
  EXPECT_EQ(RAND_bytes(raw.data(), static_cast<int>(raw.size())), 1);
  return auth::nkeys::encode_seed(auth::nkeys::prefix::user, raw);
}

/// The user public key ("U...") of an encoded seed.
std::string public_key_of(const std::string& seed) {
  const auto decoded = auth::nkeys::decode_seed(seed);
  EXPECT_TRUE(decoded) << decoded.error;
  const auto key = auth::nkeys::public_key_from_seed(decoded.seed);
  EXPECT_TRUE(key.has_value());
  return key ? auth::nkeys::encode_public_key(auth::nkeys::prefix::user, *key) : std::string();
}

TEST(TcpBusNkeys, SeedFilesBareAndDecoratedAndClearErrors) {
  courier::test::scratch_dir dir;
  const auto seed = random_user_seed();
  nats_credentials credentials;
  std::string error;
  ASSERT_TRUE(load_nkey_seed_file(dir.write("bare.nk", seed + "\n"), credentials, error)) << error;
  EXPECT_EQ(credentials.public_key, public_key_of(seed));
  EXPECT_TRUE(credentials.user_jwt.empty());
  const auto decorated = dir.write("decorated.nk", "-----BEGIN USER NKEY SEED-----\r\n" + seed +
                                                       "\r\n------END USER NKEY SEED------\r\n\r\n*** keep secret ***\n");
  ASSERT_TRUE(load_nkey_seed_file(decorated, credentials, error)) << error;
  EXPECT_EQ(credentials.public_key, public_key_of(seed));

  EXPECT_FALSE(load_nkey_seed_file(dir.file("missing.nk"), credentials, error));
  EXPECT_NE(error.find("cannot read"), std::string::npos) << error;
  EXPECT_FALSE(load_nkey_seed_file(dir.write("empty.nk", "\n"), credentials, error));
  EXPECT_NE(error.find("no nkey seed"), std::string::npos) << error;
  std::string damaged = seed;
  damaged[10] = damaged[10] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(load_nkey_seed_file(dir.write("damaged.nk", damaged), credentials, error));
  EXPECT_EQ(error.find(damaged), std::string::npos) << "the seed must not be echoed: " << error;
  // An account seed is not a user's.
  auth::nkeys::key_bytes raw{};
  raw[0] = 7;
  EXPECT_FALSE(load_nkey_seed_file(
      dir.write("account.nk", auth::nkeys::encode_seed(auth::nkeys::prefix::account, raw)), credentials, error));
  EXPECT_NE(error.find("not a user seed"), std::string::npos) << error;
}

TEST(TcpBusNkeys, CredentialsFileAndConnectSignature) {
  courier::test::scratch_dir dir;
  const auto seed = random_user_seed();
  const std::string jwt = "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJzdWIiOiJVIn0.c2ln";
  const auto path = dir.write("user.creds", "-----BEGIN NATS USER JWT-----\n" + jwt +
                                                "\n------END NATS USER JWT------\n\n"
                                                "************************* IMPORTANT *************************\n"
                                                "NKEY Seed printed below can be used to sign and prove identity.\n\n"
                                                "-----BEGIN USER NKEY SEED-----\n" +
                                                seed + "\n------END USER NKEY SEED------\n");
  nats_credentials credentials;
  std::string error;
  ASSERT_TRUE(load_credentials_file(path, credentials, error)) << error;
  EXPECT_EQ(credentials.user_jwt, jwt);
  EXPECT_EQ(credentials.public_key, public_key_of(seed));
  EXPECT_FALSE(load_credentials_file(dir.write("seed-only.creds", seed + "\n"), credentials, error));
  EXPECT_NE(error.find("not a credentials file"), std::string::npos) << error;

  // CONNECT: the JWT and a signature of the nonce the server can check.
  ASSERT_TRUE(load_credentials_file(path, credentials, error)) << error;
  const std::string nonce = auth::nkeys::generate_nonce();
  picojson::value connect;
  picojson::parse(connect, make_connect_json(nats_endpoint{}, "t", credentials, nonce, true));
  ASSERT_TRUE(connect.is<picojson::object>());
  EXPECT_EQ(connect.get("jwt").to_str(), jwt);
  EXPECT_TRUE(connect.get("tls_required").get<bool>());
  EXPECT_TRUE(auth::nkeys::verify_nonce_signature(public_key_of(seed), nonce, connect.get("sig").to_str()));
  // A bare nkey sends its public key instead of a JWT.
  credentials.user_jwt.clear();
  picojson::parse(connect, make_connect_json(nats_endpoint{}, "t", credentials, nonce));
  EXPECT_EQ(connect.get("nkey").to_str(), public_key_of(seed));
  EXPECT_TRUE(connect.get("jwt").is<picojson::null>());
}

TEST(TcpBusNkeys, RightSeedConnectsWrongSeedIsRefused) {
  courier::test::scratch_dir dir;
  const auto seed = random_user_seed();
  const auto config = dir.write("server.conf", "authorization {\n  users = [\n    { nkey: " + public_key_of(seed) +
                                                   " }\n  ]\n}\n");
  test::broker_process server;
  ASSERT_TRUE(server.start(test::nats_server_binary(), {"-c", config}));
  {
    tcp_bus_options options;
    options.urls = server.url();
    options.nkey_seed_file = dir.write("right.nk", seed + "\n");
    logged_bus bus(options);
    ASSERT_TRUE(bus->wait_connected(patience)) << bus.text();
    EXPECT_TRUE(round_trip(*bus));
  }
  {
    tcp_bus_options options;
    options.urls = server.url();
    options.nkey_seed_file = dir.write("wrong.nk", random_user_seed() + "\n");
    logged_bus bus(options);
    ASSERT_TRUE(bus.wait_logged("Authorization Violation", patience)) << bus.text();
    EXPECT_EQ(bus->connections(), 0u);
  }
  {
    // Without credentials: refused too (the server needs the nkey).
    tcp_bus_options options;
    options.urls = server.url();
    logged_bus bus(options);
    ASSERT_TRUE(bus.wait_logged("Authorization Violation", patience)) << bus.text();
  }
}

TEST(TcpBusNkeys, NkeyOverTlsWithAClientCertificate) {
  courier::test::test_pki pki;
  ASSERT_TRUE(pki.ok() && pki.add_client("mss", "/O=Courier Tests/CN=mss")) << pki.log_text();
  courier::test::scratch_dir dir;
  const auto seed = random_user_seed();
  const auto config = dir.write("server.conf", "tls {\n  " + pki.server_files() + "\n  verify: true\n}\n" +
                                                   "authorization {\n  users = [ { nkey: " + public_key_of(seed) +
                                                   " } ]\n}\n");
  test::broker_process server;
  ASSERT_TRUE(server.start(test::nats_server_binary(), {"-c", config}));
  tcp_bus_options options;
  options.urls = "tls://localhost:" + std::to_string(server.port());
  options.nkey_seed_file = dir.write("mss.nk", seed);
  options.tls.ca_file = pki.ca();
  options.tls.cert_file = pki.cert("mss");
  options.tls.key_file = pki.key("mss");
  logged_bus bus(options);
  ASSERT_TRUE(bus->wait_connected(patience)) << bus.text();
  EXPECT_TRUE(round_trip(*bus));
}

TEST(TcpBusNkeys, SeedFileProblemsAreRefusedAtConstruction) {
  courier::test::scratch_dir dir;
  tcp_bus_options options;
  options.urls = "nats://127.0.0.1:1";
  options.nkey_seed_file = dir.file("missing.nk");
  try {
    tcp_bus bus(options);
    ADD_FAILURE() << "a missing seed file must be refused";
  } catch (const bus_error& e) {
    EXPECT_NE(std::string(e.what()).find("nkey seed file: cannot read"), std::string::npos) << e.what();
  }
  options.nkey_seed_file = dir.write("a.nk", random_user_seed());
  options.credentials_file = dir.write("b.creds", "x");
  EXPECT_THROW(tcp_bus{options}, bus_error);
}

// ---- operator mode: a .creds file ----

TEST(TcpBusCreds, OperatorModeUserFromACredsFile) {
  // Operator, account and user JWTs from tests/test_jwt.hpp.
  const courier::test::operator_chain chain;
  const courier::test::nkey_pair user_key = courier::test::make_nkey(auth::nkeys::prefix::user);
  const std::string user_jwt = courier::test::make_user_jwt(chain.account, user_key, "mss");
  courier::test::scratch_dir dir;
  const auto config = dir.write("server.conf", chain.server_config());
  test::broker_process server;
  ASSERT_TRUE(server.start(test::nats_server_binary(), {"-c", config}));
  const auto creds = [&](const courier::test::nkey_pair& key) { return courier::test::creds_text(user_jwt, key.seed_text); };
  {
    tcp_bus_options options;
    options.urls = server.url();
    options.credentials_file = dir.write("mss.creds", creds(user_key));
    logged_bus bus(options);
    ASSERT_TRUE(bus->wait_connected(patience)) << bus.text();
    EXPECT_TRUE(round_trip(*bus));
  }
  {
    // The user's JWT with another key's seed: the signature does not match.
    tcp_bus_options options;
    options.urls = server.url();
    options.credentials_file = dir.write("stolen.creds", creds(courier::test::make_nkey(auth::nkeys::prefix::user)));
    logged_bus bus(options);
    ASSERT_TRUE(bus.wait_logged("Authorization Violation", patience)) << bus.text();
    EXPECT_EQ(bus->connections(), 0u);
  }
}

// ---- failover ----

TEST(TcpBusFailover, NextUrlWhenTheServerDiesSubscriptionsFollow) {
  test::broker_process first;
  test::broker_process second;
  ASSERT_TRUE(first.start(test::nats_server_binary(), {}));
  ASSERT_TRUE(second.start(test::nats_server_binary(), {}));
  // A URL nobody listens on first: skipped.
  const std::string dead = "nats://127.0.0.1:" + std::to_string(test::unused_port());
  tcp_bus_options options;
  options.urls = dead + "," + first.url() + "," + second.url();
  logged_bus bus(options);
  ASSERT_TRUE(bus->wait_connected(patience)) << bus.text();
  EXPECT_EQ(bus->describe(), first.url());
  std::atomic<int> got{0};
  bus->subscribe("failover.test", {}, [&](bus_message) { ++got; });
  ASSERT_TRUE(bus->flush(patience));

  first.stop(SIGKILL);
  ASSERT_TRUE(test::wait_until([&] { return bus->connections() == 2 && bus->connected(); }, patience)) << bus.text();
  EXPECT_EQ(bus->describe(), second.url());
  ASSERT_TRUE(bus->flush(patience));
  // A publisher on the second server reaches the re-made subscription.
  tcp_bus_options publisher_options;
  publisher_options.urls = second.url();
  logged_bus publisher(publisher_options);
  ASSERT_TRUE(publisher->wait_connected(patience)) << publisher.text();
  publisher->publish("failover.test", "after");
  ASSERT_TRUE(publisher->flush(patience));
  EXPECT_TRUE(test::wait_until([&] { return got == 1; }, patience));
}

}  // namespace
}  // namespace tcp_bus_security_test
}  // namespace courier::mss
