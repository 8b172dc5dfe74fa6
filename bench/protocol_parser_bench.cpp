// Parse throughput of the wire-protocol parsers, in bytes/s of protocol text.
// Each benchmark builds a buffer of many identical ops and feeds it in
// read-sized pieces (64 KiB, like a socket read), so split ops are included
// in their natural proportion. Arg: payload size in bytes.
//
// Baseline (RelWithDebInfo, gcc 12, 2-core shared VM, load average ~15 during
// the run, so these are CPU-time figures; wall time was ~4x longer):
//   BM_parse_pub/16         46.9M msgs/s   1.9 GB/s
//   BM_parse_pub/128        45.5M msgs/s   6.7 GB/s
//   BM_parse_pub/1024       41.5M msgs/s  40.7 GB/s  (payloads are skipped, not scanned)
//   BM_parse_pub_with_reply/16   29.7M msgs/s
//   BM_parse_hpub/128       39.9M msgs/s   7.8 GB/s
//   BM_parse_msg/16         43.5M msgs/s   1.9 GB/s
//   BM_parse_hmsg/128       29.9M msgs/s   5.3 GB/s
//   BM_encode_msg/16        93.1M msgs/s   (append_msg into a reserved std::string)
//   BM_encode_msg/1024      48.6M msgs/s  48.3 GB/s
//
// After whole PUB/HPUBs are parsed in one pass (try_whole_pubs, split_pub_args;
// Release, gcc 12, same VM, load ~2, medians of 3; "before" is the previous
// parser built the same way, run just before):
//                               before                  after
//   BM_parse_pub/16             44.5M msgs/s 1.8GiB/s  115.5M msgs/s  4.7GiB/s
//   BM_parse_pub/128            43.9M msgs/s 6.4GiB/s  107.7M msgs/s 15.7GiB/s
//   BM_parse_pub_with_reply/16  30.0M msgs/s 2.0GiB/s   84.4M msgs/s  5.5GiB/s
//   BM_parse_hpub/16            38.4M msgs/s 3.4GiB/s   90.5M msgs/s  8.1GiB/s
//   BM_parse_msg/16             41.1M msgs/s 1.8GiB/s   39.7M msgs/s  1.7GiB/s (unchanged path)
// Instructions per op (callgrind, --parse-once below), before -> after:
//   pub16 573 -> 198, pub16_reply 849 -> 293, hpub16 691 -> 281, sub 404 -> 409,
//   msg16 585 -> 594.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "protocol/encoder.hpp"
#include "protocol/parser.hpp"

namespace {

using namespace courier::protocol;

constexpr std::size_t read_size = 64 * 1024;
constexpr std::size_t buffer_target = 4 * 1024 * 1024;

struct counting_client_handler {
  std::size_t messages = 0;
  std::size_t bytes = 0;
  bool on_connect(std::string_view) { return true; }
  bool on_pub(std::string_view subject, std::string_view, std::string_view payload) {
    ++messages;
    bytes += payload.size() + subject.size();
    return true;
  }
  bool on_hpub(std::string_view subject, std::string_view, std::string_view headers,
               std::string_view payload) {
    ++messages;
    bytes += headers.size() + payload.size() + subject.size();
    return true;
  }
  bool on_sub(std::string_view, std::string_view, std::string_view) { return true; }
  bool on_unsub(std::string_view, std::optional<std::uint64_t>) { return true; }
  bool on_ping() { return true; }
  bool on_pong() { return true; }
  void on_error(parse_error, std::string_view) { std::abort(); }
};

struct counting_server_handler {
  std::size_t messages = 0;
  std::size_t bytes = 0;
  bool on_info(std::string_view) { return true; }
  bool on_msg(std::string_view subject, std::string_view, std::string_view, std::string_view payload) {
    ++messages;
    bytes += payload.size() + subject.size();
    return true;
  }
  bool on_hmsg(std::string_view subject, std::string_view, std::string_view, std::string_view headers,
               std::string_view payload) {
    ++messages;
    bytes += headers.size() + payload.size() + subject.size();
    return true;
  }
  bool on_ok() { return true; }
  bool on_err(std::string_view) { return true; }
  bool on_ping() { return true; }
  bool on_pong() { return true; }
  void on_error(parse_error, std::string_view) { std::abort(); }
};

template <class Append>
std::string repeat_until_full(Append append) {
  std::string wire;
  while (wire.size() < buffer_target) append(wire);
  return wire;
}

template <template <class> class Parser, class Handler>
void run(benchmark::State& state, const std::string& wire, std::size_t ops_in_wire) {
  Parser<Handler> parser;
  Handler handler;
  for (auto _ : state) {
    for (std::size_t at = 0; at < wire.size(); at += read_size) {
      const std::size_t n = std::min(read_size, wire.size() - at);
      parser.feed(wire.data() + at, n, handler);
    }
    benchmark::DoNotOptimize(handler.bytes);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * ops_in_wire));
}

void BM_parse_pub(benchmark::State& state) {
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'x');
  std::size_t ops = 0;
  const std::string wire = repeat_until_full([&](std::string& out) {
    append_pub(out, "orders.eu.created", "", payload);
    ++ops;
  });
  run<client_parser, counting_client_handler>(state, wire, ops);
}
BENCHMARK(BM_parse_pub)->Arg(0)->Arg(16)->Arg(128)->Arg(1024)->Arg(16384);

