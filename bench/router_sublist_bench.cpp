// Sublist benchmarks, one for one with nats-server's own (server/sublist_test.go
// in nats-server 2.9.10, Benchmark*Sublist*), so the two can be compared on
// the same machine. Names keep nats-server's, minus its underscore padding.
//
// The shared tree: every dotted combination, 1 to 5 tokens deep, of the 8 tokens
// synadia nats jetstream nkeys jwt deny auth drain (8+64+512+4096+32768 =
// 37,448 subscriptions), plus cloud.>, cloud.nats.component.> and
// cloud.*.*.nkeys.*, in a router with the cache on.
//
// Multi-threaded workloads report wall time divided by the total operations
// of all threads, as Go's do (b.N split between goroutines).
#include "broker/router/sublist.hpp"

#include <benchmark/benchmark.h>

#include <barrier>
#include <chrono>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using courier::broker::match_result;
using courier::broker::sublist;
using courier::broker::sublist_l1_cache;
using courier::broker::sublist_read_scope;
using courier::broker::subscription;

std::shared_ptr<subscription> make_sub(std::string subject, std::string queue = {}) {
  auto sub = std::make_shared<subscription>();
  sub->subject = std::move(subject);
  sub->queue = std::move(queue);
  return sub;
}

void add_combinations(const std::string& prefix, int depth,
                      std::vector<std::shared_ptr<subscription>>& out) {
  static const char* const tokens[] = {"synadia", "nats", "jetstream", "nkeys",
                                       "jwt",     "deny", "auth",      "drain"};
  for (const char* token : tokens) {
    std::string subject = prefix.empty() ? token : prefix + "." + token;
    out.push_back(make_sub(subject));
    if (depth < 5) add_combinations(subject, depth + 1, out);
  }
}

const std::vector<std::shared_ptr<subscription>>& tree_subs() {
  static const auto subs = [] {
    std::vector<std::shared_ptr<subscription>> out;
    add_combinations("", 1, out);
    return out;
  }();
  return subs;
}

sublist& tree() {
  static sublist& list = *[] {
    auto* list = new sublist(true);
    for (const auto& sub : tree_subs()) list->insert(sub);
    list->insert(make_sub("cloud.>"));
    list->insert(make_sub("cloud.nats.component.>"));
    list->insert(make_sub("cloud.*.*.nkeys.*"));
    return list;
  }();
  return list;
}

// --- Insert ------------------------------------------------------------------

void insert_bench(benchmark::State& state, bool cache) {
  const auto& subs = tree_subs();
  sublist list(cache);
  std::size_t i = 0;
  for (auto _ : state) {
    list.insert(subs[i]);
    if (++i == subs.size()) i = 0;
  }
  if (state.iterations() >= static_cast<benchmark::IterationCount>(subs.size())) {
    if (list.count() != subs.size()) state.SkipWithError("wrong count");
  }
}

void SublistInsert(benchmark::State& state) { insert_bench(state, true); }
void SublistInsertNoCache(benchmark::State& state) { insert_bench(state, false); }
BENCHMARK(SublistInsert);
BENCHMARK(SublistInsertNoCache);

// --- Match through the cache ---------------------------------------------------

// One read scope per match (it opens and closes the epoch section each time),
// so each iteration does what a publisher routing one message does.
void match_bench(benchmark::State& state, std::string_view subject, std::size_t expected) {
  sublist& list = tree();
  if (list.match(subject)->plain.size() != expected) state.SkipWithError("wrong result");
  for (auto _ : state) {
    sublist_read_scope scope;
    benchmark::DoNotOptimize(&scope.match(list, subject));
  }
}

/// The same through match(subject), which hands out a shared_ptr the caller
/// may keep: one reference count increment and decrement more per match.
void match_owned_bench(benchmark::State& state, std::string_view subject, std::size_t expected) {
  sublist& list = tree();
  if (list.match(subject)->plain.size() != expected) state.SkipWithError("wrong result");
  for (auto _ : state) benchmark::DoNotOptimize(list.match(subject));
}

/// The same through a per-thread L1 cache (how the broker's event loops match).
void match_l1_bench(benchmark::State& state, std::string_view subject, std::size_t expected) {
  sublist& list = tree();
  sublist_l1_cache l1;
  if (l1.match(list, subject)->plain.size() != expected) state.SkipWithError("wrong result");
  for (auto _ : state) benchmark::DoNotOptimize(l1.match(list, subject).get());
}

