// libFuzzer target: leaf_parser (the leafnode protocol between servers) must
// report the same operations whether the input arrives at once, in random
// chunks or a byte at a time, report nothing after an error, and read back
// every message it parsed, re-encoded with append_leaf_message, unchanged.
#include "protocol/leaf_parser.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "leaf_recorder.hpp"

namespace {

using courier::protocol::leaf_message;
using courier::protocol::leaf_parser;
using courier::protocol::testing::leaf_recorder;

/// Records like leaf_recorder and keeps each message re-encoded.
struct reencoding_recorder : leaf_recorder {
  std::string reencoded;
  bool on_message(const leaf_message& m) {
    courier::protocol::append_leaf_message(reencoded, m.subject, m.reply, *m.queues, m.headers, m.payload);
    return leaf_recorder::on_message(m);
  }
};

template <class Recorder, class NextSize>
Recorder run(std::string_view input, std::size_t max_control_line, std::int64_t max_payload,
             NextSize next_size) {
  leaf_parser<Recorder> parser(max_control_line, max_payload);
  Recorder recorder;
  std::size_t at = 0;
  while (at < input.size()) {
    const std::size_t n = std::min(input.size() - at, std::max<std::size_t>(1, next_size()));
    // Each piece in its own heap buffer: ASan sees any view kept past its feed.
    std::vector<char> piece(input.begin() + static_cast<std::ptrdiff_t>(at),
                            input.begin() + static_cast<std::ptrdiff_t>(at + n));
    const bool failed = !recorder.ops.empty() && recorder.ops.back().rfind("ERROR ", 0) == 0;
    // All bytes are taken, or none once an error was reported.
    if (parser.feed(piece.data(), piece.size(), recorder) != (failed ? 0 : piece.size())) std::abort();
    at += n;
  }
  return recorder;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace courier::protocol::fuzzing;
  if (size < 2) return 0;
  // First two bytes: limits and chunking seed; the rest is the wire.
  const auto limits = limits_for(data[0]);
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  auto decode = [&](auto next_size) {
    return run<leaf_recorder>(input, limits.max_control_line, limits.max_payload, next_size).ops;
  };
  const auto whole =
      run<reencoding_recorder>(input, limits.max_control_line, limits.max_payload, [&] { return input.size(); });
  expect_same_for_any_split(whole.ops, input, data[1] * 0x100000001b3ULL + size, "ERROR ", decode);
  // The messages, written out again, read back the same (limits off: a
  // re-encoded line may be longer than the original, e.g. "|" inserted).
  std::vector<std::string> messages;
  for (const auto& op : whole.ops) {
    if (op.rfind("MSG ", 0) == 0) messages.push_back(op);
  }
  const auto again = run<leaf_recorder>(whole.reencoded, 1 << 20, -1, [&] { return whole.reencoded.size(); });
  if (again.ops != messages) report_mismatch("re-encoded messages differ", messages, again.ops);
  return 0;
}
