#!/usr/bin/env bash
# Installs what is missing, builds and runs every test:
#  1. the whole suite (unit, stock-client, differential against nats-server,
#     message services against real SMTP/HTTP servers) built with
#     AddressSanitizer + UndefinedBehaviorSanitizer, the monitoring page
#     /dashboard included (headless Chromium against that server,
#     tests/browser);
#  2. the threaded parts (router, broker, message services, monitoring) again under
#     ThreadSanitizer, and the stock-client tests against a ThreadSanitizer
#     build of the server;
#  3. the parsers' libFuzzer targets (protocol and config) for a short,
#     bounded time (tools/fuzz.sh; give it more seconds for a real campaign).
# Each configuration is built once. Prints how long each step took.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
# Tests mostly wait on sockets and child processes, so run more of them than
# there are cores; each picks its own free ports.
test_jobs=$((jobs * 2))
started=$SECONDS
step() { echo "== $1 (at $((SECONDS - started)) s)"; }

step "dependencies"
"$root/tools/install-deps.sh"
# The browser tests' packages (puppeteer-core), exactly as locked.
(cd "$root/tests/browser" && npm ci --no-audit --no-fund --loglevel=error)
# Sanitizer builds at -O1 with line tables only (what the sanitizers' docs
# recommend): reports keep file:line, and Asio/Beast-heavy files compile in
# about half the time of -O2 -g. Assertions stay on.
sanitizer_flags="-O1 -g1"
# Both sanitizer builds use clang (installed for the fuzz targets anyway): it
# compiles this code base in about half the CPU time of gcc, the Asio/Beast
# files most of all (mss/notify/gateway_session.cpp with ASan+UBSan at -O0:
# 74 CPU-s against 157).
compilers="-DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++"
# Compiles go through ccache (tools/ccache.sh): a machine that has run the
# suite before compiles only what changed, in a fresh clone at the same path
# too.
. "$root/tools/ccache.sh"
compilers="$compilers $ccache_launcher"

step "AddressSanitizer + UndefinedBehaviorSanitizer: build"
cmake -S "$root" -B "$root/build-asan" $compilers -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$sanitizer_flags" \
  -DCOURIER_SANITIZE=address,undefined -DCOURIER_BENCH=OFF >/dev/null
cmake --build "$root/build-asan" -j"$jobs"

# The ASan tests mostly wait on sockets and child processes, so the
# ThreadSanitizer and fuzzing builds run beside them (the tests must pass on
# a busy machine anyway): the TSan build, then the fuzz build, one after the
# other (both at once beside the tests made a fresh-clone run 90 s slower),
# as two jobs so that the TSan tests can start as soon as their build is
# done, while the fuzz targets may still be building. Not niced: on a
# machine busy with other work a niced build gets almost no CPU once the
# tests are done.
step "ThreadSanitizer and fuzz builds start in the background (logs: build-asan/background-*.log)"
tsan_log="$root/build-asan/background-tsan.log"
fuzz_log="$root/build-asan/background-fuzz.log"
(
  cmake -S "$root" -B "$root/build-tsan" $compilers -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$sanitizer_flags" \
    -DCOURIER_SANITIZE=thread -DCOURIER_BENCH=OFF >/dev/null
  cmake --build "$root/build-tsan" --target test_router test_broker test_mss test_monitor courier_server -j"$jobs"
) >"$tsan_log" 2>&1 &
tsan_build=$!
(
  while kill -0 "$tsan_build" 2>/dev/null; do sleep 2; done
  "$root/tools/fuzz.sh" --build
) >"$fuzz_log" 2>&1 &
fuzz_build=$!
# A failing step ends the run: the builds still going end with it.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
# wait_for JOB LOG: waits for a background build; on failure shows its log.
wait_for() {
  if ! wait "$1"; then
    tail -60 "$2"
    echo "background build failed (log: $2)"
    exit 1
  fi
}

# Test peers (python servers) slow to start are reported here, passing tests
# included (CTest shows the output of failed tests only).
export COURIER_SLOW_START_LOG="$root/build-asan/slow-starts.log"
rm -f "$COURIER_SLOW_START_LOG"
show_slow_starts() {
  if [ -s "$COURIER_SLOW_START_LOG" ]; then
    echo "-- test peers slow to start so far ($COURIER_SLOW_START_LOG):"
    cat "$COURIER_SLOW_START_LOG"
  fi
}

step "AddressSanitizer + UndefinedBehaviorSanitizer: tests"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
asan_status=0
(cd "$root/build-asan" && ctest --output-on-failure -j"$test_jobs" --timeout 300) || asan_status=$?
show_slow_starts
step "waiting for the ThreadSanitizer build"
wait_for "$tsan_build" "$tsan_log"
[ "$asan_status" = 0 ] || exit "$asan_status"

step "ThreadSanitizer: tests, and the stock-client tests against the ThreadSanitizer server"
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
# Left out here, run under ASan above: tests with one thread of our code
# (the random sublist checks against brute force, about 290 s of CPU under
# TSan), and the monitoring checks whose subject is a document's shape (Go
# type decoding, the diff harness's own self-test).
tsan_single_threaded='^(router\.SublistRandom\..*|monitor\.go_types|monitor\.harness_selftest)$'
# The stock-client suite (libnats) once more against the ThreadSanitizer
# server, beside the TSan tests: publishers on one loop write into receivers
# on another. The test process is the ASan build (libnats and OpenSSL are not
# instrumented, so a TSan test process would report their internals); the
# server is checked, and any report in its log fails the test that started
# it. Its output is shown when it ends.
clients_log="$root/build-asan/tsan-server-clients.log"
COURIER_TEST_SERVER="$root/build-tsan/courier" "$root/build-asan/tests/test_clients" >"$clients_log" 2>&1 &
clients=$!
tsan_status=0
(cd "$root/build-tsan" && ctest --output-on-failure -j"$test_jobs" --timeout 300 \
  -R '^(router|broker|mss|monitor|leaf)\.' -E "$tsan_single_threaded") || tsan_status=$?
show_slow_starts
clients_status=0
wait "$clients" || clients_status=$?
step "ThreadSanitizer server: stock-client tests (output of the run beside the TSan tests)"
if [ "$clients_status" = 0 ]; then tail -3 "$clients_log"; else cat "$clients_log"; fi
[ "$tsan_status" = 0 ] || exit "$tsan_status"
[ "$clients_status" = 0 ] || exit "$clients_status"

step "waiting for the fuzz build"
wait_for "$fuzz_build" "$fuzz_log"
step "fuzzing"
"$root/tools/fuzz.sh" "${COURIER_FUZZ_SECONDS:-20}"
ccache_report
step "all tests passed"
