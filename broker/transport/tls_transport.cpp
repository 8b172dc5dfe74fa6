#include "broker/transport/tls_transport.hpp"

#include <sys/socket.h>

#include <cassert>
#include <cerrno>
#include <algorithm>
#include <climits>
#include <cstring>

#include <openssl/err.h>

#include "broker/logger.hpp"

namespace courier::broker {

namespace asio = boost::asio;
using action = open_step::action;

tls_transport::tls_transport(asio::ip::tcp::socket socket, const tls_transport_settings& settings)
    : transport(std::move(socket)), settings_(settings) {}

tls_transport::tls_transport(asio::ip::tcp::socket socket, const tls_transport_settings& settings,
                             tls_client_side client)
    : transport(std::move(socket)), settings_(settings), client_(std::move(client)) {}

tls_transport::~tls_transport() {
  if (ssl_) SSL_free(ssl_);
}

open_step tls_transport::advance_open(const error_code& wait_error) {
  if (wait_error) {
    // A failed wait for the handshake is a handshake failure; for the first
    // byte, a read error (as a failed read would be).
    return {action::failed,
            state_ == state::handshaking ? close_reason::tls_handshake_error : close_reason::read_error};
  }
  // Each step either moves to another state (nullopt: go on) or tells the
  // connection what to do.
  for (;;) {
    if (auto step = advance_once()) return *step;
  }
}

std::optional<open_step> tls_transport::advance_once() {
  switch (state_) {
    case state::start: return open_start();
    case state::reading_info: return read_info();
    case state::waiting_hello_first: return sniff_first_byte(state::greeted);
    case state::greeted:
      if (settings_.allow_non_tls) {
        state_ = state::waiting_first_byte;
        return std::nullopt;
      }
      return start_handshake();
    case state::waiting_first_byte: return sniff_first_byte(state::plain);
    case state::handshaking: return continue_handshake();
    case state::established:
      if (greeted_ || client_) return open_step{action::ready};
      // TLS came first: the INFO goes out now, encrypted.
      return greet();
    case state::plain: return open_step{action::ready};
  }
  return open_step{action::failed, close_reason::tls_handshake_error};
}

std::optional<open_step> tls_transport::open_start() {
  handshake_deadline_ = clock::now() + settings_.timeout;
  if (client_) {
    state_ = state::reading_info;
    return std::nullopt;
  }
  if (!settings_.handshake_first) return greet();
  if (settings_.handshake_first_fallback) {
    state_ = state::waiting_hello_first;
    hello_deadline_ = clock::now() + *settings_.handshake_first_fallback;
    return open_step{action::wait_readable};
  }
  return start_handshake();  // the INFO follows the handshake
}

std::optional<open_step> tls_transport::greet() {
  if (state_ != state::established) state_ = state::greeted;
  greeted_ = true;
  return open_step{action::send_greeting};
}

std::optional<open_step> tls_transport::sniff_first_byte(state otherwise) {
  const peeked first = peek_first_byte();
  if (first.byte < 0) return first.step;
  // A TLS record (0x16) starts a handshake; anything else is a client that
  // does not start with TLS.
  if (auth::looks_like_tls_client_hello(static_cast<unsigned char>(first.byte))) return start_handshake();
  if (otherwise == state::greeted) return greet();  // handshake_first fallback: INFO in clear
  state_ = otherwise;                                // allow_non_tls: plain text from here on
  return open_step{action::ready};
}

std::optional<open_step> tls_transport::start_handshake() {
  if (!begin_handshake()) return open_step{action::failed, close_reason::tls_handshake_error};
  return std::nullopt;
}

std::optional<open_step> tls_transport::read_info() {
  // The server sends its INFO and waits for the ClientHello: nothing can
  // follow the line, so reading in chunks takes no TLS bytes.
  constexpr std::size_t longest = 64 * 1024;
  char chunk[4096];
  while (info_line_.find("\r\n") == std::string::npos) {
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return open_step{action::wait_readable};
    if (n <= 0) return open_step{action::failed, n == 0 ? close_reason::client_closed : close_reason::read_error};
    info_line_.append(chunk, static_cast<std::size_t>(n));
    if (info_line_.size() > longest) {
      log().error(log_prefix_, "No INFO line in the first ", longest, " bytes");
      return open_step{action::failed, close_reason::read_error};
    }
  }
  if (!begin_handshake()) return open_step{action::failed, close_reason::tls_handshake_error};
  if (std::string error; !auth::set_client_peer(ssl_, client_->host, client_->verify, error)) {
    log().error(log_prefix_, "TLS setup error: ", error);
    return open_step{action::failed, close_reason::tls_handshake_error};
  }
  SSL_set_connect_state(ssl_);
  return std::nullopt;
}

std::optional<open_step> tls_transport::check_open_deadline(clock::time_point now) {
  if (state_ == state::waiting_hello_first && now >= hello_deadline_) {
    // No ClientHello within the handshake_first duration: INFO first after all.
    return greet();
  }
  if ((state_ == state::handshaking || state_ == state::waiting_first_byte || state_ == state::reading_info) &&
      now >= handshake_deadline_) {
    log().error(log_prefix_, "TLS handshake timeout");
    return open_step{action::failed, close_reason::tls_handshake_error};
  }
  return std::nullopt;
}

tls_transport::peeked tls_transport::peek_first_byte() {
  unsigned char first = 0;
  const ssize_t n = ::recv(fd_, &first, 1, MSG_PEEK);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return {-1, {action::wait_readable}};
  if (n <= 0) {
    return {-1, {action::failed, n == 0 ? close_reason::client_closed : close_reason::read_error}};
  }
  return {first, {}};
}

bool tls_transport::begin_handshake() {
  assert(ssl_ == nullptr);
  ssl_ = SSL_new(settings_.context);
  if (!ssl_ || SSL_set_fd(ssl_, fd_) != 1) {
    log().error(log_prefix_, "TLS setup error");
    return false;
  }
  // Writes resume from an offset into a buffer that may have moved.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_accept_state(ssl_);  // the client side switches to connect
  state_ = state::handshaking;
  return true;
}

std::optional<open_step> tls_transport::continue_handshake() {
  const int result = SSL_do_handshake(ssl_);
  if (result == 1) {
    state_ = state::established;
    if (X509* certificate = SSL_get1_peer_certificate(ssl_)) {
      peer_certificate_ = auth::describe_peer_certificate(certificate);
      X509_free(certificate);
    }
    log().debug(log_prefix_, "TLS handshake complete");
    return std::nullopt;
  }
  switch (SSL_get_error(ssl_, result)) {
    case SSL_ERROR_WANT_READ: return open_step{action::wait_readable};
    case SSL_ERROR_WANT_WRITE: return open_step{action::wait_writable};
    default: {
      char reason[256] = "connection closed";
      if (unsigned long code = ERR_get_error()) ERR_error_string_n(code, reason, sizeof reason);
      ERR_clear_error();
      log().error(log_prefix_, "TLS handshake error: ", reason);
      return open_step{action::failed, close_reason::tls_handshake_error};
    }
  }
}

std::size_t tls_transport::read_some(char* buffer, std::size_t size, error_code& ec) {
  if (!info_line_.empty()) {
    const std::size_t n = std::min(size, info_line_.size());
    std::memcpy(buffer, info_line_.data(), n);
    info_line_.erase(0, n);
    return n;
  }
  if (!ssl_) return read_plain(buffer, size, ec);
  const int n = SSL_read(ssl_, buffer, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
  if (n > 0) return static_cast<std::size_t>(n);
  ec = tls_error(n, asio::error::connection_reset);
  return 0;
}

std::size_t tls_transport::write_some(const char* data, std::size_t size, error_code& ec) {
  if (!ssl_) return write_plain(data, size, ec);
  const int n = SSL_write(ssl_, data, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
  if (n > 0) return static_cast<std::size_t>(n);
  ec = tls_error(n, asio::error::broken_pipe);
  return 0;
}

transport::error_code tls_transport::tls_error(int result, error_code failure) {
  return ssl_result_error(ssl_, result, failure);
}

boost::system::error_code ssl_result_error(SSL* ssl, int result, boost::system::error_code failure) {
  switch (SSL_get_error(ssl, result)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return asio::error::would_block;
    case SSL_ERROR_ZERO_RETURN:
      return asio::error::eof;
    default:
      ERR_clear_error();
      return failure;
  }
}

transport::tls_description tls_transport::describe_tls() const {
  if (!ssl_) return {};
  tls_description out;
  std::string_view version = SSL_get_version(ssl_);  // "TLSv1.3"
  if (version.substr(0, 4) == "TLSv") version.remove_prefix(4);
  out.version = version;
  if (const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl_)) {
    if (const char* name = SSL_CIPHER_standard_name(cipher)) out.cipher_suite = name;  // Go's names
  }
  return out;
}

}  // namespace courier::broker
