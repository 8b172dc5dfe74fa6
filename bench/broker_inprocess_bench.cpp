// In-process data path: publish -> subscriber callback throughput and
// request/reply latency through a real, started server (no listener), with
// the callbacks run inline on the publisher's thread or on the connection's
// dispatch thread (the default).
//
//   build-perf/bench/broker_inprocess_bench [--benchmark_repetitions=3]
//
// Issue 4 targets: >= 20M msgs/s of 16 B publish -> callback on one core;
// request/reply p50 < 5 us. Latency benchmarks report p50/p99 (us) as
// counters; the time column is the mean.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "broker/in_process.hpp"
#include "broker/server.hpp"

namespace {

using courier::broker::local_client;
using courier::broker::connection_options;
using courier::broker::message;
using courier::broker::message_view;
using courier::broker::request_status;
using courier::broker::server;

/// A started server with no TCP listener and one event loop.
std::unique_ptr<server> make_server() {
  courier::conf::server_options options;
  options.port = -1;
  options.threads = 1;
  auto broker = std::make_unique<server>(options);
  broker->start();
  return broker;
}

connection_options inline_options() {
  connection_options options;
  options.inline_callbacks = true;
  return options;
}

const std::string payload16(16, 'x');

/// publish -> callback on the publishing thread, the handler seeing views:
/// the whole path (subject check, L1 route, delivery) on one core.
void BM_publish_callback_inline_view(benchmark::State& state) {
  auto broker = make_server();
  auto receiver = broker->connect(inline_options());
  auto publisher = broker->connect();
  std::uint64_t received = 0;
  receiver->subscribe_view("bench.subject", [&received](const message_view& m) {
    received += m.payload.size() == 16;
  });
  for (auto _ : state) publisher->publish("bench.subject", payload16);
  if (received != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("lost messages");
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * 16);
  receiver->close();
  publisher->close();
  broker->shutdown();
}
BENCHMARK(BM_publish_callback_inline_view);

/// As above with a handler taking an owning message (four strings copied).
void BM_publish_callback_inline_message(benchmark::State& state) {
  auto broker = make_server();
  auto receiver = broker->connect(inline_options());
  auto publisher = broker->connect();
  std::uint64_t received = 0;
  receiver->subscribe("bench.subject", [&received](const message& m) { received += m.payload.size() == 16; });
  for (auto _ : state) publisher->publish("bench.subject", payload16);
  if (received != static_cast<std::uint64_t>(state.iterations())) state.SkipWithError("lost messages");
  state.SetItemsProcessed(state.iterations());
  receiver->close();
  publisher->close();
  broker->shutdown();
}
BENCHMARK(BM_publish_callback_inline_message);

/// Inline fan-out: one publish, `range(0)` subscriptions on the subject.
void BM_publish_callback_inline_fanout(benchmark::State& state) {
  auto broker = make_server();
  auto receiver = broker->connect(inline_options());
  auto publisher = broker->connect();
  std::uint64_t received = 0;
  for (int i = 0; i < state.range(0); ++i) {
    receiver->subscribe_view("bench.subject", [&received](const message_view&) { ++received; });
  }
  for (auto _ : state) publisher->publish("bench.subject", payload16);
  if (received != static_cast<std::uint64_t>(state.iterations() * state.range(0))) {
    state.SkipWithError("lost messages");
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  receiver->close();
  publisher->close();
  broker->shutdown();
}
BENCHMARK(BM_publish_callback_inline_fanout)->Arg(4);

/// The default mode: messages copied into the receiver's queue and handed to
/// the callback on its dispatch thread (two threads). Each iteration
/// publishes `range(0)` messages and waits until all reached the callback.
void BM_publish_callback_queued(benchmark::State& state) {
  auto broker = make_server();
  auto receiver = broker->connect();
  auto publisher = broker->connect();
  // The count on a cache line of its own: the dispatch thread adds to it
  // for every message, and on the publisher's stack beside the loop's own
  // variables it made every callback wait for that line to come back from
  // the publishing vCPU (a quarter of the samples, in the benchmark itself).
  struct alignas(64) counter {
    std::atomic<std::uint64_t> value{0};
  } received;
  receiver->subscribe("bench.subject", [&received](const message& m) {
    received.value.fetch_add(m.payload.size() == 16, std::memory_order_relaxed);
  });
  const auto batch = state.range(0);
  for (auto _ : state) {
    for (std::int64_t i = 0; i < batch; ++i) publisher->publish("bench.subject", payload16);
    receiver->flush();
  }
  if (received.value.load() != static_cast<std::uint64_t>(state.iterations() * batch)) {
    state.SkipWithError("lost messages");
  }
  state.SetItemsProcessed(state.iterations() * batch);
  receiver->close();
  publisher->close();
  broker->shutdown();
}
BENCHMARK(BM_publish_callback_queued)->Arg(1000)->UseRealTime();

/// Routing alone: nobody subscribed.
void BM_publish_no_interest(benchmark::State& state) {
  auto broker = make_server();
  auto publisher = broker->connect();
  for (auto _ : state) benchmark::DoNotOptimize(publisher->publish("bench.subject", payload16));
  state.SetItemsProcessed(state.iterations());
  publisher->close();
  broker->shutdown();
}
BENCHMARK(BM_publish_no_interest);

/// Round trips timed one by one; p50/p99 in microseconds as counters.
void request_reply(benchmark::State& state, const connection_options& responder_options) {
  auto broker = make_server();
  auto responder = broker->connect(responder_options);
  auto requester = broker->connect();
  const std::string payload(128, 'r');
  responder->subscribe_view("bench.service", [&responder, &payload](const message_view& m) {
    responder->publish(m.reply, payload);
  });
  std::vector<double> micros;
  micros.reserve(1 << 20);
  std::uint64_t failed = 0;
  for (auto _ : state) {
    auto start = std::chrono::steady_clock::now();
    auto result = requester->request("bench.service", payload, std::chrono::seconds(5));
    auto stop = std::chrono::steady_clock::now();
    failed += result.status != request_status::ok;
    if (micros.size() < micros.capacity()) micros.push_back(std::chrono::duration<double, std::micro>(stop - start).count());
  }
  if (failed) state.SkipWithError("requests failed");
  if (!micros.empty()) {
    std::sort(micros.begin(), micros.end());
    state.counters["p50_us"] = micros[micros.size() / 2];
    state.counters["p99_us"] = micros[micros.size() * 99 / 100];
  }
  state.SetItemsProcessed(state.iterations());
  responder->close();
  requester->close();
  broker->shutdown();
}

/// The responder's callback runs inside the request's publish.
void BM_request_reply_inline(benchmark::State& state) { request_reply(state, inline_options()); }
BENCHMARK(BM_request_reply_inline)->UseRealTime();

/// The responder's callback runs on its dispatch thread: two thread hand-offs.
void BM_request_reply_queued(benchmark::State& state) { request_reply(state, connection_options{}); }
BENCHMARK(BM_request_reply_queued)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
