// WebSocket framing (RFC 6455 section 5) as nats-server 2.9.10 speaks it:
// a pure, resumable decoder for client frames (masked, possibly fragmented,
// possibly compressed with permessage-deflate) and the encoding of server
// frame headers (never masked). No socket in sight: the transport feeds
// bytes and acts on what the decoder reports.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace courier::broker::websocket {

/// Frame opcodes (RFC 6455 section 5.2).
enum class opcode : std::uint8_t {
  continuation = 0,
  text = 1,
  binary = 2,
  close = 8,
  ping = 9,
  pong = 10,
};

/// Close status codes nats-server sends (RFC 6455 section 7.4.1).
namespace close_status {
inline constexpr std::uint16_t normal_closure = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t no_status_received = 1005;
inline constexpr std::uint16_t abnormal_closure = 1006;
inline constexpr std::uint16_t invalid_payload_data = 1007;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t message_too_big = 1009;
inline constexpr std::uint16_t internal_server_error = 1011;
inline constexpr std::uint16_t tls_handshake = 1015;
}  // namespace close_status

/// Control frames carry at most 125 bytes (RFC 6455 section 5.5).
inline constexpr std::size_t max_control_payload = 125;
/// A server frame header: 2 bytes, plus 2 or 8 of extended length (no mask).
inline constexpr std::size_t max_server_header = 10;
/// nats-server's frame size for browsers (wsFrameSizeForBrowsers): "from
/// experiment, web browsers behave better with limited frame size".
inline constexpr std::size_t browser_frame_size = 4096;
/// Outbound batches of this size or less are not compressed (nats-server wsCompressThreshold).
inline constexpr std::size_t compress_threshold = 64;

/// A server frame header for `payload_size` bytes: FIN unless `final` is
/// false, RSV1 when `compressed`, the opcode only on a first frame.
struct frame_header {
  std::array<unsigned char, max_server_header> bytes{};
  std::size_t size = 0;
};
frame_header make_header(opcode op, std::size_t payload_size, bool first = true, bool final = true,
                         bool compressed = false);

/// A whole server control frame (close, ping, pong) with its payload.
std::string make_control_frame(opcode op, std::string_view payload);
/// The payload of a close frame: the status, then `reason`, cut to fit 125
/// bytes with a trailing "..." as nats-server does (wsCreateCloseMessage).
std::string make_close_payload(std::uint16_t status, std::string_view reason);

/// Where decoded bytes go: application data into `out` (up to `capacity`),
/// the payload of a compressed message into `compressed` until it is whole.
struct decode_sink {
  char* out = nullptr;
  std::size_t capacity = 0;
  std::size_t used = 0;
};

/// Decodes client frames. Resumable: any split of the input gives the same
/// result. Errors carry nats-server's close reason text.
class frame_decoder {
 public:
  /// What decode() stopped on.
  enum class event {
    need_more,         ///< every input byte is consumed (or the sink is full)
    control,           ///< a whole control frame: control_opcode(), control_payload()
    message_complete,  ///< a compressed message is whole: compressed_payload() to inflate
    error,             ///< a protocol error: error_text(); the connection must close
  };

  /// `require_mask`: clients must mask their frames (nats-server maskread).
  explicit frame_decoder(bool require_mask = true) : require_mask_(require_mask) {}

  /// Decodes from [data, data + size), unmasking in place; data payload goes
  /// to `sink`. Sets `consumed` to the bytes used. Call again after an event
  /// (with the rest of the input) to go on.
  event decode(char* data, std::size_t size, std::size_t& consumed, decode_sink& sink);

  opcode control_opcode() const { return control_opcode_; }
  std::string_view control_payload() const { return control_payload_; }
  /// The compressed message, whole: take it (swap) before decoding on.
  std::string& compressed_payload() { return compressed_; }
  const std::string& error_text() const { return error_; }

 private:
  enum class state { header, payload, control_payload };
  event fail(std::string text);
  /// Parses a complete header from header_; returns need_more when it is not complete yet.
  event parse_header();
  void unmask(char* data, std::size_t size);

  const bool require_mask_;
  state state_ = state::header;
  std::array<unsigned char, 14> header_{};
  std::size_t header_size_ = 0;
  std::uint64_t remaining_ = 0;
  std::array<unsigned char, 4> mask_{};
  bool masked_ = false;
  std::size_t mask_position_ = 0;
  bool in_message_ = false;          ///< a data message started and its final frame has not come
  bool message_compressed_ = false;  ///< the message being read is compressed (RSV1 on its first frame)
  bool frame_final_ = false;
  opcode control_opcode_ = opcode::close;
  std::string control_payload_;
  std::string compressed_;
  std::string error_;
};

}  // namespace courier::broker::websocket
