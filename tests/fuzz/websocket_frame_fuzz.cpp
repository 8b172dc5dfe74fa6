// libFuzzer target: the WebSocket frame decoder (client frames: masked,
// fragmented, compressed, control frames) and the inflater behind it. The
// same bytes must decode to the same application data, control frames,
// inflated messages and error, whatever the read sizes and however small the
// buffer the data goes to; nothing is reported after an error.
#include "broker/websocket/frame.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "broker/websocket/deflate.hpp"
#include "fuzz_support.hpp"

namespace {

namespace ws = courier::broker::websocket;

/// Decodes `input` fed in pieces of next_size() bytes into a sink of
/// `capacity` bytes; returns what happened as lines of text.
template <class NextSize>
std::vector<std::string> decode_all(std::string_view input, bool require_mask, std::size_t capacity,
                                    NextSize next_size) {
  ws::frame_decoder decoder(require_mask);
  ws::message_inflater inflater;
  std::vector<std::string> events;
  std::string data;  // application data since the last event
  std::vector<char> buffer(capacity);
  auto flush_data = [&] {
    if (!data.empty()) events.push_back("DATA " + data);
    data.clear();
  };
  std::size_t at = 0;
  bool failed = false;
  while (at < input.size() && !failed) {
    const std::size_t n = std::min(input.size() - at, std::max<std::size_t>(1, next_size()));
    // Its own heap buffer, decoded (unmasked) in place as the transport does.
    std::vector<char> piece(input.begin() + static_cast<std::ptrdiff_t>(at),
                            input.begin() + static_cast<std::ptrdiff_t>(at + n));
    std::size_t offset = 0;
    while (!failed) {
      ws::decode_sink sink{buffer.data(), buffer.size(), 0};
      std::size_t consumed = 0;
      const auto e = decoder.decode(piece.data() + offset, piece.size() - offset, consumed, sink);
      if (consumed > piece.size() - offset || sink.used > sink.capacity) std::abort();
      offset += consumed;
      data.append(buffer.data(), sink.used);
      if (e == ws::frame_decoder::event::need_more) {
        if (offset == piece.size()) break;
        if (sink.used != sink.capacity) std::abort();  // stopped early only for a full sink
        continue;
      }
      flush_data();
      if (e == ws::frame_decoder::event::control) {
        if (decoder.control_payload().size() > ws::max_control_payload) std::abort();
        events.push_back("CONTROL " + std::to_string(static_cast<int>(decoder.control_opcode())) + " " +
                         std::string(decoder.control_payload()));
      } else if (e == ws::frame_decoder::event::message_complete) {
        std::string compressed;
        compressed.swap(decoder.compressed_payload());
        std::string inflated;
        const bool ok = inflater.inflate(compressed, inflated, 64 * 1024);
        if (ok && inflated.size() > 64 * 1024) std::abort();
        events.push_back(ok ? "INFLATED " + inflated : "INFLATE FAILED");
      } else {
        if (decoder.error_text().empty()) std::abort();
        events.push_back("ERROR " + decoder.error_text());
        failed = true;
      }
    }
    at += n;
  }
  flush_data();
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace courier::protocol::fuzzing;
  if (size < 2) return 0;
  // First two bytes: masking, output buffer size and chunking seed; the rest is the wire.
  const std::uint8_t config = data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  const bool require_mask = (config & 1) == 0;
  const std::size_t capacities[] = {65536, 1, 7, 128};
  const std::size_t capacity = capacities[(config >> 1) & 3];
  const auto whole = decode_all(input, require_mask, 65536, [&] { return input.size(); });
  expect_same_for_any_split(whole, input, data[1] * 0x100000001b3ULL + size, "ERROR ",
                            [&](auto next_size) { return decode_all(input, require_mask, capacity, next_size); });
  return 0;
}
