#include "broker/transport/websocket_transport.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <climits>
#include <cstring>

#include <openssl/err.h>

#include "broker/logger.hpp"
#include "broker/transport/tls_transport.hpp"

namespace courier::broker {

namespace asio = boost::asio;
namespace ws = websocket;

namespace {
/// Raw bytes read from the socket at a time.
constexpr std::size_t read_chunk = 256 * 1024;
/// Frames staged per write for browsers (two iovecs each, within IOV_MAX).
constexpr std::size_t max_staged_frames = 512;
/// Bytes of the connection's buffer one staged message carries: a batch
/// goes out as messages of up to 256 KiB (browsers: 4 KiB frames), so that
/// progress is reported as the socket takes them.
constexpr std::size_t max_staged_input = 256 * 1024;

/// RFC 3629 UTF-8, as Go's utf8.ValidString (no surrogates, no overlongs).
bool valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length;
    unsigned char low = 0x80, high = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) {
      length = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      length = 3;
      if (c == 0xe0) low = 0xa0;
      if (c == 0xed) high = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      length = 4;
      if (c == 0xf0) low = 0x90;
      if (c == 0xf4) high = 0x8f;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if (k == 1 ? (next < low || next > high) : (next < 0x80 || next > 0xbf)) return false;
    }
    i += length;
  }
  return true;
}

/// nats-server wsEnqueueCloseMessage's status for a close reason.
std::uint16_t close_status_for(close_reason reason) {
  switch (reason) {
    case close_reason::client_closed: return ws::close_status::normal_closure;
    case close_reason::authentication_timeout:
    case close_reason::authentication_violation:
    case close_reason::slow_consumer_pending_bytes:
    case close_reason::slow_consumer_write_deadline:
    case close_reason::max_connections:
    case close_reason::max_control_line:
      return ws::close_status::policy_violation;
    case close_reason::tls_handshake_error: return ws::close_status::tls_handshake;
    case close_reason::parse_error:
    case close_reason::protocol_violation:
    case close_reason::bad_client_protocol:
      return ws::close_status::protocol_error;
    case close_reason::max_payload: return ws::close_status::message_too_big;
    case close_reason::server_shutdown:
    case close_reason::lame_duck:
      return ws::close_status::going_away;
    case close_reason::write_error:
    case close_reason::read_error:
    case close_reason::stale_connection:
      return ws::close_status::abnormal_closure;
  }
  return ws::close_status::internal_server_error;
}
}  // namespace

websocket_transport::websocket_transport(asio::ip::tcp::socket socket, websocket_session_settings settings, SSL* tls)
    : transport(std::move(socket)), settings_(std::move(settings)), ssl_(tls), decoder_(settings_.require_mask) {}

websocket_transport::~websocket_transport() {
  if (ssl_ != nullptr) SSL_free(ssl_);
}

