#include "auth/tls_config.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>
#include <openssl/pem.h>

#include "auth/config_error.hpp"
#include "auth/users.hpp"
#include "tests/json_support.hpp"

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using asio::ip::tcp;
using namespace std::chrono_literals;
using courier::auth::config_error;
using courier::auth::tls_settings;

namespace {

using courier::test::parse_json;

/// Certificates made with the openssl CLI for this test run (never committed):
/// a CA, a server certificate for 127.0.0.1, client certificates for alice
/// (SANs and a DC subject) and bob (escaped subject), and a self-signed
/// stranger.
class tls_fixture : public ::testing::Test {
 protected:
  static std::filesystem::path dir;

  static void run(const std::string& command) {
    std::string full = "cd '" + dir.string() + "' && " + command + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(full.c_str()), 0) << command;
  }

  static void SetUpTestSuite() {
    char templ[] = "/tmp/courier-auth-tls-XXXXXX";
    ASSERT_NE(mkdtemp(templ), nullptr);
    dir = templ;
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    run("openssl req -x509 " + key + " -keyout ca.key -out ca.pem -days 1 -subj '/CN=Courier Test CA'");
    auto issue = [&](const std::string& name, const std::string& subject, const std::string& ext,
                     const std::string& extra = "") {
      run("openssl req " + key + " -keyout " + name + ".key -out " + name + ".csr -subj '" + subject + "' " + extra);
      std::ofstream(dir / (name + ".ext")) << ext << "\n";
      run("openssl x509 -req -in " + name + ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -out " + name +
          ".pem -days 1 -extfile " + name + ".ext");
    };
    issue("server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1");
    issue("alice", "/DC=org/DC=example/O=Acme/OU=eng/OU=ops/CN=alice/emailAddress=alice@example.com",
          "subjectAltName=email:alice@example.com,DNS:alice.example.com,URI:spiffe://example.org/alice");
    issue("bob", "/C=US/ST=CA/L=San Francisco/O=Acme, Inc./CN= #bob+SN=42", "basicConstraints=CA:FALSE",
          "-multivalue-rdn");
    run("openssl req -x509 " + key + " -keyout stranger.key -out stranger.pem -days 1 -subj '/CN=stranger'");
    std::ofstream(dir / "garbage.pem") << "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n";
  }

  static void TearDownTestSuite() { std::filesystem::remove_all(dir); }

  static std::string path(const std::string& name) { return (dir / name).string(); }

  static X509* load_cert(const std::string& name) {
    FILE* f = std::fopen(path(name).c_str(), "r");
    if (f == nullptr) return nullptr;
    X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
    std::fclose(f);
    return cert;
  }

  tls_settings server_settings(const std::string& extra = "") {
    std::string body = R"({"cert_file": ")" + path("server.pem") + R"(", "key_file": ")" + path("server.key") +
                       R"(", "ca_file": ")" + path("ca.pem") + "\"" + extra + "}";
    return courier::auth::parse_tls(parse_json(body));
  }

  /// Outcome of one handshake against a server using `server_ctx`.
  struct handshake_outcome {
    bool server_ok = false;
    bool client_ok = false;
    std::optional<courier::auth::peer_certificate> peer;
    std::string protocol;
  };

  /// Runs a real TLS handshake on loopback: the server side uses the
  /// context under test; the client trusts the CA and optionally presents
  /// `client_cert`.
  handshake_outcome handshake(ssl::context& server_ctx, const std::string& client_cert = "",
                              int client_max_version = 0) {
    handshake_outcome out;
    asio::io_context io;
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    auto port = acceptor.local_endpoint().port();

    auto server = std::async(std::launch::async, [&] {
      asio::io_context server_io;
      tcp::socket socket(server_io);
      acceptor.accept(socket);
      ssl::stream<tcp::socket&> stream(socket, server_ctx);
      boost::system::error_code ec;
      stream.handshake(ssl::stream_base::server, ec);
      if (!ec) {
        out.server_ok = true;
        out.protocol = SSL_get_version(stream.native_handle());
        if (X509* peer = SSL_get1_peer_certificate(stream.native_handle())) {
          out.peer = courier::auth::describe_peer_certificate(peer);
          X509_free(peer);
        }
        // Let the client finish reading the session tickets.
        char byte;
        stream.read_some(asio::buffer(&byte, 1), ec);
      }
    });

    ssl::context client_ctx(ssl::context::tls_client);
    client_ctx.load_verify_file(path("ca.pem"));
    client_ctx.set_verify_mode(ssl::verify_peer);
    if (client_max_version) SSL_CTX_set_max_proto_version(client_ctx.native_handle(), client_max_version);
    if (!client_cert.empty()) {
      client_ctx.use_certificate_chain_file(path(client_cert + ".pem"));
      client_ctx.use_private_key_file(path(client_cert + ".key"), ssl::context::pem);
    }
    tcp::socket socket(io);
    socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    ssl::stream<tcp::socket&> stream(socket, client_ctx);
    boost::system::error_code ec;
    stream.handshake(ssl::stream_base::client, ec);
    // Unblocks the server's read (and, with TLS 1.3, is where a refused
    // client certificate would surface on the client side).
    if (!ec) asio::write(stream, asio::buffer("x", 1), ec);
    out.client_ok = !ec;
    socket.close();
    server.get();
    return out;
  }
};

