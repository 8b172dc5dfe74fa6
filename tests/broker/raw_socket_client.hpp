// A blocking NATS client on a raw socket, for tests that check the bytes the
// server writes: it connects, skips the INFO, sends, and syncs with
// PING/PONG. Tests derive from it to read on a thread of their own.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <istream>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

namespace courier::broker::test_support {

class raw_socket_client {
 public:
  explicit raw_socket_client(std::uint16_t port) : socket_(context_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    boost::asio::read_until(socket_, buffer_, "\r\n");  // INFO
    buffer_.consume(buffer_.size());
  }
  raw_socket_client(const raw_socket_client&) = delete;
  raw_socket_client& operator=(const raw_socket_client&) = delete;

  /// False if the server closed this connection.
  bool send(const std::string& bytes) {
    boost::system::error_code ec;
    boost::asio::write(socket_, boost::asio::buffer(bytes), ec);
    return !ec;
  }

  /// Sends PING and reads until PONG; before any reader thread starts.
  void sync() {
    send("PING\r\n");
    for (;;) {
      boost::asio::read_until(socket_, buffer_, "\r\n");
      std::istream in(&buffer_);
      std::string line;
      std::getline(in, line);
      if (line == "PONG\r") return;
    }
  }

  void set_receive_buffer(int bytes) {
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }

 protected:
  /// Ends both directions: a reader blocked in read_some returns.
  void shut_down() {
    boost::system::error_code ignored;
    socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);
  }

  boost::asio::io_context context_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::streambuf buffer_;
};

}  // namespace courier::broker::test_support
