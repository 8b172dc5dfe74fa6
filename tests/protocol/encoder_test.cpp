#include "protocol/encoder.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "parser_test_support.hpp"
#include "protocol/parser.hpp"

namespace courier::protocol {
namespace {

using testing::client_recorder;
using testing::escape;
using testing::server_recorder;

TEST(encoder, server_ops_exact_bytes) {
  std::string out;
  append_info(out, "{\"server_id\":\"x\"}");
  EXPECT_EQ(out, "INFO {\"server_id\":\"x\"} \r\n");
  out.clear();
  append_msg(out, "foo.bar", "7", "", "hello");
  EXPECT_EQ(out, "MSG foo.bar 7 5\r\nhello\r\n");
  out.clear();
  append_msg(out, "foo", "12", "_INBOX.a", "");
  EXPECT_EQ(out, "MSG foo 12 _INBOX.a 0\r\n\r\n");
  out.clear();
  append_hmsg(out, "foo", "1", "", "NATS/1.0\r\n\r\n", "hi");
  EXPECT_EQ(out, "HMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n");
  out.clear();
  append_hmsg(out, "foo", "1", "r", "NATS/1.0 503\r\n\r\n", "");
  EXPECT_EQ(out, "HMSG foo 1 r 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
  out.clear();
  append_ok(out);
  append_err(out, "Authorization Violation");
  append_ping(out);
  append_pong(out);
  EXPECT_EQ(out, "+OK\r\n-ERR 'Authorization Violation'\r\nPING\r\nPONG\r\n");
  out.clear();
  append_err(out, "multi\r\nline");
  EXPECT_EQ(out, "-ERR 'multi  line'\r\n");
}

TEST(encoder, client_ops_exact_bytes) {
  std::vector<char> buffer;
  append_connect(buffer, "{\"verbose\":false}");
  append_pub(buffer, "a", "", "xyz");
  append_pub(buffer, "a", "r", "");
  append_hpub(buffer, "a", "", "NATS/1.0\r\n\r\n", "b");
  append_hpub(buffer, "a", "r", "NATS/1.0\r\n\r\n", "");
  append_sub(buffer, "a.*", "", "1");
  append_sub(buffer, "a.>", "q", "2");
  append_unsub(buffer, "1");
  append_unsub(buffer, "2", 10);
  append_unsub(buffer, "3", 0);
  EXPECT_EQ(std::string(buffer.begin(), buffer.end()),
            "CONNECT {\"verbose\":false}\r\n"
            "PUB a 3\r\nxyz\r\n"
            "PUB a r 0\r\n\r\n"
            "HPUB a 12 13\r\nNATS/1.0\r\n\r\nb\r\n"
            "HPUB a r 12 12\r\nNATS/1.0\r\n\r\n\r\n"
            "SUB a.* 1\r\n"
            "SUB a.> q 2\r\n"
            "UNSUB 1\r\n"
            "UNSUB 2 10\r\n"
            "UNSUB 3 0\r\n");
}

TEST(encoder, decimal_formatting_edges) {
  const std::uint64_t values[] = {0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 9999, 10000, 10001,
                                  99999, 100000, 1048576, 999999999, 1000000000,
                                  std::numeric_limits<std::uint32_t>::max(),
                                  std::numeric_limits<std::uint64_t>::max() / 10,
                                  std::numeric_limits<std::uint64_t>::max()};
  for (std::uint64_t value : values) {
    char buffer[24];
    char* end = format_decimal(buffer, value);
    EXPECT_EQ(std::string(buffer, end), std::to_string(value));
    EXPECT_EQ(encoder_detail::decimal_digits(value), std::to_string(value).size());
  }
  std::mt19937_64 rng(99);
  for (int i = 0; i < 10000; ++i) {
    const std::uint64_t value = rng() >> (rng() % 64);
    char buffer[24];
    ASSERT_EQ(std::string(buffer, format_decimal(buffer, value)), std::to_string(value));
  }
}

TEST(encoder, msg_prefix_into_stack_buffer) {
  char line[128];
  const std::size_t size = msg_prefix_size("foo", "22", "bar", -1, 1234);
  char* end = format_msg_prefix(line, "foo", "22", "bar", -1, 1234);
  EXPECT_EQ(static_cast<std::size_t>(end - line), size);
  EXPECT_EQ(std::string(line, end), "MSG foo 22 bar 1234\r\n");
  const std::size_t hsize = msg_prefix_size("foo", "22", "", 16, 10);
  end = format_msg_prefix(line, "foo", "22", "", 16, 10);
  EXPECT_EQ(static_cast<std::size_t>(end - line), hsize);
  EXPECT_EQ(std::string(line, end), "HMSG foo 22 16 26\r\n");
}

TEST(encoder, msg_prefix_with_size_text) {
  char line[128];
  char* end = format_msg_prefix_text(line, "foo", "9", "r", "", "002");
  EXPECT_EQ(static_cast<std::size_t>(end - line), msg_prefix_size_text("foo", "9", "r", "", "002"));
  EXPECT_EQ(std::string(line, end), "MSG foo 9 r 002\r\n");
  end = format_msg_prefix_text(line, "foo", "9", "", "0012", "014");
  EXPECT_EQ(static_cast<std::size_t>(end - line), msg_prefix_size_text("foo", "9", "", "0012", "014"));
  EXPECT_EQ(std::string(line, end), "HMSG foo 9 0012 014\r\n");
}

TEST(encoder, no_allocation_with_capacity) {
  std::string out;
  out.reserve(4096);
  const char* data = out.data();
  const std::string payload(100, 'p');
  for (int i = 0; i < 20; ++i) append_msg(out, "subject.x", "123", "reply.y", payload);
  EXPECT_EQ(out.data(), data);  // never reallocated
  EXPECT_EQ(out.capacity(), 4096u);
  std::vector<char> vec;
  vec.reserve(4096);
  const char* vec_data = vec.data();
  for (int i = 0; i < 20; ++i) append_hmsg(vec, "subject.x", "123", "", "NATS/1.0\r\n\r\n", payload);
  EXPECT_EQ(vec.data(), vec_data);
}

std::string random_token(std::mt19937& rng, std::size_t max_len) {
  static constexpr std::string_view chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789_-$.*>";
  std::string token(std::uniform_int_distribution<std::size_t>(1, max_len)(rng), 'a');
  for (char& c : token) c = chars[std::uniform_int_distribution<std::size_t>(0, chars.size() - 1)(rng)];
  return token;
}

std::string random_payload(std::mt19937& rng) {
  std::string payload(std::uniform_int_distribution<std::size_t>(0, 300)(rng), '\0');
  for (char& c : payload) c = static_cast<char>(rng() & 0xff);  // any bytes, CRLF included
  return payload;
}

TEST(encoder, round_trip_server_ops_through_server_parser) {
  std::mt19937 rng(2024);
  std::string wire;
  std::vector<std::string> expected;
  for (int i = 0; i < 500; ++i) {
    const std::string subject = random_token(rng, 30);
    const std::string sid = std::to_string(rng() % 100000);
    const std::string reply = rng() % 2 ? random_token(rng, 20) : std::string();
    const std::string payload = random_payload(rng);
    switch (rng() % 6) {
      case 0:
        append_msg(wire, subject, sid, reply, payload);
        expected.push_back("MSG|" + escape(subject) + "|" + sid + "|" + escape(reply) + "|" + escape(payload));
        break;
      case 1: {
        const std::string headers = "NATS/1.0\r\nK: " + random_token(rng, 10) + "\r\n\r\n";
        append_hmsg(wire, subject, sid, reply, headers, payload);
        expected.push_back("HMSG|" + escape(subject) + "|" + sid + "|" + escape(reply) + "|" +
                           escape(headers) + "|" + escape(payload));
        break;
      }
      case 2:
        append_info(wire, "{\"n\":" + sid + "}");
        expected.push_back("INFO|{\"n\":" + sid + "} ");
        break;
      case 3:
        append_err(wire, "Error " + sid);
        expected.push_back("-ERR|Error " + sid);
        break;
      case 4:
        append_ping(wire);
        expected.push_back("PING");
        break;
      default:
        append_ok(wire);
        expected.push_back("+OK");
        break;
    }
  }
  server_recorder recorder;
  server_parser<server_recorder> parser;
  // In random chunks, to exercise the split paths too.
  std::size_t at = 0;
  while (at < wire.size()) {
    const std::size_t n = std::min(wire.size() - at, std::uniform_int_distribution<std::size_t>(1, 500)(rng));
    ASSERT_EQ(parser.feed(wire.data() + at, n, recorder), n);
    at += n;
  }
  EXPECT_EQ(recorder.ops, expected);
}

TEST(encoder, round_trip_client_ops_through_client_parser) {
  std::mt19937 rng(77);
  std::string wire;
  std::vector<std::string> expected;
  for (int i = 0; i < 500; ++i) {
    const std::string subject = random_token(rng, 30);
    const std::string reply = rng() % 2 ? random_token(rng, 20) : std::string();
    const std::string payload = random_payload(rng);
    const std::string sid = std::to_string(rng() % 1000);
    switch (rng() % 6) {
      case 0:
        append_pub(wire, subject, reply, payload);
        expected.push_back("PUB|" + escape(subject) + "|" + escape(reply) + "|" + escape(payload));
        break;
      case 1: {
        const std::string headers = "NATS/1.0\r\nA: 1\r\n\r\n";
        append_hpub(wire, subject, reply, headers, payload);
        expected.push_back("HPUB|" + escape(subject) + "|" + escape(reply) + "|" + escape(headers) + "|" +
                           escape(payload));
        break;
      }
      case 2:
        append_sub(wire, subject, reply, sid);
        expected.push_back("SUB|" + escape(subject) + "|" + escape(reply) + "|" + sid);
        break;
      case 3: {
        const std::optional<std::uint64_t> max =
            rng() % 2 ? std::optional<std::uint64_t>(rng() % 1000000) : std::nullopt;
        append_unsub(wire, sid, max);
        expected.push_back("UNSUB|" + sid + "|" + (max ? std::to_string(*max) : std::string("-")));
        break;
      }
      case 4:
        append_connect(wire, "{\"name\":\"" + sid + "\"}");
        expected.push_back("CONNECT|{\"name\":\"" + sid + "\"}");
        break;
      default:
        append_pong(wire);
        expected.push_back("PONG");
        break;
    }
  }
  client_recorder recorder;
  client_parser<client_recorder> parser;
  ASSERT_EQ(parser.feed(wire.data(), wire.size(), recorder), wire.size());
  EXPECT_EQ(recorder.ops, expected);
}

}  // namespace
}  // namespace courier::protocol
