// NATS in WebSocket frames, after the HTTP upgrade (done before the
// connection exists, by broker/websocket/listener): what nats-server 2.9.10
// does in websocket.go. Reads unframe (unmask, join fragments, inflate
// permessage-deflate messages) into the plain byte stream the client
// protocol parses; writes frame what the connection hands over (binary
// messages of up to 256 KiB of it, in 4 KiB frames for browsers, compressed
// above 64 bytes when agreed). Ping, pong and close are answered here: the protocol above never
// sees them.
//
// Writes stay on the loop (thread_free_writes() is false): replies to
// pings and closes are written from the read path, and a frame must never
// be cut by another. A frame's payload is the caller's buffer itself
// (gathered with its header in one sendmsg); the connection keeps that
// buffer unchanged until write_some reports it consumed, which happens only
// once the whole frame is out (as SSL_write's retry contract): a frame left
// half written starts exactly where the reported bytes end.
#pragma once

#include <openssl/ssl.h>
#include <sys/uio.h>

#include <string>
#include <vector>

#include "broker/transport/transport.hpp"
#include "broker/websocket/deflate.hpp"
#include "broker/websocket/frame.hpp"

namespace courier::broker {

/// What the upgrade agreed for one WebSocket client.
struct websocket_session_settings {
  bool compress = false;                 ///< permessage-deflate
  bool browser = false;                  ///< frames of at most 4 KiB
  bool no_compressed_fragments = false;  ///< Safari: compressed messages in one frame
  bool require_mask = true;              ///< clients must mask (unless Nats-No-Masking)
  std::string forwarded_for;             ///< X-Forwarded-For, for the log prefix
  std::size_t inflate_limit = 64 * 1024 * 1024;  ///< largest inflated message accepted
};

/// A WebSocket client connection (ws://, or wss:// with the SSL object
/// the upgrade's TLS session lives in).
class websocket_transport final : public transport {
 public:
  /// Takes ownership of `tls` (null for ws://).
  websocket_transport(boost::asio::ip::tcp::socket socket, websocket_session_settings settings, SSL* tls = nullptr);
  ~websocket_transport() override;

  /// The upgrade already happened: the INFO goes out at once.
  open_step advance_open(const error_code& wait_error) override;
  std::optional<open_step> check_open_deadline(clock::time_point) override { return std::nullopt; }
  std::size_t read_some(char* buffer, std::size_t size, error_code& ec) override;
  std::size_t write_some(const char* data, std::size_t size, error_code& ec) override;
  bool thread_free_writes() const override { return false; }
  /// Frames are buffered here: a short read says nothing about the socket.
  bool short_read_drains() const override { return false; }
  bool can_write_at_close() const override { return true; }
  client_type type() const override { return client_type::websocket; }
  /// "[forwarded/]ip:port - wid:N - ", as nats-server.
  std::string log_prefix_for(std::uint64_t id) const override;
  /// The close frame nats-server sends for `reason` (wsEnqueueCloseMessage).
  void write_goodbye(close_reason reason) override;

 private:
  /// Bytes from and to the peer: the socket, or TLS over it.
  std::size_t read_bytes(char* buffer, std::size_t size, error_code& ec);
  std::size_t write_bytes(const char* data, std::size_t size, error_code& ec);

  /// Handles a whole control frame from the client.
  void on_control();
  /// Queues (or writes at once) a control frame of ours.
  void send_control(std::string frame);
  /// Writes queued control frames; true when none is left.
  bool flush_control(error_code& ec);
  /// Prepares the frames for [data, data + size).
  void stage_frames(const char* data, std::size_t size);
  /// Writes the staged frames; true when all of them are out.
  bool write_staged(error_code& ec);

  const websocket_session_settings settings_;
  SSL* ssl_ = nullptr;  ///< wss://: the TLS session (owned)
  bool greeted_ = false;

  // Reading (loop thread).
  websocket::frame_decoder decoder_;
  websocket::message_inflater inflater_;
  std::vector<char> in_;        ///< raw bytes from the socket
  std::size_t in_begin_ = 0;    ///< first byte not decoded
  std::size_t in_end_ = 0;      ///< end of the bytes read
  std::string inflated_;        ///< an inflated message not yet handed over
  std::size_t inflated_at_ = 0;
  bool peer_closed_ = false;    ///< a close frame came: report eof
  error_code failed_;           ///< a framing error: report it

  // Writing (loop thread, under the connection's write lock).
  websocket::message_deflater deflater_;
  std::string control_out_;     ///< our control frames waiting for the socket
  bool close_sent_ = false;     ///< only one close frame goes out
  bool staged_ = false;         ///< frames are staged and not all written
  std::size_t staged_consumed_ = 0;  ///< caller bytes the staged frames carry
  bool staged_done_ = false;    ///< the staged frames are out, control frames behind them are not
  std::vector<websocket::frame_header> headers_;
  std::vector<iovec> iov_;
  std::size_t iov_at_ = 0;      ///< first iovec not fully written
  std::string compressed_;      ///< the compressed payload of the staged frames
};

}  // namespace courier::broker
