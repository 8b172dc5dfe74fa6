#include "broker/websocket/frame.hpp"

#include <algorithm>
#include <cstring>

namespace courier::broker::websocket {

namespace {
constexpr unsigned char fin_bit = 0x80;
constexpr unsigned char rsv1_bit = 0x40;
constexpr unsigned char mask_bit = 0x80;

bool is_control(opcode op) { return static_cast<std::uint8_t>(op) >= static_cast<std::uint8_t>(opcode::close); }
}  // namespace

frame_header make_header(opcode op, std::size_t payload_size, bool first, bool final, bool compressed) {
  frame_header header;
  unsigned char b0 = first ? static_cast<unsigned char>(op) : 0;
  if (final) b0 |= fin_bit;
  if (compressed) b0 |= rsv1_bit;
  header.bytes[0] = b0;
  if (payload_size <= 125) {
    header.bytes[1] = static_cast<unsigned char>(payload_size);
    header.size = 2;
  } else if (payload_size < 65536) {
    header.bytes[1] = 126;
    header.bytes[2] = static_cast<unsigned char>(payload_size >> 8);
    header.bytes[3] = static_cast<unsigned char>(payload_size);
    header.size = 4;
  } else {
    header.bytes[1] = 127;
    for (int i = 0; i < 8; ++i) header.bytes[2 + i] = static_cast<unsigned char>(std::uint64_t(payload_size) >> (56 - 8 * i));
    header.size = 10;
  }
  return header;
}

std::string make_control_frame(opcode op, std::string_view payload) {
  const frame_header header = make_header(op, payload.size());
  std::string frame(reinterpret_cast<const char*>(header.bytes.data()), header.size);
  frame += payload;
  return frame;
}

std::string make_close_payload(std::uint16_t status, std::string_view reason) {
  std::string body(reason);
  if (body.size() > max_control_payload - 2) {
    body.resize(max_control_payload - 5);
    body += "...";
  }
  std::string payload;
  payload += static_cast<char>(status >> 8);
  payload += static_cast<char>(status & 0xff);
  payload += body;
  return payload;
}

frame_decoder::event frame_decoder::fail(std::string text) {
  error_ = std::move(text);
  return event::error;
}

void frame_decoder::unmask(char* data, std::size_t size) {
  if (!masked_) return;
  std::size_t i = 0;
  // Word at a time once the key is rotated to the current position.
  if (size >= 16) {
    unsigned char key[8];
    for (int k = 0; k < 8; ++k) key[k] = mask_[(mask_position_ + k) & 3];
    std::uint64_t word_key;
    std::memcpy(&word_key, key, 8);
    for (; i + 8 <= size; i += 8) {
      std::uint64_t word;
      std::memcpy(&word, data + i, 8);
      word ^= word_key;
      std::memcpy(data + i, &word, 8);
    }
  }
  for (; i < size; ++i) data[i] = static_cast<char>(data[i] ^ mask_[(mask_position_ + i) & 3]);
  mask_position_ = (mask_position_ + size) & 3;
}

frame_decoder::event frame_decoder::parse_header() {
  if (header_size_ < 2) return event::need_more;
  const unsigned char b0 = header_[0];
  const unsigned char b1 = header_[1];
  const auto op = static_cast<opcode>(b0 & 0x0f);
  const bool final = (b0 & fin_bit) != 0;
  const bool compressed = (b0 & rsv1_bit) != 0;
  const bool masked = (b1 & mask_bit) != 0;
  // Checked on the first two bytes, in nats-server's order (wsRead).
  if (require_mask_ && !masked) return fail("mask bit missing");
  const std::size_t length7 = b1 & 0x7f;
  std::size_t needed = 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) + (masked ? 4 : 0);
  if (header_size_ == 2) {
    switch (op) {
      case opcode::ping:
      case opcode::pong:
      case opcode::close:
        if (length7 > max_control_payload) {
          return fail("control frame length bigger than maximum allowed of 125 bytes");
        }
        if (!final) return fail("control frame does not have final bit set");
        break;
      case opcode::text:
      case opcode::binary:
        if (in_message_) return fail("new message started before final frame for previous message was received");
        break;
      case opcode::continuation:
        if (!in_message_ || compressed) return fail("invalid continuation frame");
        break;
      default:
        return fail("unknown opcode " + std::to_string(static_cast<int>(op)));
    }
  }
  if (header_size_ < needed) return event::need_more;
  std::uint64_t length = length7;
  std::size_t at = 2;
  if (length7 == 126) {
    length = (std::uint64_t(header_[2]) << 8) | header_[3];
    at = 4;
  } else if (length7 == 127) {
    length = 0;
    for (int i = 0; i < 8; ++i) length = (length << 8) | header_[2 + i];
    at = 10;
  }
  masked_ = masked;
  if (masked) std::memcpy(mask_.data(), header_.data() + at, 4);
  mask_position_ = 0;
  remaining_ = length;
  frame_final_ = final;
  header_size_ = 0;
  if (is_control(op)) {
    control_opcode_ = op;
    control_payload_.clear();
    state_ = state::control_payload;
  } else {
    if (op != opcode::continuation) message_compressed_ = compressed;
    in_message_ = !final;
    state_ = state::payload;
  }
  return event::need_more;  // the header is done; the caller goes on
}

frame_decoder::event frame_decoder::decode(char* data, std::size_t size, std::size_t& consumed,
                                           decode_sink& sink) {
  std::size_t pos = 0;
  auto done = [&](event e) {
    consumed = pos;
    return e;
  };
  for (;;) {
    switch (state_) {
      case state::header: {
        if (pos == size) return done(event::need_more);
        header_[header_size_++] = static_cast<unsigned char>(data[pos++]);
        const event e = parse_header();
        if (e == event::error) return done(e);
        if (state_ == state::header) continue;  // header incomplete
        break;
      }
      case state::control_payload: {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, size - pos));
        unmask(data + pos, n);
        control_payload_.append(data + pos, n);
        pos += n;
        remaining_ -= n;
        if (remaining_ > 0) return done(event::need_more);
        state_ = state::header;
        return done(event::control);
      }
      case state::payload: {
        if (message_compressed_) {
          const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, size - pos));
          unmask(data + pos, n);
          compressed_.append(data + pos, n);
          pos += n;
          remaining_ -= n;
        } else {
          const std::size_t room = sink.capacity - sink.used;
          const std::size_t n =
              static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, std::min(size - pos, room)));
          std::memcpy(sink.out + sink.used, data + pos, n);
          unmask(sink.out + sink.used, n);
          sink.used += n;
          pos += n;
          remaining_ -= n;
          if (remaining_ > 0 && sink.used == sink.capacity) return done(event::need_more);
        }
        if (remaining_ > 0) return done(event::need_more);
        state_ = state::header;
        if (message_compressed_ && frame_final_) {
          message_compressed_ = false;
          return done(event::message_complete);
        }
        break;
      }
    }
  }
}

}  // namespace courier::broker::websocket
