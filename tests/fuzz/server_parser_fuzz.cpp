// libFuzzer target: server_parser, same differential checks as the client one.
#include "protocol/parser.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace courier::protocol;
  fuzzing::check_split_invariance<server_parser, testing::server_recorder>(
      data, size, [](auto&, std::uint8_t) {});
  return 0;
}
