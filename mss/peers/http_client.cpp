#include "mss/peers/http_client.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <optional>

#include "mss/common/template.hpp"
#include "mss/peers/awaitable.hpp"
#include "mss/peers/tls_client.hpp"
#include "mss/peers/url.hpp"

namespace courier::mss {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {


/// RFC 9110 section 5.6.2 token characters.
bool is_token(std::string_view text) {
  if (text.empty()) return false;
  for (unsigned char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
    if (!ok) return false;
  }
  return true;
}

class http_session : public std::enable_shared_from_this<http_session> {
 public:
  http_session(asio::any_io_executor executor, http_request request, http_options options)
      : strand_(asio::make_strand(executor)),
        request_(std::move(request)),
        options_(std::move(options)),
        resolver_(strand_),
        watchdog_(strand_) {}

  void start(http_callback done) {
    auto self = shared_from_this();
    asio::co_spawn(strand_, run(), [self, done = std::move(done)](std::exception_ptr error, http_result result) {
      self->watchdog_.cancel();
      if (error) {
        result = {};
        result.error = http_error::io_error;
        try {
          std::rethrow_exception(error);
        } catch (const std::exception& e) {
          result.message = std::string("internal error: ") + e.what();
        } catch (...) {
          result.message = "internal error";
        }
      }
      done(std::move(result));
    });
  }

 private:
  static http_result fail(http_error error, std::string message) {
    http_result result;
    result.error = error;
    result.message = std::move(message);
    return result;
  }

  http_result timeout_result(const std::string& stage) const {
    return fail(http_error::timeout, "request to " + request_.url + " timed out after " +
                                         std::to_string(options_.timeout.count()) + " ms during " + stage);
  }

  asio::awaitable<http_result> run() {
    if (std::string why = validate_http_request(request_); !why.empty())
      co_return fail(http_error::invalid_request, why);
    std::string error;
    if (!parse_http_url(request_.url, url_, error)) co_return fail(http_error::invalid_request, error);

    http::request<http::string_body> message;
    const http::verb verb = http::string_to_verb(request_.method);
    if (verb == http::verb::unknown) {
      message.method_string(request_.method);
    } else {
      message.method(verb);
    }
    message.target(url_.target);
    message.version(11);
    message.set(http::field::host, url_.host_header());
    message.set(http::field::user_agent, "courier-mss/0.1");
    for (const auto& [name, value] : request_.headers) message.insert(name, value);
    message.body() = request_.body;
    if (!request_.body.empty() || verb == http::verb::post || verb == http::verb::put ||
        verb == http::verb::patch)
      message.prepare_payload();

    deadline_ = std::chrono::steady_clock::now() + options_.timeout;

    // The resolver has no built-in deadline: a watchdog cancels it.
    watchdog_.expires_at(deadline_);
    watchdog_.async_wait([self = shared_from_this()](error_code ec) {
      if (ec) return;
      self->resolve_timed_out_ = true;
      self->resolver_.cancel();
    });
    auto [resolve_ec, endpoints] = co_await resolver_.async_resolve(url_.host, std::to_string(url_.port), use_tuple);
    watchdog_.cancel();
    if (resolve_ec) {
      if (resolve_timed_out_) co_return timeout_result("resolve");
      co_return fail(http_error::resolve_failed, "cannot resolve '" + url_.host + "': " + resolve_ec.message());
    }

    if (!url_.tls) {
      beast::tcp_stream stream(strand_);
      co_return co_await exchange(stream, stream, endpoints, message, nullptr);
    }
    auto context = options_.tls_context;
    if (!context) {
      context = make_client_tls_context(options_.verify_peer, options_.ca_file, error);
      if (!context) co_return fail(http_error::tls_failed, error);
    }
    beast::ssl_stream<beast::tcp_stream> stream(strand_, *context);
    if (!prepare_tls_stream(stream, url_.host, options_.verify_peer, error))
      co_return fail(http_error::tls_failed, error);
    co_return co_await exchange(stream, beast::get_lowest_layer(stream), endpoints, message, stream.native_handle());
  }

