#include "auth/tls_config.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

#include "auth/config_error.hpp"
#include "auth/permissions.hpp"  // go_quote
#include "conf/ascii.hpp"
#include "conf/duration.hpp"

namespace courier::auth {

namespace {

/// Go name -> OpenSSL name for every TLS 1.2 suite this OpenSSL offers,
/// derived from OpenSSL's own IANA names (SSL_CIPHER_standard_name) rather
/// than a hand-kept table. Go drops "_SHA256" from the two ChaCha20 suites.
const std::map<std::string, std::string>& openssl_cipher_names() {
  static const std::map<std::string, std::string> names = [] {
    std::map<std::string, std::string> out;
    SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == nullptr) return out;
    SSL_CTX_set_cipher_list(ctx, "ALL:@SECLEVEL=0");
    STACK_OF(SSL_CIPHER)* list = SSL_CTX_get_ciphers(ctx);
    for (int i = 0; list != nullptr && i < sk_SSL_CIPHER_num(list); ++i) {
      const SSL_CIPHER* c = sk_SSL_CIPHER_value(list, i);
      const char* standard = SSL_CIPHER_standard_name(c);
      if (standard == nullptr) continue;
      std::string iana = standard;
      out.emplace(iana, SSL_CIPHER_get_name(c));
      const std::string suffix = "_CHACHA20_POLY1305_SHA256";
      if (iana.size() > suffix.size() && iana.compare(iana.size() - suffix.size(), suffix.size(), suffix) == 0 &&
          iana.rfind("TLS_ECDHE_", 0) == 0) {
        out.emplace(iana.substr(0, iana.size() - 7), SSL_CIPHER_get_name(c));
      }
    }
    SSL_CTX_free(ctx);
    return out;
  }();
  return names;
}

/// The TLS 1.3 suite names Go knows; Go ignores them in CipherSuites.
bool is_tls13_suite(std::string_view name) {
  return name == "TLS_AES_128_GCM_SHA256" || name == "TLS_AES_256_GCM_SHA384" ||
         name == "TLS_CHACHA20_POLY1305_SHA256";
}

/// nats-server's cipherMap keys (ciphersuites.go): only these names are
/// accepted in the config, even where OpenSSL knows more.
bool is_go_cipher_name(std::string_view name) {
  static const char* const known[] = {
      "TLS_RSA_WITH_RC4_128_SHA", "TLS_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_RSA_WITH_AES_128_CBC_SHA",
      "TLS_RSA_WITH_AES_128_CBC_SHA256", "TLS_RSA_WITH_AES_256_CBC_SHA", "TLS_RSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
      "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
      "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
      "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
      "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
      "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
      "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
      "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384",
      "TLS_CHACHA20_POLY1305_SHA256",
  };
  for (const char* k : known) {
    if (name == k) return true;
  }
  return false;
}

std::vector<std::string> default_ciphers() {
  // nats-server defaultCipherSuites, in its order.
  std::vector<std::string> out;
  for (const char* go : {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                         "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
                         "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}) {
    auto it = openssl_cipher_names().find(go);
    if (it != openssl_cipher_names().end()) out.push_back(it->second);
  }
  return out;
}

std::string group_name(std::string_view go_name) {
  if (go_name == "X25519") return "X25519";
  if (go_name == "CurveP256") return "P-256";
  if (go_name == "CurveP384") return "P-384";
  if (go_name == "CurveP521") return "P-521";
  return {};
}

std::string openssl_error() {
  unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "unknown error";
  char buf[256];
  ERR_error_string_n(code, buf, sizeof buf);
  return buf;
}

std::chrono::milliseconds seconds_value(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
}

const std::string& file_name(const picojson::value& v, const char* field) {
  if (!v.is<std::string>()) {
    throw config_error(std::string("error parsing tls config, expected '") + field + "' to be filename");
  }
  return v.get<std::string>();
}

bool boolean(const picojson::value& v, const char* field) {
  if (!v.is<bool>()) throw config_error(std::string("error parsing tls config, expected '") + field + "' to be a boolean");
  return v.get<bool>();
}

}  // namespace

namespace {

/// `timeout`: seconds (integer or float) or a Go duration string.
std::chrono::milliseconds tls_timeout(const picojson::value& v) {
  if (v.is<std::int64_t>()) return seconds_value(static_cast<double>(v.get<std::int64_t>()));
  if (v.is<double>()) return seconds_value(v.get<double>());
  if (!v.is<std::string>()) throw config_error("error parsing tls config, 'timeout' wrong type");
  std::string ignored;  // the message below is nats-server's for this key
  auto d = conf::parse_go_duration(v.get<std::string>(), ignored);
  if (!d) throw config_error("error parsing tls config, 'timeout' time: invalid duration " + go_quote(v.get<std::string>()));
  return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

/// A non-empty array of names, each as text (non-strings as written).
std::vector<std::string> name_list(const picojson::value& v, const char* field) {
  if (!v.is<picojson::array>() || v.get<picojson::array>().empty()) {
    throw config_error(std::string("error parsing tls config, '") + field + "' cannot be empty");
  }
  std::vector<std::string> names;
  for (const auto& item : v.get<picojson::array>()) {
    names.push_back(item.is<std::string>() ? item.get<std::string>() : item.to_str());
  }
  return names;
}

/// `cipher_suites`: Go names, mapped to OpenSSL's; TLS 1.3 suites are not
/// configurable (as in Go) and are skipped.
std::vector<std::string> cipher_suites(const picojson::value& v) {
  std::vector<std::string> ciphers;
  for (const auto& name : name_list(v, "cipher_suites")) {
    if (!is_go_cipher_name(name)) throw config_error("unrecognized cipher " + name);
    if (is_tls13_suite(name)) continue;
    auto it = openssl_cipher_names().find(name);
    if (it == openssl_cipher_names().end()) {
      throw config_error("cipher " + name + " is not available in this OpenSSL build");
    }
    ciphers.push_back(it->second);
  }
  return ciphers;
}

std::vector<std::string> curve_preferences(const picojson::value& v) {
  std::vector<std::string> groups;
  for (const auto& name : name_list(v, "curve_preferences")) {
    auto group = group_name(name);
    if (group.empty()) throw config_error("unrecognized curve preference " + name);
    groups.push_back(group);
  }
  return groups;
}

/// `min_version`: "1.2" or "1.3", as the TLS protocol number.
int min_version(const picojson::value& v) {
  std::string version = v.is<std::string>() ? v.get<std::string>() : v.to_str();
  if (version == "1.2") return 0x0303;
  if (version == "1.3") return 0x0304;
  if (version == "1.0" || version == "1.1") {
    throw config_error("unsupported TLS version: " + version + " (the minimum is 1.2)");
  }
  throw config_error("unknown version: " + version);
}

/// `handshake_first`: a boolean, "auto" (50 ms fallback, nats-server 2.10's
/// DEFAULT_TLS_HANDSHAKE_FIRST_FALLBACK_DELAY) or a fallback duration.
void handshake_first(const picojson::value& v, tls_settings& s) {
  if (v.is<bool>()) {
    s.handshake_first = v.get<bool>();
    return;
  }
  if (!v.is<std::string>()) throw config_error("error parsing tls config, 'handshake_first' wrong type");
  const auto& text = v.get<std::string>();
  s.handshake_first = true;
  if (conf::ascii_lower(text) == "auto") {
    s.handshake_first_fallback = std::chrono::milliseconds(50);
    return;
  }
  std::string ignored;  // the message below is nats-server's for this key
  auto d = conf::parse_go_duration(text, ignored);
  if (!d) throw config_error("error parsing tls config, 'handshake_first' " + go_quote(text) + " is not a boolean or a duration");
  s.handshake_first_fallback = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

/// One key of the tls block into `s`.
void tls_field(const std::string& key, const picojson::value& v, tls_settings& s) {
  auto k = conf::ascii_lower(key);
  if (k == "cert_file") {
    s.cert_file = file_name(v, "cert_file");
  } else if (k == "key_file") {
    s.key_file = file_name(v, "key_file");
  } else if (k == "ca_file") {
    s.ca_file = file_name(v, "ca_file");
  } else if (k == "verify") {
    // verify_and_map also turns verify on; `verify: false` next to it
    // does not turn it off again (nats-server reads keys in any order).
    s.verify = boolean(v, "verify") || s.verify;
  } else if (k == "verify_and_map") {
    s.map = boolean(v, "verify_and_map");
    if (s.map) s.verify = true;
  } else if (k == "insecure") {
    s.insecure = boolean(v, "insecure");
    if (s.insecure) s.warnings.push_back("tls: 'insecure' only applies to outgoing connections; ignored");
  } else if (k == "timeout") {
    s.timeout = tls_timeout(v);
  } else if (k == "cipher_suites") {
    s.ciphers = cipher_suites(v);
  } else if (k == "curve_preferences") {
    s.groups = curve_preferences(v);
  } else if (k == "min_version") {
    s.min_version = min_version(v);
  } else if (k == "handshake_first" || k == "first" || k == "immediate") {
    handshake_first(v, s);
  } else if (k == "connection_rate_limit") {
    s.warnings.push_back("tls: 'connection_rate_limit' is not supported by Courier; ignored");
  } else if (k == "pinned_certs" || k == "verify_cert_and_check_known_urls") {
    // Ignoring either would accept certificates the operator meant to refuse.
    throw config_error("error parsing tls config, '" + key + "' is not supported by Courier yet");
  } else {
    throw config_error("error parsing tls config, unknown field [" + go_quote(key) + "]");
  }
}

}  // namespace

tls_settings parse_tls(const picojson::value& value) {
  if (!value.is<picojson::object>()) throw config_error("error parsing tls config, expected a map");
  const auto& fields = value.get<picojson::object>();
  tls_settings s;
  for (const auto& [key, v] : fields) tls_field(key, v, s);
  auto present = [&](const char* name) {
    return std::any_of(fields.begin(), fields.end(),
                       [&](const auto& field) { return conf::ascii_lower(field.first) == name; });
  };
  if (!present("cipher_suites")) s.ciphers = default_ciphers();
  if (!present("curve_preferences")) s.groups = {"X25519", "P-256", "P-384", "P-521"};
  return s;
}

tls_settings apply_tls_flags(tls_settings settings, const tls_flags& flags) {
  if (!flags.tls && !flags.verify) return settings;
  if (flags.cert.empty()) throw config_error("TLS Server certificate must be present and valid");
  if (flags.key.empty()) throw config_error("TLS Server private key must be present and valid");
  tls_settings s;  // the flags replace the file's block entirely
  s.cert_file = flags.cert;
  s.key_file = flags.key;
  s.ca_file = flags.ca_cert;
  s.verify = flags.verify;
  s.ciphers = default_ciphers();
  s.groups = {"X25519", "P-256", "P-384", "P-521"};
  return s;
}

namespace {

/// What a server and a client context share: the minimum version, the
/// certificate and key (when given; both or neither), the CA file (when
/// given), and the TLS 1.2 suites and groups.
void require_key_pair(const tls_settings& settings) {
  if (!settings.cert_file.empty() && settings.key_file.empty()) {
    throw config_error("missing 'key_file' in TLS configuration");
  }
  if (settings.cert_file.empty() && !settings.key_file.empty()) {
    throw config_error("missing 'cert_file' in TLS configuration");
  }
}

void set_min_version(SSL_CTX* native, const tls_settings& settings) {
  if (SSL_CTX_set_min_proto_version(native, settings.min_version) != 1) {
    throw config_error("tls: cannot set the minimum version: " + openssl_error());
  }
}

void load_key_pair(SSL_CTX* native, const tls_settings& settings) {
  if (settings.cert_file.empty()) return;
  if (SSL_CTX_use_certificate_chain_file(native, settings.cert_file.c_str()) != 1) {
    throw config_error("error parsing X509 certificate/key pair: " + settings.cert_file + ": " + openssl_error());
  }
  if (SSL_CTX_use_PrivateKey_file(native, settings.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw config_error("error parsing X509 certificate/key pair: " + settings.key_file + ": " + openssl_error());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    throw config_error("error parsing X509 certificate/key pair: private key does not match the certificate");
  }
}

/// False when there is no ca_file.
bool load_ca_file(SSL_CTX* native, const tls_settings& settings) {
  if (settings.ca_file.empty()) return false;
  if (SSL_CTX_load_verify_locations(native, settings.ca_file.c_str(), nullptr) != 1) {
    throw config_error("failed to parse root ca certificate: " + settings.ca_file + ": " + openssl_error());
  }
  return true;
}

void set_suites_and_groups(SSL_CTX* native, const tls_settings& settings) {
  const auto joined = [](const std::vector<std::string>& names) {
    std::string list;
    for (const auto& name : names) list += (list.empty() ? "" : ":") + name;
    return list;
  };
  if (!settings.ciphers.empty()) {
    const std::string list = joined(settings.ciphers);
    if (SSL_CTX_set_cipher_list(native, list.c_str()) != 1) {
      throw config_error("tls: no usable cipher suite in " + list + ": " + openssl_error());
    }
  }
  if (!settings.groups.empty()) {
    const std::string list = joined(settings.groups);
    if (SSL_CTX_set1_groups_list(native, list.c_str()) != 1) {
      throw config_error("tls: cannot set curve preferences " + list + ": " + openssl_error());
    }
  }
}

}  // namespace

std::shared_ptr<boost::asio::ssl::context> make_server_context(const tls_settings& settings) {
  namespace ssl = boost::asio::ssl;
  require_key_pair(settings);
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = ctx->native_handle();
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                   ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
  set_min_version(native, settings);
  load_key_pair(native, settings);
  if (load_ca_file(native, settings)) {
    // Tell clients which CAs we accept (Go sends its ClientCAs too).
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings.ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(native, names);
    }
  } else if (settings.verify) {
    SSL_CTX_set_default_verify_paths(native);  // Go falls back to the system roots
  }
  if (settings.verify) {
    ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  set_suites_and_groups(native, settings);
  return ctx;
}

std::shared_ptr<boost::asio::ssl::context> make_client_context(const tls_settings& settings) {
  namespace ssl = boost::asio::ssl;
  require_key_pair(settings);
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX* native = ctx->native_handle();
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  set_min_version(native, settings);
  load_key_pair(native, settings);
  if (!load_ca_file(native, settings)) SSL_CTX_set_default_verify_paths(native);
  ctx->set_verify_mode(settings.insecure ? ssl::verify_none : ssl::verify_peer);
  set_suites_and_groups(native, settings);
  return ctx;
}

bool set_client_peer(SSL* ssl, const std::string& host, bool verify, std::string& error) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  const bool is_address = !ec;
  // SNI carries host names only (RFC 6066 section 3).
  if (!is_address && SSL_set_tlsext_host_name(ssl, host.c_str()) != 1) {
    error = "cannot set TLS server name '" + host + "'";
    return false;
  }
  if (!verify) return true;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int set = is_address ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                             : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (set != 1) {
    error = "cannot set TLS peer name '" + host + "' for verification";
    return false;
  }
  return true;
}

tls_info_fields tls_info(const tls_settings& settings, bool allow_non_tls) {
  tls_info_fields f;
  bool configured = settings.enabled();
  f.tls_required = configured && !allow_non_tls;
  f.tls_verify = configured && settings.verify;
  f.tls_available = configured && allow_non_tls;
  return f;
}

// ---------------------------------------------------------------------------

namespace {

std::string asn1_text(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, s);
  if (n < 0) return {};
  std::string out(reinterpret_cast<char*>(utf8), static_cast<std::size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

std::string oid_text(const ASN1_OBJECT* object) {
  char buf[128];
  int n = OBJ_obj2txt(buf, sizeof buf, object, 1);
  return n > 0 ? std::string(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1)) : std::string();
}

/// Go's RDNSequence.String() value escaping.
std::string escape_value(const std::string& value) {
  std::string out;
  for (std::size_t k = 0; k < value.size(); ++k) {
    char c = value[k];
    bool escape = false;
    switch (c) {
      case ',': case '+': case '"': case '\\': case '<': case '>': case ';':
        escape = true;
        break;
      case ' ':
        escape = k == 0 || k == value.size() - 1;
        break;
      case '#':
        escape = k == 0;
        break;
      default:
        break;
    }
    if (escape) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

/// Short names for the types the DN matching compares.
std::string attribute_type(const std::string& oid) {
  static const std::map<std::string, std::string> names = {
      {"2.5.4.6", "C"},   {"2.5.4.10", "O"},        {"2.5.4.11", "OU"},
      {"2.5.4.3", "CN"},  {"2.5.4.5", "SERIALNUMBER"}, {"2.5.4.7", "L"},
      {"2.5.4.8", "ST"},  {"2.5.4.9", "STREET"},    {"2.5.4.17", "POSTALCODE"},
      {"0.9.2342.19200300.100.1.25", "DC"}, {"0.9.2342.19200300.100.1.1", "UID"},
      {"1.2.840.113549.1.9.1", "EMAILADDRESS"},
  };
  auto it = names.find(oid);
  return it == names.end() ? oid : it->second;
}

}  // namespace

peer_certificate describe_peer_certificate(X509* certificate) {
  peer_certificate out;
  if (certificate == nullptr) return out;

  auto* sans = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(certificate, NID_subject_alt_name, nullptr, nullptr));
  if (sans != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
      switch (name->type) {
        case GEN_EMAIL: out.emails.push_back(asn1_text(name->d.rfc822Name)); break;
        case GEN_DNS: out.dns_names.push_back(asn1_text(name->d.dNSName)); break;
        case GEN_URI: out.uris.push_back(asn1_text(name->d.uniformResourceIdentifier)); break;
        default: break;
      }
    }
    GENERAL_NAMES_free(sans);
  }

  // nats-server prints cert.Subject.ToRDNSequence().String(): Go's parsed
  // Name rebuilt in a fixed order (C, ST, L, STREET, POSTALCODE, O, OU, CN,
  // SERIALNUMBER; several values of one type form one RDN joined by '+';
  // only the last CN), other attributes dropped, then printed last-first.
  const X509_NAME* subject = X509_get_subject_name(certificate);
  std::map<std::string, std::vector<std::string>> by_oid;
  std::vector<std::string> dcs;
  for (int i = 0; subject != nullptr && i < X509_NAME_entry_count(subject); ++i) {
    const X509_NAME_ENTRY* entry = X509_NAME_get_entry(subject, i);
    std::string oid = oid_text(X509_NAME_ENTRY_get_object(entry));
    std::string value = asn1_text(X509_NAME_ENTRY_get_data(entry));
    by_oid[oid].push_back(value);
    if (oid == "0.9.2342.19200300.100.1.25") dcs.push_back("DC=" + value);
    out.subject_attributes.emplace_back(attribute_type(oid), value);
  }
  struct part {
    const char* oid;
    const char* name;
  };
  static constexpr part order[] = {
      {"2.5.4.6", "C"},      {"2.5.4.8", "ST"},  {"2.5.4.7", "L"},  {"2.5.4.9", "STREET"},
      {"2.5.4.17", "POSTALCODE"}, {"2.5.4.10", "O"}, {"2.5.4.11", "OU"}, {"2.5.4.3", "CN"},
      {"2.5.4.5", "SERIALNUMBER"},
  };
  std::vector<std::string> rdns;
  for (const auto& p : order) {
    auto it = by_oid.find(p.oid);
    if (it == by_oid.end() || it->second.empty()) continue;
    std::vector<std::string> values = it->second;
    if (std::string_view(p.name) == "CN" || std::string_view(p.name) == "SERIALNUMBER") {
      values = {values.back()};  // Go keeps one CommonName/SerialNumber, the last
    }
    std::string rdn;
    for (const auto& v : values) {
      if (!rdn.empty()) rdn.push_back('+');
      rdn += std::string(p.name) + "=" + escape_value(v);
    }
    rdns.push_back(rdn);
  }
  for (auto it = rdns.rbegin(); it != rdns.rend(); ++it) {
    if (!out.subject.empty()) out.subject.push_back(',');
    out.subject += *it;
  }
  if (!dcs.empty()) {
    out.subject_with_dcs = out.subject;
    for (const auto& dc : dcs) out.subject_with_dcs += "," + dc;
  }
  return out;
}

}  // namespace courier::auth
