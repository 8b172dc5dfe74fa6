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
#include <benchmark/benchmark.h>

#include <algorithm>
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

}  // namespace

BENCHMARK_MAIN();