  template <class Stream>
  asio::awaitable<http_result> exchange(Stream& stream, beast::tcp_stream& lowest, const tcp::resolver::results_type& endpoints,
                                        http::request<http::string_body>& message, SSL* tls_handle) {
    // One deadline for everything after resolve: the tcp_stream timer
    // covers every operation started until it is changed.
    lowest.expires_at(deadline_);
    const std::string target = url_.host + ":" + std::to_string(url_.port);
    auto [connect_ec, endpoint] = co_await lowest.async_connect(endpoints, use_tuple);
    (void)endpoint;
    if (connect_ec) {
      if (connect_ec == beast::error::timeout) co_return timeout_result("connect");
      co_return fail(http_error::connect_failed, "cannot connect to " + target + ": " + connect_ec.message());
    }
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      auto [handshake_ec] = co_await stream.async_handshake(ssl::stream_base::client, use_tuple);
      if (handshake_ec) {
        if (handshake_ec == beast::error::timeout) co_return timeout_result("TLS handshake");
        co_return fail(http_error::tls_failed, "TLS handshake with " + target +
                                                   " failed: " + describe_tls_error(handshake_ec, tls_handle));
      }
    }
    auto [write_ec, written] = co_await http::async_write(stream, message, use_tuple);
    (void)written;
    if (write_ec) {
      if (write_ec == beast::error::timeout) co_return timeout_result("write");
      co_return fail(http_error::io_error, "sending request to " + target + " failed: " + write_ec.message());
    }
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(options_.max_response_body);
    // A HEAD response announces a body it does not send (RFC 9110 9.3.2).
    if (message.method() == http::verb::head) parser.skip(true);
    auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, use_tuple);
    (void)read;
    if (read_ec) {
      if (read_ec == beast::error::timeout) co_return timeout_result("read");
      if (read_ec == http::error::body_limit)
        co_return fail(http_error::protocol_error, "response body from " + target + " exceeds " +
                                                       std::to_string(options_.max_response_body) + " bytes");
      if (read_ec == asio::error::eof || read_ec == http::error::end_of_stream ||
          read_ec == http::error::partial_message || read_ec == asio::error::connection_reset)
        co_return fail(http_error::io_error, target + " closed the connection without a complete response: " +
                                                 read_ec.message());
      co_return fail(http_error::protocol_error, "bad response from " + target + ": " + read_ec.message());
    }
    auto response = parser.release();
    http_result result;
    result.status = static_cast<int>(response.result_int());
    result.body = std::move(response.body());
    for (const auto& field : response) result.headers.emplace_back(field.name_string(), field.value());
    error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_both, ignored);
    lowest.close();
    co_return result;
  }

  asio::strand<asio::any_io_executor> strand_;
  http_request request_;
  http_options options_;
  http_url url_;
  tcp::resolver resolver_;
  asio::steady_timer watchdog_;
  std::chrono::steady_clock::time_point deadline_;
  bool resolve_timed_out_ = false;
};

}  // namespace

const char* to_string(http_error error) {
  switch (error) {
    case http_error::none: return "ok";
    case http_error::invalid_request: return "invalid_request";
    case http_error::resolve_failed: return "resolve_failed";
    case http_error::connect_failed: return "connect_failed";
    case http_error::timeout: return "timeout";
    case http_error::tls_failed: return "tls_failed";
    case http_error::protocol_error: return "protocol_error";
    case http_error::io_error: return "io_error";
  }
  return "unknown";
}

std::string validate_http_request(const http_request& request) {
  if (!is_token(request.method)) return "invalid HTTP method '" + request.method + "'";
  for (const auto& [name, value] : request.headers) {
    if (has_line_break(name) || has_line_break(value))
      return "CR/LF in HTTP header '" + name + "' is not allowed (header injection)";
    if (!is_token(name)) return "invalid HTTP header name '" + name + "'";
    for (unsigned char c : value)
      if ((c < 32 && c != '\t') || c == 127) return "control character in HTTP header '" + name + "'";
  }
  return {};
}

void async_http_request(asio::any_io_executor executor, http_request request, http_options options,
                        http_callback done) {
  auto session = std::make_shared<http_session>(std::move(executor), std::move(request), std::move(options));
  session->start(std::move(done));
}

std::future<http_result> http_request_future(asio::any_io_executor executor, http_request request,
                                             http_options options) {
  auto promise = std::make_shared<std::promise<http_result>>();
  auto future = promise->get_future();
  async_http_request(std::move(executor), std::move(request), std::move(options),
                     [promise](http_result result) { promise->set_value(std::move(result)); });
  return future;
}

}  // namespace courier::mss
