#include "monitor/http_server.hpp"

#include <ctime>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "broker/transport/tcp_listen.hpp"

namespace courier::monitor {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

http::response<http::string_body> make_response(const http_reply& reply, unsigned version, bool keep_alive) {
  http::response<http::string_body> response{static_cast<http::status>(reply.status), version};
  response.set(http::field::content_type, reply.content_type);
  if (reply.status == 404) response.set("X-Content-Type-Options", "nosniff");
  response.set(http::field::date, http_date(std::chrono::system_clock::now()));
  response.keep_alive(keep_alive);
  response.body() = reply.body;
  response.prepare_payload();
  return response;
}

/// Serves requests on one connection (plain or TLS) until it ends.
template <typename Stream>
asio::awaitable<void> serve(Stream& stream, const http_server::handler& on_request) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(http_server::max_request_bytes));
    parser.body_limit(http_server::max_request_bytes);
    beast::get_lowest_layer(stream).expires_after(http_server::io_timeout);
    auto [read_error, read_bytes] = co_await http::async_read(stream, buffer, parser, use_tuple);
    (void)read_bytes;
    if (read_error) {
      if (read_error == http::error::header_limit || read_error == http::error::body_limit) {
        auto response = make_response({431, "text/plain; charset=utf-8", "request too large\n"}, 11, false);
        co_await http::async_write(stream, response, use_tuple);
      } else if (read_error != http::error::end_of_stream && read_error != beast::error::timeout &&
                 read_error != asio::error::eof && read_error != asio::error::connection_reset &&
                 read_error != asio::error::operation_aborted) {
        auto response = make_response({400, "text/plain; charset=utf-8", "400 Bad Request"}, 11, false);
        co_await http::async_write(stream, response, use_tuple);
      }
      co_return;
    }
    const auto& request = parser.get();
    http_reply reply;
    try {
      reply = on_request(request.method_string(), request.target());
    } catch (const std::exception& error) {
      reply = {500, "text/plain; charset=utf-8", std::string(error.what()) + "\n"};
    }
    const bool keep_alive = request.keep_alive();
    auto response = make_response(reply, request.version(), keep_alive);
    beast::get_lowest_layer(stream).expires_after(http_server::io_timeout);
    auto [write_error, written] = co_await http::async_write(stream, response, use_tuple);
    (void)written;
    if (write_error || !keep_alive) co_return;
  }
}

asio::awaitable<void> serve_plain(tcp::socket socket, http_server::handler on_request) {
  beast::tcp_stream stream(std::move(socket));
  co_await serve(stream, on_request);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> serve_tls(tcp::socket socket, std::shared_ptr<asio::ssl::context> tls,
                                http_server::handler on_request) {
  beast::ssl_stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
  beast::get_lowest_layer(stream).expires_after(http_server::io_timeout);
  auto [handshake_error] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
  if (handshake_error) co_return;
  co_await serve(stream, on_request);
  beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
  co_await stream.async_shutdown(use_tuple);
}

}  // namespace

struct http_server::listener {
  listener(asio::io_context& context, tcp::endpoint endpoint) : acceptor(context) {
    boost::system::error_code ec;
    broker::listen_tcp(acceptor, endpoint, ec);
    if (ec) throw boost::system::system_error(ec);
  }
  tcp::acceptor acceptor;
  std::shared_ptr<asio::ssl::context> tls;
};

http_server::http_server(handler on_request) : on_request_(std::move(on_request)) {}

http_server::~http_server() { stop(); }

std::uint16_t http_server::listen(const std::string& host, std::int64_t port,
                                  std::shared_ptr<asio::ssl::context> tls) {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) {
    // A name: resolve it once.
    tcp::resolver resolver(context_);
    auto results = resolver.resolve(host, "", ec);
    if (ec || results.empty()) throw std::runtime_error("can't resolve monitoring host " + host);
    address = results.begin()->endpoint().address();
  }
  const auto chosen = port < 0 ? 0 : static_cast<std::uint16_t>(port);
  std::shared_ptr<listener> entry;
  try {
    entry = std::make_shared<listener>(context_, tcp::endpoint(address, chosen));
  } catch (const boost::system::system_error& error) {
    throw std::runtime_error("can't listen to the monitor port: listen tcp " + host + ":" + std::to_string(port) +
                             ": " + error.code().message());
  }
  entry->tls = std::move(tls);
  listeners_.push_back(entry);
  return entry->acceptor.local_endpoint().port();
}

void http_server::run() {
  for (auto& entry : listeners_) {
    asio::co_spawn(
        context_,
        [entry, on_request = on_request_]() -> asio::awaitable<void> {
          for (;;) {
            auto [ec, socket] = co_await entry->acceptor.async_accept(use_tuple);
            if (ec == asio::error::operation_aborted || !entry->acceptor.is_open()) co_return;
            if (ec) continue;  // a connection that failed before we took it
            if (entry->tls) {
              asio::co_spawn(entry->acceptor.get_executor(), serve_tls(std::move(socket), entry->tls, on_request),
                             asio::detached);
            } else {
              asio::co_spawn(entry->acceptor.get_executor(), serve_plain(std::move(socket), on_request),
                             asio::detached);
            }
          }
        },
        asio::detached);
  }
  thread_ = std::thread([this] { context_.run(); });
}

void http_server::stop() {
  if (!thread_.joinable()) return;
  asio::post(context_, [this] {
    for (auto& entry : listeners_) {
      boost::system::error_code ignored;
      entry->acceptor.close(ignored);
    }
  });
  // Open connections end with the context: their coroutines are destroyed
  // with it, which closes their sockets.
  context_.stop();
  thread_.join();
}

std::string http_date(std::chrono::system_clock::time_point when) {
  const std::time_t t = std::chrono::system_clock::to_time_t(when);
  std::tm parts{};
  gmtime_r(&t, &parts);
  char text[64];
  std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &parts);
  return text;
}

}  // namespace courier::monitor
