#include "broker/websocket/listener.hpp"

#include <future>
#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>

#include "broker/event_loop.hpp"
#include "broker/logger.hpp"
#include "broker/transport/tcp_listen.hpp"
#include "broker/websocket/tls_stream.hpp"

namespace courier::broker::websocket {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
/// Largest upgrade request read (headers and any body of a refused request).
/// Go's http.Server allows 1 MiB of headers; a WebSocket upgrade needs a few hundred bytes.
constexpr std::uint32_t max_request_bytes = 64 * 1024;
}  // namespace

struct listener::shared {
  loop_picker pick_loop;
  upgrade_settings settings;
  std::chrono::milliseconds handshake_timeout;
  upgraded_handler on_upgraded;
  std::shared_ptr<asio::ssl::context> tls;  ///< null: ws://
  std::chrono::milliseconds tls_timeout;
};

namespace {

/// One connection's HTTP exchange until it upgrades (true: the 101 went out
/// and `result` says what was agreed) or ends (Go's http.Server keeps a
/// refused HTTP/1.1 connection open for another request). `Stream` is a
/// beast::tcp_stream (ws://) or a tls_stream (wss://).
template <class Stream>
asio::awaitable<bool> upgrade_exchange(Stream& stream, const std::string& address, listener::shared& state,
                                       upgrade_result& result) {
  error_code ignored;
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(max_request_bytes);
    parser.body_limit(max_request_bytes);
    if (state.handshake_timeout.count() > 0) {
      stream.expires_after(state.handshake_timeout);
    } else {
      stream.expires_never();
    }
    auto [read_error, read_bytes] = co_await http::async_read(stream, buffer, parser, use_tuple);
    (void)read_bytes;
    if (read_error) {
      const bool quiet = read_error == http::error::end_of_stream || read_error == beast::error::timeout ||
                         read_error == asio::error::eof || read_error == asio::error::connection_reset ||
                         read_error == asio::error::operation_aborted;
      if (!quiet) co_await asio::async_write(stream, asio::buffer(malformed_request_response), use_tuple);
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return false;
    }
    const auto& request = parser.get();
    if (request.version() == 11 && request.find(http::field::host) == request.end()) {
      co_await asio::async_write(stream, asio::buffer(missing_host_response), use_tuple);
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return false;
    }
    result = check_upgrade(request, state.settings, std::chrono::system_clock::now());
    if (!result.accepted) {
      log().error(address, " - websocket handshake error: ", result.reason);
      auto [write_error, written] = co_await asio::async_write(stream, asio::buffer(result.response), use_tuple);
      (void)written;
      if (write_error || !result.keep_alive) {
        stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
        co_return false;
      }
      continue;
    }
    if (buffer.size() > 0) {
      // nats-server closes without an answer.
      log().error(address, " - websocket handshake error: client sent data before handshake is complete");
      co_return false;
    }
    auto [write_error, written] = co_await asio::async_write(stream, asio::buffer(result.response), use_tuple);
    (void)written;
    if (write_error) co_return false;
    stream.expires_never();
    co_return true;
  }
}

asio::awaitable<void> upgrade_session(tcp::socket socket, event_loop& loop, std::shared_ptr<listener::shared> state) {
  error_code ignored;
  const auto peer = socket.remote_endpoint(ignored);
  const std::string address = peer.address().to_string() + ":" + std::to_string(peer.port());
  upgrade_result result;
  if (!state->tls) {
    beast::tcp_stream stream(std::move(socket));
    if (co_await upgrade_exchange(stream, address, *state, result))
      state->on_upgraded(stream.release_socket(), nullptr, loop, result);
    co_return;
  }
  // wss://: the TLS handshake first, within the TLS timeout (as nats-server).
  tls_stream stream(std::move(socket), state->tls->native_handle());
  stream.expires_after(state->tls_timeout);
  auto [handshake_error, unused] = co_await stream.async_handshake(use_tuple);
  (void)unused;
  if (handshake_error) {
    log().error(address, " - websocket TLS handshake error: ",
                handshake_error == beast::error::timeout ? std::string("timeout") : handshake_error.message());
    stream.socket().close(ignored);
    co_return;
  }
  if (co_await upgrade_exchange(stream, address, *state, result)) {
    SSL* ssl = stream.release_ssl();
    state->on_upgraded(std::move(stream.socket()), ssl, loop, result);
  }
}

}  // namespace

listener::listener(event_loop& accept_loop, loop_picker pick_loop, upgrade_settings settings,
                   std::chrono::milliseconds handshake_timeout, upgraded_handler on_upgraded,
                   std::shared_ptr<boost::asio::ssl::context> tls, std::chrono::milliseconds tls_timeout)
    : accept_loop_(accept_loop),
      shared_(std::make_shared<shared>(shared{std::move(pick_loop), std::move(settings), handshake_timeout,
                                              std::move(on_upgraded), std::move(tls), tls_timeout})) {}

listener::~listener() = default;

void listener::listen(const std::string& host, int port) {
  error_code ec;
  auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec) throw std::runtime_error("Unable to listen for websocket connections: bad address " + host);
  tcp::endpoint endpoint(address, static_cast<std::uint16_t>(port < 0 ? 0 : port));
  acceptor_ = std::make_unique<tcp::acceptor>(accept_loop_.context());
  listen_tcp(*acceptor_, endpoint, ec);
  if (ec) {
    acceptor_.reset();
    throw std::runtime_error("Unable to listen for websocket connections: listen tcp " + host + ":" +
                             std::to_string(port) + ": " + ec.message());
  }
  port_ = acceptor_->local_endpoint().port();
}

void listener::start() {
  if (acceptor_) asio::post(accept_loop_.context(), [this] { do_accept(); });
}

void listener::do_accept() {
  if (!acceptor_ || !acceptor_->is_open()) return;
  event_loop& target = shared_->pick_loop();
  acceptor_->async_accept(target.context(), [this, &target](const error_code& ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
      log().error("Error accepting websocket connection: ", ec.message());
      do_accept();
      return;
    }
    asio::co_spawn(target.context(), upgrade_session(std::move(socket), target, shared_), asio::detached);
    do_accept();
  });
}

void listener::close() {
  if (!acceptor_) return;
  if (accept_loop_.in_this_thread()) {
    error_code ignored;
    acceptor_->close(ignored);
    return;
  }
  std::promise<void> closed;
  asio::post(accept_loop_.context(), [this, &closed] {
    error_code ignored;
    acceptor_->close(ignored);
    closed.set_value();
  });
  closed.get_future().wait();
}

}  // namespace courier::broker::websocket
