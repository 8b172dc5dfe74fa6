#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (tests/fuzz/) and runs each for a
# bounded time: the protocol parsers (client and server side), the header
# parser and the config parser. CI runs them briefly; for a real campaign
# give each more time, e.g.  tools/fuzz.sh 600
# A crash, leak, sanitizer report or timeout fails the run; the input that
# caused it is left in build-fuzz/findings/.
#   tools/fuzz.sh --build   only builds the targets.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_only=0
if [ "${1:-}" = --build ]; then build_only=1; shift; fi
seconds=${1:-20}
build="$root/build-fuzz"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCOURIER_FUZZ=ON -DCOURIER_TESTS=OFF -DCOURIER_BENCH=OFF >/dev/null
targets=(client_parser server_parser headers config)
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
[ $build_only = 1 ] && exit 0
mkdir -p "$build/findings"
failed=0
pids=()
for name in "${targets[@]}"; do
  corpus="$build/corpus/$name"
  mkdir -p "$corpus"
  dict=()
  [ "$name" != config ] && dict=(-dict="$root/tests/fuzz/nats.dict")
  # -timeout: one input taking over 10 s is a hang; -rss_limit_mb: a runaway allocation.
  "$build/tests/fuzz/fuzz_$name" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$build/findings/$name-" -print_final_stats=1 \
    "$corpus" >"$build/fuzz_$name.log" 2>&1 &
  pids+=($!)
done
for i in "${!targets[@]}"; do
  if wait "${pids[$i]}"; then
    echo "fuzz_${targets[$i]}: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$build/fuzz_${targets[$i]}.log" | grep -o '[0-9]*$') inputs, no finding"
  else
    echo "fuzz_${targets[$i]}: FAILED (log: $build/fuzz_${targets[$i]}.log)"
    tail -40 "$build/fuzz_${targets[$i]}.log"
    failed=1
  fi
done
exit $failed
