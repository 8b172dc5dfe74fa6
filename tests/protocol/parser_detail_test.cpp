#include "protocol/parser_detail.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "parser_test_support.hpp"

namespace courier::protocol::detail {
namespace {

using testing::escape;

// The plain rules split_pub_args must give, written the obvious way:
// split_args<space_tab> into tokens, then nats-server's count and size checks
// (processPub / processHeaderPub) in their order.
template <bool Headers>
pub_args_status reference_split(std::string_view arg, message_args& out) {
  std::string_view tokens[4];
  const std::size_t n = split_args<separators::space_tab>(arg, tokens, 4);
  const std::size_t fewest = Headers ? 3 : 2;
  if (n != fewest && n != fewest + 1) return pub_args_status::bad_arguments;
  out.subject = tokens[0];
  out.reply = n == fewest + 1 ? tokens[1] : std::string_view();
  out.total_size_text = tokens[n - 1];
  out.total_size = parse_size(tokens[n - 1]);
  if constexpr (Headers) {
    out.header_size_text = tokens[n - 2];
    out.header_size = parse_size(tokens[n - 2]);
    if (out.header_size < 0) return pub_args_status::bad_header_size;
    if (out.total_size < 0) return pub_args_status::bad_arguments;
    if (out.header_size > out.total_size) return pub_args_status::bad_header_size;
  } else {
    if (out.total_size < 0) return pub_args_status::bad_arguments;
  }
  return pub_args_status::ok;
}

std::string describe(pub_args_status status, const message_args& a, bool headers) {
  std::string out = std::to_string(static_cast<int>(status));
  if (status != pub_args_status::ok) return out;
  for (std::string_view part : {a.subject, a.reply, a.total_size_text}) {
    out += '|';
    out += escape(part);
  }
  out += '=';
  out += std::to_string(a.total_size);
  if (headers) {
    out += '|';
    out += escape(a.header_size_text);
    out += '=';
    out += std::to_string(a.header_size);
  }
  return out;
}

template <bool Headers>
void expect_same_as_reference(std::string_view arg) {
  message_args fast;
  message_args reference;
  const pub_args_status fast_status = split_pub_args<Headers>(arg, fast);
  const pub_args_status reference_status = reference_split<Headers>(arg, reference);
  ASSERT_EQ(describe(fast_status, fast, Headers), describe(reference_status, reference, Headers))
      << (Headers ? "HPUB " : "PUB ") << escape(arg);
  if (fast_status == pub_args_status::ok) {
    // Views into the argument text, not copies.
    EXPECT_EQ(fast.subject.data(), reference.subject.data());
    if (!fast.reply.empty()) {
      EXPECT_EQ(fast.reply.data(), reference.reply.data());
    }
    EXPECT_EQ(fast.total_size_text.data(), reference.total_size_text.data());
    EXPECT_EQ(fast.header_size, Headers ? reference.header_size : -1);
  }
}

void expect_both(std::string_view arg) {
  expect_same_as_reference<false>(arg);
  expect_same_as_reference<true>(arg);
}

TEST(split_pub_args, table) {
  const std::vector<std::string> args = {
      "", " ", "\t", "a", "1", "a 1", "a  1", "a\t1", "a \t 1", "a 1 ", "a 1\t\t", " a 1",
      "a r 1", "a\tr\t1", "a  r  1 ", "a r s 1", "a r s t 1", "a 2 1", "a 1 2", "a 1 2 3",
      "a 0", "a 000000001", "a 999999999", "a 1000000000", "a 0000000000", "a +1", "a -1",
      "a 1x", "a x1", "a 1\r", "a\r 1", "a \r 1", "a\rb 1", "\r 1", "a \r", "a 1\n", "a\n1",
      "a 12 14", "a r 12 14", "a 15 14", "a x 14", "a 2 x", "a 0 0", "a r 0 0", "a r s 0 0",
      "bench.subject 16", "bench.subject _INBOX.abcdefghijklmnop.1234 16",
      "orders.eu.created.v1.extra 1024", "orders.eu.created\t\t_INBOX.x\t0000016",
      "subject.with.\x01.control 5", "subject\x7f\x80\xff.utf8 7", "s\x01\x02\x03\x04\x05\x06\x07\x08 1",
      "a_long_subject_of_exactly_32_byte 1", "abcdefg 1", "abcdefgh 1", "abcdefghi 1",
      "abcdefgh ijklmnop 1", "abcdefghijklmno\tpqrstuvwxyz12345\t12 14",
  };
  for (const auto& arg : args) expect_both(arg);
}

TEST(split_pub_args, random_against_reference) {
  // Short alphabets make separators, digits and odd bytes meet in every
  // position, including around the 8-byte words find_space_tab reads.
  const std::string alphabet = std::string("aZ.01239 \t\r\n\x01\x80_") + '\0';
  std::mt19937 rng(2024);
  for (int round = 0; round < 200000; ++round) {
    const std::size_t size = std::uniform_int_distribution<std::size_t>(0, 40)(rng);
    std::string arg;
    const bool mostly_letters = round % 2 == 0;
    for (std::size_t i = 0; i < size; ++i) {
      const std::size_t pick = std::uniform_int_distribution<std::size_t>(0, alphabet.size() - 1)(rng);
      arg += mostly_letters && pick > 8 && rng() % 4 != 0 ? 'x' : alphabet[pick];
    }
    expect_both(arg);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(split_pub_args, every_token_length_and_position) {
  // Subject and reply lengths 1..24 around every word boundary, separated by
  // one or two separators, so each tail case of find_space_tab is met.
  for (std::size_t subject = 1; subject <= 24; ++subject) {
    for (std::size_t reply = 0; reply <= 24; ++reply) {
      for (const char* gap : {" ", "\t", " \t"}) {
        std::string arg = std::string(subject, 's');
        if (reply > 0) arg += gap + std::string(reply, 'r');
        expect_both(arg + gap + "16");
        expect_both(arg + gap + "4" + gap + "16");
        expect_both(arg + "\r" + gap + "16");  // \r stays inside the token
        if (::testing::Test::HasFatalFailure()) return;
      }
    }
  }
}

TEST(find_space_tab, matches_a_byte_loop) {
  std::mt19937 rng(99);
  const std::string alphabet = std::string("ab \t\r\n\x01\x20\x21\x7f\x80\xff") + '\0';
  for (int round = 0; round < 100000; ++round) {
    const std::size_t size = std::uniform_int_distribution<std::size_t>(0, 30)(rng);
    std::string text;
    for (std::size_t i = 0; i < size; ++i) {
      text += rng() % 3 == 0 ? alphabet[rng() % alphabet.size()] : 'q';
    }
    const std::size_t to = size == 0 ? 0 : rng() % (size + 1);
    const std::size_t from = to == 0 ? 0 : rng() % (to + 1);
    std::size_t expected = from;
    while (expected < to && text[expected] != ' ' && text[expected] != '\t') ++expected;
    ASSERT_EQ(find_space_tab(text.data(), from, to), expected)
        << escape(text) << " [" << from << ", " << to << ")";
  }
}

TEST(parse_size, rules) {
  EXPECT_EQ(parse_size("0"), 0);
  EXPECT_EQ(parse_size("007"), 7);
  EXPECT_EQ(parse_size("999999999"), 999999999);
  EXPECT_EQ(parse_size("1000000000"), -1);
  EXPECT_EQ(parse_size(""), -1);
  EXPECT_EQ(parse_size("+1"), -1);
  EXPECT_EQ(parse_size("1 "), -1);
}

}  // namespace
}  // namespace courier::protocol::detail
