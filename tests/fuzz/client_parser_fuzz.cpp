// libFuzzer target: client_parser must report the same ops whether the input
// arrives at once, in random chunks, a byte at a time, or with a stop after
// every op; it must never read out of bounds or keep stale views (ASan).
#include "protocol/parser.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace courier::protocol;
  fuzzing::check_split_invariance<client_parser, testing::client_recorder>(
      data, size, [](auto& parser, std::uint8_t config) {
        parser.set_headers_supported((config & 0x10) == 0);
      });
  return 0;
}