std::filesystem::path tls_fixture::dir;

}  // namespace

TEST_F(tls_fixture, parse_defaults_and_fields) {
  auto s = server_settings();
  EXPECT_TRUE(s.enabled());
  EXPECT_FALSE(s.verify);
  EXPECT_FALSE(s.map);
  EXPECT_EQ(s.timeout, 2s);
  EXPECT_EQ(s.min_version, 0x0303);
  EXPECT_FALSE(s.handshake_first);
  EXPECT_EQ(s.ciphers.size(), 6u);  // nats-server's default suites
  EXPECT_EQ(s.groups.front(), "X25519");

  auto m = server_settings(R"(, "verify_and_map": true, "timeout": 0.5, "min_version": "1.3", "handshake_first": true)");
  EXPECT_TRUE(m.verify);
  EXPECT_TRUE(m.map);
  EXPECT_EQ(m.timeout, 500ms);
  EXPECT_EQ(m.min_version, 0x0304);
  EXPECT_TRUE(m.handshake_first);
  EXPECT_FALSE(m.handshake_first_fallback);

  auto d = server_settings(R"(, "timeout": "3s", "handshake_first": "300ms",
                              "cipher_suites": ["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_AES_128_GCM_SHA256"],
                              "curve_preferences": ["CurveP384"])");
  EXPECT_EQ(d.timeout, 3s);
  EXPECT_EQ(d.handshake_first_fallback, 300ms);
  ASSERT_EQ(d.ciphers.size(), 1u);  // the TLS 1.3 name is accepted and not configurable
  EXPECT_EQ(d.ciphers[0], "ECDHE-RSA-AES256-GCM-SHA384");
  EXPECT_EQ(d.groups, std::vector<std::string>{"P-384"});
  auto chacha = server_settings(R"(, "cipher_suites": ["TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"])");
  EXPECT_EQ(chacha.ciphers, std::vector<std::string>{"ECDHE-ECDSA-CHACHA20-POLY1305"});
}

