// TLS client settings shared by the SMTP and HTTP clients: building an
// OpenSSL client context and preparing a stream (SNI, host name check).
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <memory>
#include <string>

namespace courier::mss {

/// Builds a client TLS context (TLS 1.2 or newer). With `verify_peer` the
/// server certificate must chain to `ca_file` (PEM) or, when that is empty,
/// to the system's default CA paths. Returns nullptr and sets `error` when
/// the CA file cannot be loaded.
std::shared_ptr<boost::asio::ssl::context> make_client_tls_context(bool verify_peer, const std::string& ca_file,
                                                                    std::string& error);

/// Prepares `stream` (asio::ssl::stream or beast::ssl_stream) for a handshake with `host`: sets SNI (for names, not
/// addresses) and, with `verify_peer`, checks the certificate against the
/// host name or IP address (RFC 6125). Returns false and sets `error` if
/// OpenSSL refuses the settings.
template <class Stream>
bool prepare_tls_stream(Stream& stream, const std::string& host, bool verify_peer,
                        std::string& error);

/// Non-template part of prepare_tls_stream, on the native handle.
bool prepare_tls_handle(SSL* handle, const std::string& host, bool verify_peer, std::string& error);

template <class Stream>
bool prepare_tls_stream(Stream& stream, const std::string& host, bool verify_peer,
                        std::string& error) {
  if (!prepare_tls_handle(stream.native_handle(), host, verify_peer, error)) return false;
  if (verify_peer) {
    stream.set_verify_mode(boost::asio::ssl::verify_peer);
  } else {
    stream.set_verify_mode(boost::asio::ssl::verify_none);
  }
  return true;
}

/// Text of the last OpenSSL error for `ec` from a failed handshake,
/// including certificate verification reasons where OpenSSL gives one.
std::string describe_tls_error(const boost::system::error_code& ec, SSL* handle);

}  // namespace courier::mss