std::size_t websocket_transport::read_bytes(char* buffer, std::size_t size, error_code& ec) {
  if (ssl_ == nullptr) return read_plain(buffer, size, ec);
  ERR_clear_error();
  const int n = SSL_read(ssl_, buffer, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
  if (n > 0) return static_cast<std::size_t>(n);
  ec = ssl_result_error(ssl_, n, asio::error::connection_reset);
  return 0;
}

std::size_t websocket_transport::write_bytes(const char* data, std::size_t size, error_code& ec) {
  if (ssl_ == nullptr) return write_plain(data, size, ec);
  ERR_clear_error();
  const int n = SSL_write(ssl_, data, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
  if (n > 0) return static_cast<std::size_t>(n);
  ec = ssl_result_error(ssl_, n, asio::error::broken_pipe);
  return 0;
}


open_step websocket_transport::advance_open(const error_code& wait_error) {
  assert(!wait_error);
  (void)wait_error;
  if (!greeted_) {
    greeted_ = true;
    return {open_step::action::send_greeting};
  }
  return {open_step::action::ready};
}

std::string websocket_transport::log_prefix_for(std::uint64_t id) const {
  std::string out;
  if (!settings_.forwarded_for.empty()) {
    // IPv6 in brackets, as net.JoinHostPort would write it.
    const bool v6 = settings_.forwarded_for.find(':') != std::string::npos;
    out = (v6 ? "[" + settings_.forwarded_for + "]" : settings_.forwarded_for) + "/";
  }
  return out + remote_ip() + ":" + std::to_string(remote_port()) + " - wid:" + std::to_string(id) + " - ";
}

// ---- reading ----

std::size_t websocket_transport::read_some(char* buffer, std::size_t size, error_code& ec) {
  for (;;) {
    // An inflated message goes first: it came before anything still undecoded.
    if (inflated_at_ < inflated_.size()) {
      const std::size_t n = std::min(size, inflated_.size() - inflated_at_);
      std::memcpy(buffer, inflated_.data() + inflated_at_, n);
      inflated_at_ += n;
      if (inflated_at_ == inflated_.size()) {
        inflated_.clear();
        inflated_at_ = 0;
      }
      return n;
    }
    if (failed_) {
      ec = failed_;
      return 0;
    }
    if (peer_closed_) {
      ec = asio::error::eof;
      return 0;
    }
    ws::decode_sink sink{buffer, size, 0};
    bool stop = false;
    while (!stop && in_begin_ < in_end_ && sink.used < sink.capacity) {
      std::size_t consumed = 0;
      const auto event = decoder_.decode(in_.data() + in_begin_, in_end_ - in_begin_, consumed, sink);
      in_begin_ += consumed;
      switch (event) {
        case ws::frame_decoder::event::need_more:
          break;
        case ws::frame_decoder::event::control:
          on_control();
          stop = peer_closed_;
          break;
        case ws::frame_decoder::event::message_complete: {
          std::string compressed;
          compressed.swap(decoder_.compressed_payload());
          if (!inflater_.inflate(compressed, inflated_, settings_.inflate_limit)) {
            log().error(log_prefix_, "read error: invalid compressed message");
            failed_ = asio::error::invalid_argument;
          }
          stop = true;  // hand over what came before it, then the message
          break;
        }
        case ws::frame_decoder::event::error:
          log().error(log_prefix_, "read error: ", decoder_.error_text());
          // nats-server queues this close frame, then closes as a read
          // error without flushing, so whether it leaves is a race there
          // (seen both ways); here it always does.
          close_sent_ = true;
          send_control(ws::make_control_frame(
              ws::opcode::close, ws::make_close_payload(ws::close_status::protocol_error, decoder_.error_text())));
          failed_ = asio::error::invalid_argument;
          stop = true;
          break;
      }
    }
    if (sink.used > 0) return sink.used;
    if (inflated_at_ < inflated_.size() || failed_ || peer_closed_) continue;
    // Nothing decodable is buffered: read the socket.
    if (in_begin_ == in_end_) {
      in_begin_ = in_end_ = 0;
    } else if (in_begin_ > 0 && in_.size() - in_end_ < read_chunk / 4) {
      std::memmove(in_.data(), in_.data() + in_begin_, in_end_ - in_begin_);
      in_end_ -= in_begin_;
      in_begin_ = 0;
    }
    if (in_.size() < in_end_ + read_chunk / 4) in_.resize(std::max(read_chunk, in_end_ + read_chunk / 4));
    const std::size_t n = read_bytes(in_.data() + in_end_, in_.size() - in_end_, ec);
    if (ec) return 0;
    in_end_ += n;
  }
}

void websocket_transport::on_control() {
  const std::string_view payload = decoder_.control_payload();
  switch (decoder_.control_opcode()) {
    case ws::opcode::ping:
      send_control(ws::make_control_frame(ws::opcode::pong, payload));
      break;
    case ws::opcode::close: {
      // Echo the status (1005 when none) and the reason, then end as
      // "Client Closed" (wsHandleControlFrame).
      std::uint16_t status = ws::close_status::no_status_received;
      std::string body;
      if (payload.size() >= 2) {
        status = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                            static_cast<unsigned char>(payload[1]));
        if (payload.size() > 2) {
          body = payload.substr(2);
          if (!valid_utf8(body)) {
            status = ws::close_status::invalid_payload_data;
            body = "invalid utf8 body in close frame";
          }
        }
      }
      close_sent_ = true;
      send_control(ws::make_control_frame(ws::opcode::close, ws::make_close_payload(status, body)));
      peer_closed_ = true;
      break;
    }
    default:
      break;  // a pong: nothing to do
  }
}

// ---- writing ----

void websocket_transport::send_control(std::string frame) {
  const bool idle = !staged_ && control_out_.empty();
  control_out_ += frame;
  if (!idle) return;  // goes out after the frames being written
  error_code ignored;
  flush_control(ignored);
}

bool websocket_transport::flush_control(error_code& ec) {
  while (!control_out_.empty()) {
    const std::size_t n = write_bytes(control_out_.data(), control_out_.size(), ec);
    if (ec) return false;
    control_out_.erase(0, n);
  }
  return true;
}

void websocket_transport::stage_frames(const char* data, std::size_t size) {
  headers_.clear();
  iov_.clear();
  iov_at_ = 0;
  // At most max_staged_input bytes per staged message (see write_some).
  size = std::min(size, max_staged_input);
  const bool compress = settings_.compress && size > ws::compress_threshold && deflater_.compress({data, size}, compressed_);
  std::size_t frame_limit = settings_.browser ? ws::browser_frame_size : 0;
  const char* payload = data;
  std::size_t length = size;
  if (compress) {
    payload = compressed_.data();
    length = compressed_.size();
    if (settings_.no_compressed_fragments) frame_limit = 0;
    staged_consumed_ = size;
  } else {
    if (frame_limit > 0) length = std::min(size, frame_limit * max_staged_frames);
    staged_consumed_ = length;
  }
  if (frame_limit == 0 || length <= frame_limit) {
    headers_.push_back(ws::make_header(ws::opcode::binary, length, true, true, compress));
  } else {
    // Compressed: one message in fragments, RSV1 on the first. Plain: whole
    // frames (nats-server frames the uncompressed batch the same way).
    for (std::size_t at = 0; at < length; at += frame_limit) {
      const std::size_t chunk = std::min(frame_limit, length - at);
      const bool first = !compress || at == 0;
      const bool final = !compress || at + chunk == length;
      headers_.push_back(ws::make_header(ws::opcode::binary, chunk, first, final, compress && at == 0));
    }
  }
  std::size_t at = 0;
  for (const auto& header : headers_) {
    const std::size_t chunk = headers_.size() == 1 ? length : std::min(frame_limit, length - at);
    iov_.push_back({const_cast<unsigned char*>(header.bytes.data()), header.size});
    if (chunk > 0) iov_.push_back({const_cast<char*>(payload + at), chunk});
    at += chunk;
  }
}

bool websocket_transport::write_staged(error_code& ec) {
  // Over TLS, one SSL_write per part: a part SSL_write left unfinished is
  // retried as it was (OpenSSL's rule), and partial writes advance it.
  while (ssl_ != nullptr && iov_at_ < iov_.size()) {
    iovec& part = iov_[iov_at_];
    const std::size_t n = write_bytes(static_cast<const char*>(part.iov_base), part.iov_len, ec);
    if (ec) return false;
    part.iov_base = static_cast<char*>(part.iov_base) + n;
    part.iov_len -= n;
    if (part.iov_len == 0) ++iov_at_;
  }
  while (iov_at_ < iov_.size()) {
    msghdr message{};
    message.msg_iov = iov_.data() + iov_at_;
    message.msg_iovlen = std::min<std::size_t>(iov_.size() - iov_at_, IOV_MAX);
    const ssize_t n = ::sendmsg(fd_, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      ec = error_code(errno, boost::system::system_category());
      return false;
    }
    auto left = static_cast<std::size_t>(n);
    while (left > 0 && iov_at_ < iov_.size()) {
      iovec& part = iov_[iov_at_];
      const std::size_t take = std::min(left, part.iov_len);
      part.iov_base = static_cast<char*>(part.iov_base) + take;
      part.iov_len -= take;
      left -= take;
      if (part.iov_len == 0) ++iov_at_;
    }
  }
  return true;
}

std::size_t websocket_transport::write_some(const char* data, std::size_t size, error_code& ec) {
  // Frame after frame while the socket takes them; what completed frames
  // carry is reported, so the connection's pending bytes (producer stalls,
  // slow consumers) follow the socket rather than waiting for a whole batch.
  // A frame left staged starts exactly where the reported bytes end: the
  // next call's data.
  std::size_t done = 0;
  for (;;) {
    if (!staged_) {
      // Our control frames queued behind the last frames go first.
      if (!flush_control(ec) || done == size) break;
      stage_frames(data + done, size - done);
      staged_ = true;
      staged_done_ = false;
    }
    if (!staged_done_) {
      if (!write_staged(ec)) break;
      staged_done_ = true;
    }
    if (!flush_control(ec)) break;
    staged_ = false;
    done += staged_consumed_;
  }
  if (done > 0 && (ec == asio::error::would_block || ec == asio::error::try_again)) ec.clear();
  return done;
}

void websocket_transport::write_goodbye(close_reason reason) {
  if (close_sent_ || staged_) return;
  // nats-server skips the flush, and so the close frame, on these.
  if (skips_flush_on_close(reason)) return;
  close_sent_ = true;
  control_out_ += ws::make_control_frame(ws::opcode::close, ws::make_close_payload(close_status_for(reason), to_string(reason)));
  error_code ignored;
  flush_control(ignored);
}

}  // namespace courier::broker
