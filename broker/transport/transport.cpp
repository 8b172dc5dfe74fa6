#include "broker/transport/transport.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace courier::broker {

namespace asio = boost::asio;

transport::transport(asio::ip::tcp::socket socket) : socket_(std::move(socket)), fd_(socket_.native_handle()) {
  error_code ec;
  auto endpoint = socket_.remote_endpoint(ec);
  if (!ec) {
    remote_ip_ = endpoint.address().to_string();
    remote_port_ = endpoint.port();
  }
  socket_.non_blocking(true, ec);
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
}

std::string transport::log_prefix_for(std::uint64_t id) const {
  return remote_ip_ + ":" + std::to_string(remote_port_) + " - cid:" + std::to_string(id) + " - ";
}

void transport::cancel_waits() {
  error_code ignored;
  socket_.cancel(ignored);
}

void transport::close() {
  error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

bool transport::set_read_low_water_plain(int bytes) {
  return ::setsockopt(fd_, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof bytes) == 0;
}

std::size_t transport::read_plain(char* buffer, std::size_t size, error_code& ec) {
  return socket_.read_some(asio::buffer(buffer, size), ec);
}

std::size_t transport::write_plain(const char* data, std::size_t size, error_code& ec) {
  for (;;) {
    const ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    ec = error_code(errno, boost::system::system_category());
    return 0;
  }
}

std::size_t transport::write_plain_gathered(const iovec* pieces, std::size_t count, error_code& ec) {
  msghdr message{};
  message.msg_iov = const_cast<iovec*>(pieces);
  message.msg_iovlen = count;
  for (;;) {
    const ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n >= 0) return static_cast<std::size_t>(n);
    if (errno == EINTR) continue;
    ec = error_code(errno, boost::system::system_category());
    return 0;
  }
}

}  // namespace courier::broker
