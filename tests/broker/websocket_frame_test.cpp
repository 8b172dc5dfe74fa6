// The WebSocket frame decoder, deflate and upgrade checks, without sockets.
#include "broker/websocket/frame.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "broker/websocket/deflate.hpp"
#include "broker/websocket/upgrade.hpp"

namespace courier::broker::websocket {
namespace {

/// A masked client frame.
std::string client_frame(std::string_view payload, opcode op = opcode::binary, bool fin = true, bool rsv1 = false,
                         bool mask = true) {
  std::string out;
  out += static_cast<char>(static_cast<unsigned char>(op) | (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0));
  const unsigned char mask_bit = mask ? 0x80 : 0;
  if (payload.size() <= 125) {
    out += static_cast<char>(mask_bit | payload.size());
  } else if (payload.size() < 65536) {
    out += static_cast<char>(mask_bit | 126);
    out += static_cast<char>(payload.size() >> 8);
    out += static_cast<char>(payload.size() & 0xff);
  } else {
    out += static_cast<char>(mask_bit | 127);
    for (int i = 7; i >= 0; --i) out += static_cast<char>((std::uint64_t(payload.size()) >> (8 * i)) & 0xff);
  }
  const char key[4] = {0x12, 0x34, 0x56, 0x78};
  if (mask) out.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) out += mask ? static_cast<char>(payload[i] ^ key[i % 4]) : payload[i];
  return out;
}

struct decoded {
  std::string data;
  std::vector<std::string> controls;
  std::string error;
};

/// Feeds `input` in pieces of `piece` bytes, with a small output buffer.
decoded decode_all(std::string input, std::size_t piece, bool require_mask = true) {
  frame_decoder decoder(require_mask);
  message_inflater inflater;
  decoded out;
  std::size_t at = 0;
  while (at < input.size() && out.error.empty()) {
    const std::size_t end = std::min(input.size(), at + piece);
    while (at < end && out.error.empty()) {
      char buffer[7];
      decode_sink sink{buffer, sizeof buffer, 0};
      std::size_t consumed = 0;
      const auto event = decoder.decode(input.data() + at, end - at, consumed, sink);
      at += consumed;
      out.data.append(buffer, sink.used);
      if (event == frame_decoder::event::control) {
        out.controls.push_back(std::to_string(static_cast<int>(decoder.control_opcode())) + ":" +
                               std::string(decoder.control_payload()));
      } else if (event == frame_decoder::event::message_complete) {
        std::string compressed;
        compressed.swap(decoder.compressed_payload());
        EXPECT_TRUE(inflater.inflate(compressed, out.data, 1 << 20));
      } else if (event == frame_decoder::event::error) {
        out.error = decoder.error_text();
      }
    }
  }
  return out;
}

TEST(WebSocketFrames, DecodesAtEverySplit) {
  message_deflater deflater;
  std::string compressed;
  ASSERT_TRUE(deflater.compress("PUB a 5\r\nhello\r\n", compressed));
  const std::string input = client_frame("CONNECT {}\r\n") + client_frame("PI", opcode::binary, false) +
                            client_frame("ping!", opcode::ping) + client_frame("NG\r\n", opcode::continuation) +
                            client_frame(std::string(300, 'x')) + client_frame(compressed, opcode::binary, true, true) +
                            client_frame(std::string(70000, 'y'));
  const std::string expected = "CONNECT {}\r\nPING\r\n" + std::string(300, 'x') + "PUB a 5\r\nhello\r\n" +
                               std::string(70000, 'y');
  for (std::size_t piece : {std::size_t(1), std::size_t(2), std::size_t(3), std::size_t(13), std::size_t(4096),
                            input.size()}) {
    const decoded out = decode_all(input, piece);
    EXPECT_EQ(out.error, "") << piece;
    EXPECT_EQ(out.data, expected) << piece;
    ASSERT_EQ(out.controls.size(), 1u) << piece;
    EXPECT_EQ(out.controls[0], "9:ping!");
  }
}

TEST(WebSocketFrames, RefusesWhatNatsServerRefuses) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {client_frame("x", opcode::binary, true, false, false), "mask bit missing"},
      {client_frame(std::string(126, 'p'), opcode::ping), "control frame length bigger than maximum allowed of 125 bytes"},
      {client_frame("p", opcode::ping, false), "control frame does not have final bit set"},
      {client_frame("x", opcode::continuation), "invalid continuation frame"},
      {client_frame("a", opcode::binary, false) + client_frame("b"),
       "new message started before final frame for previous message was received"},
      {client_frame("x", static_cast<opcode>(3)), "unknown opcode 3"},
  };
  for (const auto& [input, error] : cases) {
    for (std::size_t piece : {std::size_t(1), input.size()}) EXPECT_EQ(decode_all(input, piece).error, error);
  }
  // Nats-No-Masking: unmasked frames are fine.
  EXPECT_EQ(decode_all(client_frame("ok", opcode::binary, true, false, false), 1, false).data, "ok");
}

