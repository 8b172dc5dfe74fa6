// The wss:// side of a WebSocket upgrade: TLS driven by hand on the
// socket's descriptor (SSL_accept/SSL_read/SSL_write, readiness waits in
// between), as the connection's transports do, so that the SSL object the
// upgrade ends with is handed to the connection's websocket_transport as
// it is. asio::ssl::stream would keep its records in a BIO pair of its own,
// which no non-blocking transport could take over.
//
// It is a Beast AsyncReadStream and AsyncWriteStream (for http::async_read
// and the response), with a deadline like beast::tcp_stream's: once it
// passes, waits are cancelled and operations fail with beast::error::timeout.
// One coroutine uses it at a time.
#pragma once

#include <openssl/ssl.h>

#include <chrono>
#include <climits>
#include <cstddef>
#include <utility>

#include <boost/asio/compose.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <openssl/err.h>

namespace courier::broker::websocket {

class tls_stream {
 public:
  using executor_type = boost::asio::ip::tcp::socket::executor_type;
  using error_code = boost::system::error_code;

  /// Takes the socket; `context` must outlive the handshake.
  tls_stream(boost::asio::ip::tcp::socket socket, SSL_CTX* context)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), ssl_(SSL_new(context)) {
    error_code ignored;
    socket_.non_blocking(true, ignored);
    if (ssl_ != nullptr) {
      SSL_set_fd(ssl_, socket_.native_handle());
      SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
  }
  ~tls_stream() {
    if (ssl_ != nullptr) SSL_free(ssl_);
  }
  tls_stream(const tls_stream&) = delete;
  tls_stream& operator=(const tls_stream&) = delete;

  executor_type get_executor() { return socket_.get_executor(); }
  boost::asio::ip::tcp::socket& socket() { return socket_; }

  /// After the deadline, pending and later operations fail with timeout.
  void expires_after(std::chrono::steady_clock::duration after) {
    timed_out_ = false;
    timer_.expires_after(after);
    timer_.async_wait([this](const error_code& error) {
      if (error) return;
      timed_out_ = true;
      error_code ignored;
      socket_.cancel(ignored);
    });
  }
  void expires_never() { timer_.cancel(); }

  /// The server side of the handshake.
  template <class Token>
  auto async_handshake(Token&& token) {
    return run([this](std::size_t&) { return SSL_accept(ssl_); }, std::forward<Token>(token));
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    const boost::asio::mutable_buffer first = *boost::asio::buffer_sequence_begin(buffers);
    return run(
        [this, first](std::size_t& done) {
          if (first.size() == 0) return 1;
          const int n = SSL_read(ssl_, first.data(), static_cast<int>(std::min<std::size_t>(first.size(), INT_MAX)));
          if (n > 0) done = static_cast<std::size_t>(n);
          return n;
        },
        std::forward<Token>(token));
  }

  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    const boost::asio::const_buffer first = *boost::asio::buffer_sequence_begin(buffers);
    return run(
        [this, first](std::size_t& done) {
          if (first.size() == 0) return 1;
          const int n = SSL_write(ssl_, first.data(), static_cast<int>(std::min<std::size_t>(first.size(), INT_MAX)));
          if (n > 0) done = static_cast<std::size_t>(n);
          return n;
        },
        std::forward<Token>(token));
  }

  /// Gives up the SSL object (for the connection's transport).
  SSL* release_ssl() { return std::exchange(ssl_, nullptr); }

 private:
  /// Runs `step` (an OpenSSL call returning > 0 on success) until it
  /// succeeds or fails, waiting for the socket in between.
  template <class Step, class Token>
  auto run(Step step, Token&& token) {
    enum class state { start, posted, waiting };
    return boost::asio::async_compose<Token, void(error_code, std::size_t)>(
        [this, step, st = state::start](auto& self, error_code wait_error = {}) mutable {
          if (st == state::start) {  // never complete inside the initiating call
            st = state::posted;
            return boost::asio::post(socket_.get_executor(), std::move(self));
          }
          if (timed_out_) return self.complete(boost::beast::error::timeout, 0);
          if (wait_error) return self.complete(wait_error, 0);
          if (ssl_ == nullptr) return self.complete(boost::asio::error::no_memory, 0);
          std::size_t done = 0;
          ERR_clear_error();
          const int result = step(done);
          if (result > 0) return self.complete({}, done);
          switch (SSL_get_error(ssl_, result)) {
            case SSL_ERROR_WANT_READ:
              st = state::waiting;
              return socket_.async_wait(boost::asio::ip::tcp::socket::wait_read, std::move(self));
            case SSL_ERROR_WANT_WRITE:
              st = state::waiting;
              return socket_.async_wait(boost::asio::ip::tcp::socket::wait_write, std::move(self));
            case SSL_ERROR_ZERO_RETURN:
              return self.complete(boost::asio::error::eof, 0);
            default:
              return self.complete(boost::asio::error::connection_reset, 0);
          }
        },
        token, socket_);
  }

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  SSL* ssl_;
  bool timed_out_ = false;
};

}  // namespace courier::broker::websocket
