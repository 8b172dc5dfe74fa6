// libFuzzer target: client_parser must report the same ops whether the input
// arrives at once, in random chunks, a byte at a time, or with a stop after
// every op; it must never read out of bounds or keep stale views (ASan).
// The word-at-a-time subject check and short copies/compares of the data
// path must agree with their byte-by-byte definitions on the same input.
#include <string>
#include <string_view>

#include "protocol/parser.hpp"
#include "protocol/short_bytes.hpp"
#include "protocol/subject.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace courier::protocol;
  fuzzing::check_split_invariance<client_parser, testing::client_recorder>(
      data, size, [](auto& parser, std::uint8_t config) {
        parser.set_headers_supported((config & 0x10) == 0);
      });
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (is_valid_literal_subject(input) != detail::is_valid_literal_subject_by_bytes(input)) __builtin_trap();
  const std::string_view left = input.substr(0, size / 2);
  const std::string_view right = input.substr(size / 2, size / 2);
  if (equal_bytes(left, right) != (left == right)) __builtin_trap();
  std::string copy(size, '\0');
  copy_bytes(copy.data(), input.data(), size);
  if (copy != input) __builtin_trap();
  return 0;
}
