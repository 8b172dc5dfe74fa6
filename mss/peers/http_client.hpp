// HTTP/1.1 client on Beast for webhook and SMS-gateway targets: http and
// https (OpenSSL), any method, extra headers, a body; one request per
// connection; a single deadline covering resolve, connect, TLS, write and
// read.
//
// Concurrency: each request runs on its own strand of the given executor;
// any number may run in parallel; no thread ever blocks. The callback is
// invoked exactly once, on that strand.
//
// Safety: method, header names and header values are validated before any
// connection is made; CR, LF or NUL in them (or a method that is not an
// HTTP token) yields http_error::invalid_request, so a malformed or
// smuggled request is never sent.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace courier::mss {

/// What to send.
struct http_request {
  std::string method = "POST";  ///< HTTP method (a token: GET, POST, PUT, ...)
  std::string url;              ///< http:// or https:// URL
  std::vector<std::pair<std::string, std::string>> headers;  ///< extra headers
  std::string body;             ///< request body (Content-Length is set)
};

/// How to send it.
struct http_options {
  std::chrono::milliseconds timeout{10000};  ///< deadline for the whole exchange
  bool verify_peer = true;                   ///< verify the https server certificate and name
  std::string ca_file;                       ///< PEM CA bundle; empty = system default paths
  std::size_t max_response_body = 1 << 20;   ///< larger responses fail with protocol_error
  /// Optional shared TLS context (see smtp_options::tls_context).
  std::shared_ptr<boost::asio::ssl::context> tls_context;
};

/// Why an exchange failed (transport level; HTTP statuses are not errors).
enum class http_error {
  none,             ///< a response was received (any status)
  invalid_request,  ///< refused locally: bad URL, method or header
  resolve_failed,   ///< host name did not resolve
  connect_failed,   ///< TCP connect failed
  timeout,          ///< the deadline passed
  tls_failed,       ///< TLS handshake failed
  protocol_error,   ///< malformed or oversized response
  io_error          ///< connection lost or other socket error
};

/// Short stable name of an error ("timeout", ...).
const char* to_string(http_error error);

/// Outcome of one exchange.
struct http_result {
  http_error error = http_error::none;  ///< none when a response arrived
  int status = 0;                       ///< HTTP status code (0 without a response)
  std::string body;                     ///< response body
  std::vector<std::pair<std::string, std::string>> headers;  ///< response headers
  std::string message;                  ///< human-readable detail on failure
  /// A response arrived.
  bool ok() const { return error == http_error::none; }
  /// A 2xx response arrived.
  bool success() const { return ok() && status >= 200 && status < 300; }
};

/// Completion callback; called exactly once.
using http_callback = std::function<void(http_result)>;

/// Performs `request`; `done` runs on a strand of `executor`.
void async_http_request(boost::asio::any_io_executor executor, http_request request, http_options options,
                        http_callback done);

/// Future-returning form; some other thread must run the io_context.
std::future<http_result> http_request_future(boost::asio::any_io_executor executor, http_request request,
                                             http_options options);

/// Empty when `request`'s method and headers are safe to send, else why not.
std::string validate_http_request(const http_request& request);

}  // namespace courier::mss
