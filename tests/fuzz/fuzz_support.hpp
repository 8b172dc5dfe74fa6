// Shared by the parser fuzz targets: the differential "same ops however the
// input is cut" check.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "parser_test_support.hpp"

namespace courier::protocol::fuzzing {

/// A small deterministic generator seeded from the input, for chunk sizes.
struct splitmix {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
};

/// Feeds `input` in pieces given by `next_size`, each piece in its own heap
/// buffer (so ASan sees any view kept past its feed), resuming after a
/// callback that stopped the parser. Checks feed()'s return value contract.
template <class Parser, class Recorder, class NextSize>
std::vector<std::string> feed_pieces(Parser& parser, Recorder& recorder, std::string_view input,
                                     NextSize next_size) {
  std::size_t at = 0;
  while (at < input.size()) {
    const std::size_t n = std::min(input.size() - at, std::max<std::size_t>(1, next_size()));
    std::vector<char> piece(input.begin() + static_cast<std::ptrdiff_t>(at),
                            input.begin() + static_cast<std::ptrdiff_t>(at + n));
    std::size_t offset = 0;
    while (offset < piece.size()) {
      const bool failed_before = parser.failed();
      const std::size_t used = parser.feed(piece.data() + offset, piece.size() - offset, recorder);
      if (failed_before && used != 0) std::abort();  // failed parsers consume nothing
      if (used > piece.size() - offset) std::abort();
      offset += used;
      if (parser.failed()) break;
      if (used == 0) std::abort();  // a live parser always makes progress
    }
    if (parser.failed()) break;
    at += n;
  }
  // Nothing is ever reported after an error.
  for (std::size_t i = 0; i + 1 < recorder.ops.size(); ++i) {
    if (recorder.ops[i].rfind("ERROR|", 0) == 0) std::abort();
  }
  return recorder.ops;
}

/// `op`'s first 200 bytes, printable: other bytes as \xNN (an op may hold
/// NUL and control bytes, which would cut or garble the report).
inline std::string printable(const std::string& op) {
  std::string out;
  for (unsigned char c : op.substr(0, 200)) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", c);
      out += escaped;
    }
  }
  return out;
}

[[noreturn]] inline void report_mismatch(const char* what, const std::vector<std::string>& a,
                                         const std::vector<std::string>& b) {
  std::fprintf(stderr, "%s: %zu ops vs %zu ops\n", what, a.size(), b.size());
  for (std::size_t i = 0; i < a.size() || i < b.size(); ++i) {
    std::fprintf(stderr, "  [%zu] %s  |  %s\n", i, i < a.size() ? printable(a[i]).c_str() : "-",
                 i < b.size() ? printable(b[i]).c_str() : "-");
  }
  std::abort();
}

/// The limits a target's configuration byte selects (its low four bits):
/// nats-server's defaults, tiny ones, no payload limit, a zero payload.
inline parser_limits limits_for(std::uint8_t config) {
  parser_limits limits;
  const std::size_t control_lines[] = {4096, 16, 64, 1};
  limits.max_control_line = control_lines[config & 3];
  const std::int64_t payloads[] = {1024 * 1024, 8, -1, 0};
  limits.max_payload = payloads[(config >> 2) & 3];
  return limits;
}

/// The split check shared by every target: `decode(next_size)` reads
/// `input` in pieces of next_size() bytes and returns what it saw as text;
/// random chunks (seeded by `seed`) and, for inputs up to 2 KiB, a byte at a
/// time must give `whole`, in which nothing may follow an error (a line
/// starting with `error_prefix`).
template <class Decode>
void expect_same_for_any_split(const std::vector<std::string>& whole, std::string_view input,
                               std::uint64_t seed, std::string_view error_prefix, Decode decode) {
  for (std::size_t i = 0; i + 1 < whole.size(); ++i) {
    if (whole[i].rfind(error_prefix, 0) == 0) std::abort();
  }
  splitmix rng{seed};
  const auto chunked = decode([&] { return static_cast<std::size_t>(rng.next() % 17 + 1); });
  if (chunked != whole) report_mismatch("random chunks differ from whole", whole, chunked);
  if (input.size() <= 2048) {
    const auto bytes = decode([] { return std::size_t{1}; });
    if (bytes != whole) report_mismatch("byte-at-a-time differs from whole", whole, bytes);
  }
}

/// Runs the differential check for one parser type: all at once, random
/// chunks, byte at a time (short inputs), and stopping after every op.
template <template <class> class Parser, class Recorder, class Configure>
void check_split_invariance(const std::uint8_t* data, std::size_t size, Configure configure) {
  if (size < 2) return;
  // First two bytes: configuration and chunking seed; the rest is the wire.
  const std::uint8_t config = data[0];
  const std::uint8_t seed = data[1];
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  const parser_limits limits = limits_for(config);

  auto run = [&](auto next_size, std::optional<std::size_t> stop_every) {
    Parser<Recorder> parser(limits);
    configure(parser, config);
    Recorder recorder;
    if (!stop_every) return feed_pieces(parser, recorder, input, next_size);
    // Stop after every op: the callback returns false, the caller resumes.
    std::vector<std::string> ops;
    std::size_t at = 0;
    while (at < input.size() && !parser.failed()) {
      recorder.stop_after = recorder.ops.size();
      const std::size_t used = parser.feed(input.data() + at, input.size() - at, recorder);
      if (used == 0 && !parser.failed()) std::abort();
      at += used;
    }
    return recorder.ops;
  };

  const auto whole = run([&] { return input.size(); }, std::nullopt);
  expect_same_for_any_split(whole, input, seed * 0x100000001b3ULL + size, "ERROR|",
                            [&](auto next_size) { return run(next_size, std::nullopt); });
  const auto stopped = run([&] { return input.size(); }, std::size_t{1});
  if (stopped != whole) report_mismatch("stop-and-resume differs from whole", whole, stopped);
}

}  // namespace courier::protocol::fuzzing
