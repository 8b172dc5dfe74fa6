#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (tests/fuzz/) and runs each for a
# bounded time, all at once: the protocol parsers (client and server side,
# leafnode), the header parser, the config parser, the WebSocket frame
# decoder, the monitoring query and request-options decoders, and whole
# client connections into a running server (fuzz_connection).
#   tools/fuzz.sh [SECONDS [TARGET...]]   CI runs every target for 20 s
#   tools/fuzz.sh 3600 leaf_parser        a long campaign of one target
#   tools/fuzz.sh --build                 only builds the targets
#   COURIER_FUZZ_RUNS=10000000 tools/fuzz.sh 36000 headers
#                                         stops each target after that many
#                                         inputs (or the time, whichever first)
#   COURIER_FUZZ_TIMEOUT=3600 ...         seconds one input may take before
#                                         it counts as a hang (default 30; a
#                                         campaign paused with SIGSTOP, or
#                                         niced on a busy machine, needs more)
# A crash, leak, sanitizer report or timeout fails the run; the input that
# caused it is left in build-fuzz/findings/. Inputs that found new coverage
# accumulate in build-fuzz/corpus/TARGET; seeds come from tests/fuzz/seeds/.
# Figures from long campaigns: docs/fuzzing.md.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_only=0
if [ "${1:-}" = --build ]; then build_only=1; shift; fi
seconds=${1:-20}
[ $# -gt 0 ] && shift
build="$root/build-fuzz"
. "$root/tools/ccache.sh"
# shellcheck disable=SC2086
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" $ccache_launcher \
  -DCOURIER_FUZZ=ON -DCOURIER_TESTS=OFF -DCOURIER_BENCH=OFF >/dev/null
targets=(client_parser server_parser headers config leaf_parser websocket_frame monitor_query connection)
[ $# -gt 0 ] && targets=("$@")
cmake --build "$build" -j"$(nproc)" --target "${targets[@]/#/fuzz_}"
[ $build_only = 1 ] && exit 0
mkdir -p "$build/findings"
failed=0
pids=()
for name in "${targets[@]}"; do
  corpus="$build/corpus/$name"
  mkdir -p "$corpus"
  dict=()
  case $name in client_parser|server_parser|headers|leaf_parser|connection) dict=(-dict="$root/tests/fuzz/nats.dict") ;; esac
  # Seeds in the tree (tests/fuzz/seeds/NAME) are read; new inputs go to the corpus.
  seeds=()
  [ -d "$root/tests/fuzz/seeds/$name" ] && seeds=("$root/tests/fuzz/seeds/$name")
  # -timeout: one input taking longer is a hang (inputs take milliseconds; a
  # starved process on a loaded machine once took 11 s for one of 10 ms; a
  # whole connection waits up to 10 s for the server in its own checks);
  # -rss_limit_mb: a runaway allocation.
  timeout=${COURIER_FUZZ_TIMEOUT:-30}
  [ "$name" = connection ] && [ -z "${COURIER_FUZZ_TIMEOUT:-}" ] && timeout=60
  runs=()
  [ -n "${COURIER_FUZZ_RUNS:-}" ] && runs=(-runs="$COURIER_FUZZ_RUNS")
  # A whole connection leaves state in the server that outlives the input
  # (its closed-connection ring, route caches), so libFuzzer's check for a
  # leak after an input (run when it saw more mallocs than frees, i.e. after
  # almost every input: the input again, then a stop-the-world heap scan)
  # cut its inputs per second to a sixth (docs/fuzzing.md). Leaks are still found:
  # LeakSanitizer checks the whole process when the target exits, and
  # reports each leak with its allocation stack.
  leaks=()
  [ "$name" = connection ] && leaks=(-detect_leaks=0)
  "$build/tests/fuzz/fuzz_$name" "${dict[@]}" "${runs[@]}" "${leaks[@]}" -max_total_time="$seconds" -timeout=$timeout \
    -rss_limit_mb=2048 -artifact_prefix="$build/findings/$name-" -print_final_stats=1 \
    "$corpus" "${seeds[@]}" >"$build/fuzz_$name.log" 2>&1 &
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