void BM_parse_pub_with_reply(benchmark::State& state) {
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'x');
  std::size_t ops = 0;
  const std::string wire = repeat_until_full([&](std::string& out) {
    append_pub(out, "service.lookup", "_INBOX.abcdefghijklmnop.1234", payload);
    ++ops;
  });
  run<client_parser, counting_client_handler>(state, wire, ops);
}
BENCHMARK(BM_parse_pub_with_reply)->Arg(16)->Arg(128);

void BM_parse_hpub(benchmark::State& state) {
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'x');
  const std::string headers = "NATS/1.0\r\nNats-Msg-Id: 0123456789\r\nTrace: on\r\n\r\n";
  std::size_t ops = 0;
  const std::string wire = repeat_until_full([&](std::string& out) {
    append_hpub(out, "orders.eu.created", "", headers, payload);
    ++ops;
  });
  run<client_parser, counting_client_handler>(state, wire, ops);
}
BENCHMARK(BM_parse_hpub)->Arg(16)->Arg(128)->Arg(1024);

void BM_parse_msg(benchmark::State& state) {
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'x');
  std::size_t ops = 0;
  const std::string wire = repeat_until_full([&](std::string& out) {
    append_msg(out, "orders.eu.created", "42", "", payload);
    ++ops;
  });
  run<server_parser, counting_server_handler>(state, wire, ops);
}
BENCHMARK(BM_parse_msg)->Arg(0)->Arg(16)->Arg(128)->Arg(1024)->Arg(16384);

void BM_parse_hmsg(benchmark::State& state) {
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'x');
  std::size_t ops = 0;
  const std::string wire = repeat_until_full([&](std::string& out) {
    append_hmsg(out, "orders.eu.created", "42", "_INBOX.x", "NATS/1.0\r\nA: b\r\n\r\n", payload);
    ++ops;
  });
  run<server_parser, counting_server_handler>(state, wire, ops);
}
BENCHMARK(BM_parse_hmsg)->Arg(16)->Arg(128);

// The hot delivery path: one MSG line + payload appended to an output buffer.
void BM_encode_msg(benchmark::State& state) {
  const std::string payload(static_cast<std::size_t>(state.range(0)), 'x');
  std::string out;
  out.reserve(1 << 20);
  std::size_t messages = 0;
  for (auto _ : state) {
    out.clear();
    for (int i = 0; i < 256; ++i) append_msg(out, "orders.eu.created", "42", "_INBOX.r", payload);
    messages += 256;
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(messages));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(out.size()));
}
BENCHMARK(BM_encode_msg)->Arg(16)->Arg(128)->Arg(1024);

// ---- instruction counts ------------------------------------------------------
//
// `protocol_parser_bench --parse-once=<case>` parses one buffer of that case once,
// outside Google Benchmark, and prints the op count, so callgrind can count the
// parser's instructions per op without the benchmark loop's noise:
//
//   valgrind --tool=callgrind --toggle-collect='*parse_wire_once*'
//       build/bench/protocol_parser_bench --parse-once=pub16
//   (Ir of the collected part) / (ops printed) = instructions per op
//
// Cases: pub16, pub16_reply, hpub16, sub, msg16.

template <template <class> class Parser, class Handler>
[[gnu::noinline]] std::size_t parse_wire_once(const std::string& wire) {
  Parser<Handler> parser;
  Handler handler;
  for (std::size_t at = 0; at < wire.size(); at += read_size) {
    const std::size_t n = std::min(read_size, wire.size() - at);
    parser.feed(wire.data() + at, n, handler);
  }
  benchmark::DoNotOptimize(handler.bytes);
  return handler.messages;
}

struct counting_sub_handler : counting_client_handler {
  bool on_sub(std::string_view subject, std::string_view, std::string_view sid) {
    ++messages;
    bytes += subject.size() + sid.size();
    return true;
  }
};

int parse_once(std::string_view name) {
  constexpr std::size_t target = 1024 * 1024;
  const std::string payload(16, 'x');
  std::string wire;
  std::size_t ops = 0;
  std::size_t parsed = 0;
  const auto fill = [&](auto append) {
    while (wire.size() < target) append(), ++ops;
  };
  if (name == "pub16") {
    fill([&] { append_pub(wire, "bench.subject", "", payload); });
    parsed = parse_wire_once<client_parser, counting_client_handler>(wire);
  } else if (name == "pub16_reply") {
    fill([&] { append_pub(wire, "bench.subject", "_INBOX.abcdefghijklmnop.1234", payload); });
    parsed = parse_wire_once<client_parser, counting_client_handler>(wire);
  } else if (name == "hpub16") {
    fill([&] { append_hpub(wire, "bench.subject", "", "NATS/1.0\r\nA: b\r\n\r\n", payload); });
    parsed = parse_wire_once<client_parser, counting_client_handler>(wire);
  } else if (name == "sub") {
    fill([&] { wire += "SUB bench.subject 42\r\n"; });
    parsed = parse_wire_once<client_parser, counting_sub_handler>(wire);
  } else if (name == "msg16") {
    fill([&] { append_msg(wire, "bench.subject", "42", "", payload); });
    parsed = parse_wire_once<server_parser, counting_server_handler>(wire);
  } else {
    std::fprintf(stderr, "unknown case %.*s\n", static_cast<int>(name.size()), name.data());
    return 2;
  }
  std::printf("%.*s: %zu ops in %zu bytes, %zu parsed\n", static_cast<int>(name.size()), name.data(),
              ops, wire.size(), parsed);
  return parsed == ops ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  constexpr std::string_view flag = "--parse-once=";
  if (argc == 2 && std::strncmp(argv[1], flag.data(), flag.size()) == 0) {
    return parse_once(argv[1] + flag.size());
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