TEST(WebSocketFrames, ServerHeadersAndCloseBodies) {
  EXPECT_EQ(make_header(opcode::binary, 5).size, 2u);
  EXPECT_EQ(make_header(opcode::binary, 126).size, 4u);
  EXPECT_EQ(make_header(opcode::binary, 65536).size, 10u);
  EXPECT_EQ(make_header(opcode::binary, 1, true, true, true).bytes[0], 0xc2);
  EXPECT_EQ(make_header(opcode::binary, 1, false, false).bytes[0], 0x00);
  const std::string close = make_close_payload(1008, "Authentication Timeout");
  EXPECT_EQ(close, std::string("\x03\xf0", 2) + "Authentication Timeout");
  const std::string long_close = make_close_payload(1002, std::string(200, 'r'));
  EXPECT_EQ(long_close.size(), 2u + 120u + 3u);
  EXPECT_EQ(long_close.substr(long_close.size() - 3), "...");
}

upgrade_request request_with(std::vector<std::pair<std::string, std::string>> headers,
                             boost::beast::http::verb method = boost::beast::http::verb::get) {
  upgrade_request request{method, "/", 11};
  for (auto& [name, value] : headers) request.insert(name, value);
  return request;
}

TEST(WebSocketUpgrade, ChecksInNatsServersOrder) {
  const std::vector<std::pair<std::string, std::string>> good = {
      {"Host", "example.com"}, {"Upgrade", "websocket"}, {"Connection", "keep-alive, Upgrade"},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="}, {"Sec-WebSocket-Version", "13"}};
  upgrade_settings settings;
  const auto now = std::chrono::system_clock::now();
  auto ok = check_upgrade(request_with(good), settings, now);
  ASSERT_TRUE(ok.accepted);
  EXPECT_NE(ok.response.find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos);
  EXPECT_EQ(check_upgrade(request_with(good, boost::beast::http::verb::post), settings, now).status, 405);
  for (const char* missing : {"Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version"}) {
    auto headers = good;
    std::erase_if(headers, [&](const auto& h) { return h.first == missing; });
    const auto refused = check_upgrade(request_with(headers), settings, now);
    EXPECT_EQ(refused.status, 400) << missing;
    EXPECT_TRUE(refused.keep_alive) << missing;
  }
  settings.allowed_origins = upgrade_settings::parse_origins({"https://app.example.com"});
  auto with_origin = [&](const std::string& origin) {
    auto headers = good;
    headers.emplace_back("Origin", origin);
    return check_upgrade(request_with(headers), settings, now);
  };
  EXPECT_TRUE(with_origin("https://app.example.com").accepted);
  EXPECT_TRUE(with_origin("https://APP.example.com:443").accepted);
  EXPECT_EQ(with_origin("http://app.example.com").status, 403);
  EXPECT_EQ(with_origin("https://other.example.com").reason, "origin not allowed: not in the allowed list");
  settings.allowed_origins.clear();
  settings.same_origin = true;
  EXPECT_TRUE(with_origin("http://example.com").accepted);
  EXPECT_EQ(with_origin("http://example.com:8080").reason, "origin not allowed: not same origin");
  // Extensions, browsers, the forwarded address.
  settings.same_origin = false;
  settings.compression = true;
  auto headers = good;
  headers.emplace_back("Sec-WebSocket-Extensions", "x-other, permessage-deflate; client_max_window_bits");
  headers.emplace_back("User-Agent", "Mozilla/5.0 (Macintosh) Version/17.0 Safari/605.1.15");
  headers.emplace_back("X-Forwarded-For", "203.0.113.7");
  auto agreed = check_upgrade(request_with(headers), settings, now);
  EXPECT_TRUE(agreed.compress);
  EXPECT_TRUE(agreed.browser);
  EXPECT_TRUE(agreed.no_compressed_fragments);
  EXPECT_EQ(agreed.forwarded_for, "203.0.113.7");
  headers.back().second = "203.0.113.7, 10.0.0.1";  // a list is not one address: ignored
  EXPECT_EQ(check_upgrade(request_with(headers), settings, now).forwarded_for, "");
}

TEST(WebSocketDeflate, RoundTripsWithoutContextTakeover) {
  message_deflater deflater;
  message_inflater inflater;
  for (const std::string& text : {std::string("MSG a 1 5\r\nhello\r\n"), std::string(100000, 'q'), std::string()}) {
    std::string compressed;
    ASSERT_TRUE(deflater.compress(text, compressed));
    std::string out;
    ASSERT_TRUE(inflater.inflate(compressed, out, 1 << 20));
    EXPECT_EQ(out, text);
  }
  std::string compressed;
  ASSERT_TRUE(deflater.compress(std::string(100000, 'q'), compressed));
  std::string out;
  EXPECT_FALSE(inflater.inflate(compressed, out, 1000));  // over the limit
}

}  // namespace
}  // namespace courier::broker::websocket