#define COURIER_MATCH_BENCH(name, subject, expected)                                        \
  void name(benchmark::State& state) { match_bench(state, subject, expected); }             \
  void name##Owned(benchmark::State& state) { match_owned_bench(state, subject, expected); } \
  void name##L1(benchmark::State& state) { match_l1_bench(state, subject, expected); }       \
  BENCHMARK(name);                                                                          \
  BENCHMARK(name##Owned);                                                                   \
  BENCHMARK(name##L1)

COURIER_MATCH_BENCH(SublistMatchSingleToken, "synadia", 1);
COURIER_MATCH_BENCH(SublistMatchTwoTokens, "synadia.nats", 1);
COURIER_MATCH_BENCH(SublistMatchThreeTokens, "synadia.nats.jetstream", 1);
COURIER_MATCH_BENCH(SublistMatchFourTokens, "synadia.nats.jetstream.nkeys", 1);
COURIER_MATCH_BENCH(SublistMatchFourTokensSingleResult, "synadia.nats.jetstream.nkeys", 1);
COURIER_MATCH_BENCH(SublistMatchFourTokensMultiResults, "cloud.nats.component.router", 2);
COURIER_MATCH_BENCH(SublistMissOnLastTokenOfFive, "synadia.nats.jetstream.nkeys.ZZZZ", 0);

// --- Concurrent readers ------------------------------------------------------

void multi_read(benchmark::State& state) {
  sublist& list = tree();
  const std::string_view subject = "synadia.nats.jetstream.nkeys";
  for (auto _ : state) {
    sublist_read_scope scope;
    benchmark::DoNotOptimize(&scope.match(list, subject));
  }
}
void Sublist10XMultipleReads(benchmark::State& state) { multi_read(state); }
void Sublist100XMultipleReads(benchmark::State& state) { multi_read(state); }
BENCHMARK(Sublist10XMultipleReads)->Threads(10)->UseRealTime();
BENCHMARK(Sublist100XMultipleReads)->Threads(100)->UseRealTime();

void multi_read_owned(benchmark::State& state) {
  sublist& list = tree();
  const std::string_view subject = "synadia.nats.jetstream.nkeys";
  for (auto _ : state) benchmark::DoNotOptimize(list.match(subject));
}
void Sublist10XMultipleReadsOwned(benchmark::State& state) { multi_read_owned(state); }
BENCHMARK(Sublist10XMultipleReadsOwned)->Threads(10)->UseRealTime();

void multi_read_l1(benchmark::State& state) {
  sublist& list = tree();
  sublist_l1_cache l1;
  const std::string_view subject = "synadia.nats.jetstream.nkeys";
  for (auto _ : state) benchmark::DoNotOptimize(l1.match(list, subject).get());
}
void Sublist10XMultipleReadsL1(benchmark::State& state) { multi_read_l1(state); }
BENCHMARK(Sublist10XMultipleReadsL1)->Threads(10)->UseRealTime();

// --- 512 subscriptions on one subject, no cache (nats-server's name says 10k) --

void SublistMatch10kSubsWithNoCache(benchmark::State& state) {
  constexpr std::size_t subs = 512;
  sublist list(false);
  for (std::size_t i = 0; i < subs; ++i) list.insert(make_sub("foo"));
  for (auto _ : state) {
    auto result = list.match("foo");
    if (result->plain.size() != subs) state.SkipWithError("wrong result");
    benchmark::DoNotOptimize(result);
  }
}
BENCHMARK(SublistMatch10kSubsWithNoCache);

// --- Removes ---------------------------------------------------------------------
// As nats-server: insert N subscriptions (untimed), then time removing them
// all, one by one or in one batch; reported per removal. N is fixed here
// (nats-server lets b.N grow) to bound memory on a shared machine.

void remove_bench(benchmark::State& state, bool single_subject, bool batch, const char* queue) {
  const auto total = static_cast<std::size_t>(state.max_iterations);
  sublist list(true);
  std::vector<std::shared_ptr<subscription>> subs;
  subs.reserve(total);
  for (std::size_t i = 0; i < total; ++i) {
    // nats-server's subjects are fmt.Sprintf("%s.%d\n", "foo", i), newline included.
    subs.push_back(make_sub(single_subject ? "foo" : "foo." + std::to_string(i) + "\n", queue));
    list.insert(subs.back());
  }
  const auto began = std::chrono::steady_clock::now();
  if (batch) {
    list.remove_batch(subs);
  } else {
    for (const auto& sub : subs) list.remove(sub);
  }
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  if (list.count() != 0) state.SkipWithError("not empty");
  for (auto _ : state) state.SetIterationTime(elapsed / static_cast<double>(total));
}
void SublistRemove1TokenSingle(benchmark::State& s) { remove_bench(s, true, false, ""); }
void SublistRemove1TokenBatch(benchmark::State& s) { remove_bench(s, true, true, ""); }
void SublistRemove2TokensSingle(benchmark::State& s) { remove_bench(s, false, false, ""); }
void SublistRemove2TokensBatch(benchmark::State& s) { remove_bench(s, false, true, ""); }
void SublistRemove1TokenQGSingle(benchmark::State& s) { remove_bench(s, true, false, "bar"); }
void SublistRemove1TokenQGBatch(benchmark::State& s) { remove_bench(s, true, true, "bar"); }
BENCHMARK(SublistRemove1TokenSingle)->Iterations(200000)->UseManualTime();
BENCHMARK(SublistRemove1TokenBatch)->Iterations(200000)->UseManualTime();
BENCHMARK(SublistRemove2TokensSingle)->Iterations(200000)->UseManualTime();
BENCHMARK(SublistRemove2TokensBatch)->Iterations(200000)->UseManualTime();
BENCHMARK(SublistRemove1TokenQGSingle)->Iterations(200000)->UseManualTime();
BENCHMARK(SublistRemove1TokenQGBatch)->Iterations(200000)->UseManualTime();

// --- Matches racing inserts and removes (cache contention) ---------------------
// 10,000 subscriptions foo.bar.baz.N and a warm cache; M matcher threads miss
// on purpose (foo.bar.baz.<random id>) while A adders insert new subjects and R
// removers remove random ones, until the matchers are done.

/// A 22-character random id (nats-server uses a NUID), written in place.
struct random_id {
  std::mt19937_64 rng{std::random_device{}()};
  char text[22];
  std::string_view next() {
    static const char digits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (int part = 0; part < 2; ++part) {
      std::uint64_t bits = rng();
      for (int i = 0; i < 11; ++i) {
        text[part * 11 + i] = digits[bits % 62];
        bits /= 62;
      }
    }
    return {text, sizeof text};
  }
};

void cache_contention(benchmark::State& state) {
  const int matchers = static_cast<int>(state.range(0));
  const int adders = matchers;
  const int removers = matchers;
  const auto total = static_cast<std::int64_t>(state.max_iterations);

  sublist list(true);
  std::shared_mutex subs_mutex;
  std::vector<std::shared_ptr<subscription>> subs;
  for (int i = 0; i < 10000; ++i) {
    subs.push_back(make_sub("foo.bar.baz." + std::to_string(i)));
    list.insert(subs.back());
  }
  for (std::size_t i = 0; i < sublist::cache_max; ++i) list.match("foo.bar.baz." + std::to_string(i));

  std::atomic<bool> quit{false};
  std::barrier start(matchers + adders + removers + 1);
  std::barrier matchers_done(matchers + 1);
  std::vector<std::thread> threads;
  for (int i = 0; i < adders; ++i) {
    threads.emplace_back([&] {
      start.arrive_and_wait();
      while (!quit.load(std::memory_order_relaxed)) {
        std::shared_ptr<subscription> sub;
        {
          std::unique_lock lock(subs_mutex);
          sub = make_sub("foo.bar.baz." + std::to_string(subs.size()));
          subs.push_back(sub);
        }
        list.insert(sub);
      }
    });
  }
  for (int i = 0; i < removers; ++i) {
    threads.emplace_back([&] {
      std::mt19937_64 rng{std::random_device{}()};
      start.arrive_and_wait();
      while (!quit.load(std::memory_order_relaxed)) {
        std::shared_ptr<subscription> sub;
        {
          std::shared_lock lock(subs_mutex);
          sub = subs[rng() % (subs.size() - 1)];
        }
        list.remove(sub);
      }
    });
  }
  for (int i = 0; i < matchers; ++i) {
    threads.emplace_back([&] {
      random_id id;
      char subject[12 + 22];
      std::memcpy(subject, "foo.bar.baz.", 12);
      start.arrive_and_wait();
      for (std::int64_t n = total / matchers; n > 0; --n) {
        const std::string_view suffix = id.next();
        std::memcpy(subject + 12, suffix.data(), suffix.size());
        benchmark::DoNotOptimize(list.match(std::string_view(subject, sizeof subject)));
      }
      matchers_done.arrive_and_wait();
    });
  }
  start.arrive_and_wait();
  const auto began = std::chrono::steady_clock::now();
  matchers_done.arrive_and_wait();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  quit.store(true);
  for (auto& thread : threads) thread.join();
  const double per_op = elapsed / static_cast<double>(total);
  for (auto _ : state) state.SetIterationTime(per_op);
}
void SublistCacheContention(benchmark::State& state) { cache_contention(state); }
BENCHMARK(SublistCacheContention)->Arg(10)->Arg(100)->UseManualTime();

}  // namespace

int main(int argc, char** argv) {
  // Start (and end) one thread before anything is measured. glibc then marks
  // the process multi-threaded for good, and libstdc++ switches shared_ptr
  // reference counts to atomic operations, as they are in the broker. Without
  // it the single-threaded benchmarks that run before the first threaded one
  // would get plain, non-atomic reference counting and look faster than real.
  std::thread([] {}).join();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
