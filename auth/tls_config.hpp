// The client-port TLS settings (`tls { ... }` and the --tls flags) and the
// OpenSSL server context built from them, plus reading a verified client
// certificate for verify_and_map.
//
//   tls {
//     cert_file, key_file, ca_file   PEM files
//     verify: true                   require and verify a client certificate
//     verify_and_map: true           verify, and take the user from the certificate
//     timeout: 2                     seconds (or "2s") for the handshake
//     cipher_suites: [...]           Go cipher names (TLS 1.2 suites)
//     curve_preferences: [...]       X25519, CurveP256, CurveP384, CurveP521
//     min_version: "1.2" | "1.3"     (nats-server 2.10)
//     handshake_first: true | "300ms" (nats-server 2.10: TLS before INFO)
//   }
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ssl/context.hpp>
#include <openssl/x509.h>
#include <picojson.h>

#include "auth/peer_certificate.hpp"



namespace courier::auth {

/// nats-server TLS_TIMEOUT.
inline constexpr std::chrono::milliseconds default_tls_timeout{2000};
/// -ERR sent (in clear) when the handshake does not finish in time, before
/// closing (server.go tlsTimeout).
inline constexpr std::string_view tls_required_error = "Secure Connection - TLS Required";

/// The parsed `tls` block.
struct tls_settings {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  bool verify = false;  ///< require a client certificate signed by ca_file (or the system roots)
  bool map = false;     ///< verify_and_map: users come from the certificate (implies verify)
  std::chrono::milliseconds timeout = default_tls_timeout;
  /// OpenSSL names of the TLS 1.2 suites, in preference order (translated
  /// from the Go names nats-server takes). Default: nats-server's
  /// defaultCipherSuites. TLS 1.3 suites are not configurable (as in Go).
  std::vector<std::string> ciphers;
  /// OpenSSL group names, in preference order. Default: nats-server's
  /// X25519, P-256, P-384, P-521.
  std::vector<std::string> groups;
  /// Minimum protocol version: 0x0303 (TLS 1.2, the default) or 0x0304.
  int min_version = 0x0303;
  /// handshake_first: the client starts TLS before the server's INFO.
  bool handshake_first = false;
  /// handshake_first with a duration: if no TLS ClientHello arrives within
  /// it, fall back to INFO first (plain or upgrade). nullopt = wait forever
  /// (until `timeout`).
  std::optional<std::chrono::milliseconds> handshake_first_fallback;
  /// Outgoing connections only (leafnode remotes): do not verify the
  /// server's certificate.
  bool insecure = false;
  /// Settings accepted but without effect in Courier (for the log).
  std::vector<std::string> warnings;

  /// TLS is configured (a certificate is set).
  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
};

/// The TLS command-line flags: --tls, --tlscert, --tlskey, --tlscacert,
/// --tlsverify. When --tls or --tlsverify is given they replace the file's
/// tls block (nats-server overrideTLS).
struct tls_flags {
  bool tls = false;
  std::string cert;
  std::string key;
  std::string ca_cert;
  bool verify = false;
};

/// Parses the `tls` block. Throws config_error (nats-server's texts).
tls_settings parse_tls(const picojson::value& value);

/// Applies the flags: unchanged if neither --tls nor --tlsverify is set.
/// Throws config_error when the certificate or key is missing.
tls_settings apply_tls_flags(tls_settings settings, const tls_flags& flags);

/// Builds the server context: loads the certificate chain and key, the CA
/// file, sets verification, ciphers, groups and the minimum version.
/// Throws config_error with OpenSSL's reason when a file does not load.
std::shared_ptr<boost::asio::ssl::context> make_server_context(const tls_settings& settings);

/// Builds the context of an outgoing connection (a leafnode remote): the
/// server's certificate is verified against ca_file (or the system roots)
/// unless `insecure`; cert_file/key_file, when given, are the client
/// certificate. Throws config_error with OpenSSL's reason.
std::shared_ptr<boost::asio::ssl::context> make_client_context(const tls_settings& settings);

/// Prepares `ssl` to connect to `host`: SNI when it is a name (never for
/// addresses), and with `verify` the certificate checked against the host
/// name or IP address (RFC 6125, no partial wildcards). False, with
/// `error` set, when OpenSSL refuses the settings.
bool set_client_peer(SSL* ssl, const std::string& host, bool verify, std::string& error);

/// INFO fields for the client port.
struct tls_info_fields {
  bool tls_required = false;   ///< TLS configured and allow_non_tls off
  bool tls_verify = false;     ///< client certificates are required
  bool tls_available = false;  ///< TLS configured and allow_non_tls on
};
tls_info_fields tls_info(const tls_settings& settings, bool allow_non_tls);

/// With allow_non_tls the server reads the client's first byte: 0x16 (a TLS
/// handshake record) means TLS, anything else plain text (server.go).
inline bool looks_like_tls_client_hello(unsigned char first_byte) { return first_byte == 0x16; }

/// Reads what verify_and_map needs from a (verified) peer certificate:
/// SAN emails, DNS names, URIs and the subject as nats-server prints it.
peer_certificate describe_peer_certificate(X509* certificate);

}  // namespace courier::auth