TEST_F(tls_fixture, parse_errors) {
  auto error = [&](const std::string& extra) -> std::string {
    try {
      server_settings(extra);
    } catch (const config_error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(error(R"(, "verfy": true)"), R"(error parsing tls config, unknown field ["verfy"])");
  EXPECT_EQ(error(R"(, "verify": "yes")"), "error parsing tls config, expected 'verify' to be a boolean");
  EXPECT_EQ(error(R"(, "cipher_suites": ["TLS_FAKE"])"), "unrecognized cipher TLS_FAKE");
  EXPECT_EQ(error(R"(, "cipher_suites": [])"), "error parsing tls config, 'cipher_suites' cannot be empty");
  EXPECT_EQ(error(R"(, "curve_preferences": ["P999"])"), "unrecognized curve preference P999");
  EXPECT_EQ(error(R"(, "timeout": true)"), "error parsing tls config, 'timeout' wrong type");
  EXPECT_NE(error(R"(, "min_version": "1.1")").find("unsupported TLS version"), std::string::npos);
  EXPECT_NE(error(R"(, "pinned_certs": [])").find("not supported"), std::string::npos);
  EXPECT_EQ(error(R"(, "cert_file": 5)"), "error parsing tls config, expected 'cert_file' to be filename");
}

TEST_F(tls_fixture, context_errors_name_the_file) {
  auto s = server_settings();
  s.key_file.clear();
  EXPECT_THROW(courier::auth::make_server_context(s), config_error);
  s = server_settings();
  s.cert_file = path("missing.pem");
  try {
    courier::auth::make_server_context(s);
    FAIL() << "no error";
  } catch (const config_error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.pem"), std::string::npos) << e.what();
  }
  s = server_settings();
  s.key_file = path("alice.key");  // does not match the certificate
  EXPECT_THROW(courier::auth::make_server_context(s), config_error);
  s = server_settings();
  s.ca_file = path("garbage.pem");
  EXPECT_THROW(courier::auth::make_server_context(s), config_error);
}

TEST_F(tls_fixture, flags_replace_the_block) {
  courier::auth::tls_flags flags;
  EXPECT_EQ(courier::auth::apply_tls_flags(server_settings(R"(, "verify": true)"), flags).verify, true);  // untouched
  flags.tls = true;
  EXPECT_THROW(courier::auth::apply_tls_flags({}, flags), config_error);
  flags.cert = path("server.pem");
  try {
    courier::auth::apply_tls_flags({}, flags);
    FAIL();
  } catch (const config_error& e) {
    EXPECT_STREQ(e.what(), "TLS Server private key must be present and valid");
  }
  flags.key = path("server.key");
  flags.ca_cert = path("ca.pem");
  flags.verify = true;
  auto s = courier::auth::apply_tls_flags(server_settings(R"(, "timeout": 9)"), flags);
  EXPECT_TRUE(s.verify);
  EXPECT_EQ(s.timeout, 2s);
  EXPECT_EQ(s.ca_file, path("ca.pem"));
}

TEST_F(tls_fixture, info_fields) {
  auto s = server_settings();
  auto f = courier::auth::tls_info(s, false);
  EXPECT_TRUE(f.tls_required);
  EXPECT_FALSE(f.tls_verify);
  EXPECT_FALSE(f.tls_available);
  f = courier::auth::tls_info(server_settings(R"(, "verify": true)"), true);
  EXPECT_FALSE(f.tls_required);
  EXPECT_TRUE(f.tls_verify);
  EXPECT_TRUE(f.tls_available);
  f = courier::auth::tls_info(tls_settings{}, true);
  EXPECT_FALSE(f.tls_required || f.tls_verify || f.tls_available);
  EXPECT_TRUE(courier::auth::looks_like_tls_client_hello(0x16));
  EXPECT_FALSE(courier::auth::looks_like_tls_client_hello('C'));
}

TEST_F(tls_fixture, server_only_handshake) {
  auto ctx = courier::auth::make_server_context(server_settings());
  auto out = handshake(*ctx);
  EXPECT_TRUE(out.server_ok);
  EXPECT_TRUE(out.client_ok);
  EXPECT_FALSE(out.peer);  // no client certificate requested
}

TEST_F(tls_fixture, verify_requires_a_trusted_client_certificate) {
  auto ctx = courier::auth::make_server_context(server_settings(R"(, "verify": true)"));
  auto with_cert = handshake(*ctx, "alice");
  EXPECT_TRUE(with_cert.server_ok);
  ASSERT_TRUE(with_cert.peer);
  EXPECT_FALSE(handshake(*ctx).server_ok);               // no certificate
  EXPECT_FALSE(handshake(*ctx, "stranger").server_ok);   // not signed by ca_file
}

TEST_F(tls_fixture, min_version_is_enforced) {
  auto ctx = courier::auth::make_server_context(server_settings(R"(, "min_version": "1.3")"));
  EXPECT_FALSE(handshake(*ctx, "", TLS1_2_VERSION).server_ok);
  auto out = handshake(*ctx);
  EXPECT_TRUE(out.server_ok);
  EXPECT_EQ(out.protocol, "TLSv1.3");
  auto old = courier::auth::make_server_context(server_settings());
  EXPECT_TRUE(handshake(*old, "", TLS1_2_VERSION).server_ok);  // default minimum is 1.2
}

TEST_F(tls_fixture, garbage_instead_of_client_hello_fails_cleanly) {
  auto ctx = courier::auth::make_server_context(server_settings());
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  auto server = std::async(std::launch::async, [&] {
    asio::io_context server_io;
    tcp::socket socket(server_io);
    acceptor.accept(socket);
    ssl::stream<tcp::socket&> stream(socket, *ctx);
    boost::system::error_code ec;
    stream.handshake(ssl::stream_base::server, ec);
    return ec;
  });
  tcp::socket socket(io);
  socket.connect(acceptor.local_endpoint());
  std::string garbage = "CONNECT {\"verbose\":false}\r\nPING\r\n" + std::string(2000, '\x16');
  boost::system::error_code ec;
  asio::write(socket, asio::buffer(garbage), ec);
  socket.shutdown(tcp::socket::shutdown_send, ec);
  auto result = server.get();
  EXPECT_TRUE(result) << "handshake on garbage must fail";
}

TEST_F(tls_fixture, peer_certificate_as_nats_server_reads_it) {
  // Expected strings checked against Go's x509 parsing
  // (cert.Subject.ToRDNSequence().String()), which nats-server uses.
  X509* alice = load_cert("alice.pem");
  ASSERT_NE(alice, nullptr);
  auto a = courier::auth::describe_peer_certificate(alice);
  X509_free(alice);
  EXPECT_EQ(a.emails, std::vector<std::string>{"alice@example.com"});
  EXPECT_EQ(a.dns_names, std::vector<std::string>{"alice.example.com"});
  EXPECT_EQ(a.uris, std::vector<std::string>{"spiffe://example.org/alice"});
  EXPECT_EQ(a.subject, "CN=alice,OU=eng+OU=ops,O=Acme");
  EXPECT_EQ(a.subject_with_dcs, "CN=alice,OU=eng+OU=ops,O=Acme,DC=org,DC=example");
  EXPECT_EQ(a.subject_attributes.size(), 7u);

  X509* bob = load_cert("bob.pem");
  ASSERT_NE(bob, nullptr);
  auto b = courier::auth::describe_peer_certificate(bob);
  X509_free(bob);
  EXPECT_TRUE(b.emails.empty());
  EXPECT_EQ(b.subject, R"(CN=\ #bob,O=Acme\, Inc.,L=San Francisco,ST=CA,C=US)");
  EXPECT_TRUE(b.subject_with_dcs.empty());
  EXPECT_TRUE(courier::auth::describe_peer_certificate(nullptr).subject.empty());
}

TEST_F(tls_fixture, verify_and_map_end_to_end) {
  // Handshake with the client's certificate, then authenticate from it.
  auto settings = server_settings(R"(, "verify_and_map": true)");
  auto ctx = courier::auth::make_server_context(settings);
  auto config = courier::auth::auth_config::build(
      parse_json(R"({"users": [{"user": "alice@example.com", "permissions": {"publish": "alice.>"}},
                         {"user": "CN=\\ #bob,O=Acme\\, Inc.,L=San Francisco,ST=CA,C=US"}]})"),
      parse_json("null"), {}, {}, settings.map, settings.timeout);
  EXPECT_EQ(config->timeout(), 3s);  // TLS timeout + 1 s

  auto alice = handshake(*ctx, "alice");
  ASSERT_TRUE(alice.server_ok && alice.peer);
  courier::auth::client_credentials cred;
  cred.certificate = &*alice.peer;
  auto r = courier::auth::authenticate(*config, cred);
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.user, "alice@example.com");
  ASSERT_NE(r.perms, nullptr);
  EXPECT_FALSE(r.perms->can_publish("bob.x"));

  auto bob = handshake(*ctx, "bob");
  ASSERT_TRUE(bob.server_ok && bob.peer);
  cred.certificate = &*bob.peer;
  r = courier::auth::authenticate(*config, cred);
  ASSERT_TRUE(r.ok) << r.reason;
  EXPECT_EQ(r.user, R"(CN=\ #bob,O=Acme\, Inc.,L=San Francisco,ST=CA,C=US)");
}
