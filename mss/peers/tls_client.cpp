#include "mss/peers/tls_client.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "auth/tls_config.hpp"

namespace courier::mss {

namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> make_client_tls_context(bool verify_peer, const std::string& ca_file,
                                                     std::string& error) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_client);
  // TLS 1.0/1.1 are deprecated (RFC 8996).
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  if (verify_peer) {
    boost::system::error_code ec;
    if (ca_file.empty()) {
      context->set_default_verify_paths(ec);
    } else {
      context->load_verify_file(ca_file, ec);
    }
    if (ec) {
      error = "cannot load CA certificates" + (ca_file.empty() ? std::string() : " from '" + ca_file + "'") + ": " +
              ec.message();
      return nullptr;
    }
    context->set_verify_mode(ssl::verify_peer);
  } else {
    context->set_verify_mode(ssl::verify_none);
  }
  return context;
}

bool prepare_tls_handle(SSL* handle, const std::string& host, bool verify_peer, std::string& error) {
  return auth::set_client_peer(handle, host, verify_peer, error);
}

std::string describe_tls_error(const boost::system::error_code& ec, SSL* handle) {
  std::string text = ec.message();
  if (handle != nullptr) {
    const long verify = SSL_get_verify_result(handle);
    if (verify != X509_V_OK) {
      text += " (certificate: ";
      text += X509_verify_cert_error_string(verify);
      text += ")";
    }
  }
  return text;
}

}  // namespace courier::mss
