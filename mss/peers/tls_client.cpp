#include "mss/peers/tls_client.hpp"

#include <boost/asio/ip/address.hpp>
#include <openssl/err.h>
#include <openssl/x509v3.h>

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
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  const bool is_address = !ec;
  // SNI carries host names only (RFC 6066 section 3).
  if (!is_address && SSL_set_tlsext_host_name(handle, host.c_str()) != 1) {
    error = "cannot set TLS server name '" + host + "'";
    return false;
  }
  if (verify_peer) {
    X509_VERIFY_PARAM* param = SSL_get0_param(handle);
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    const int set = is_address ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                               : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    if (set != 1) {
      error = "cannot set TLS peer name '" + host + "' for verification";
      return false;
    }
  }
  (void)address;
  return true;
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
