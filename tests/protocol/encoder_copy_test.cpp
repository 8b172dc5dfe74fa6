// The encoders copy short fields with fixed-size overlapping moves
// (encoder_detail::put); every length around the thresholds must come out
// byte for byte, and nothing outside the field may be touched.
#include <cstddef>
#include <string>

#include <gtest/gtest.h>

#include "protocol/encoder.hpp"

namespace courier::protocol {
namespace {

TEST(encoder_copy, every_length_is_copied_exactly_and_nothing_around_it) {
  for (std::size_t n = 0; n <= 80; ++n) {
    std::string source;
    for (std::size_t i = 0; i < n; ++i) source.push_back(static_cast<char>('a' + (i * 7) % 26));
    std::string target(n + 32, '#');
    char* end = encoder_detail::put(target.data() + 16, std::string_view(source));
    EXPECT_EQ(end, target.data() + 16 + n) << "length " << n;
    EXPECT_EQ(target.substr(0, 16), std::string(16, '#')) << "length " << n;
    EXPECT_EQ(target.substr(16, n), source) << "length " << n;
    EXPECT_EQ(target.substr(16 + n), std::string(16, '#')) << "length " << n;
  }
}

TEST(encoder_copy, msg_lines_with_fields_of_every_short_length) {
  for (std::size_t n = 1; n <= 40; ++n) {
    const std::string subject(n, 's');
    const std::string sid = std::to_string(n);
    const std::string reply(n, 'r');
    const std::string payload(n, 'p');
    std::string out;
    append_msg(out, subject, sid, reply, payload);
    EXPECT_EQ(out, "MSG " + subject + " " + sid + " " + reply + " " + std::to_string(n) + "\r\n" + payload + "\r\n");
  }
}

}  // namespace
}  // namespace courier::protocol
