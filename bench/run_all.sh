#!/usr/bin/env bash
# Reproduces every figure in bench/RESULTS.md in one sitting:
#   router micro-benchmarks, Courier vs nats-server's own `go test -bench Sublist`;
#   the protocol parser benchmark; the in-process benchmark;
#   sidebyside.py (stock Go client against Courier and nats-server, same run),
#   plotted to bench/sidebyside.png; bench/cpu_profile.py --clients (each
#   server's user and system time, system calls and context switches per
#   message, and the Go clients' own CPU per message and the idle share);
#   connscale.py (idle connections, fan-out).
#
#   bench/run_all.sh [--reps N] [--busy] [--skip router,parser,inprocess,sidebyside,profile,connscale]
#
# --busy: the slow host, reproducible: one CPU-bound shell loop per core runs
# beside the side-by-side scenarios and the CPU profile (both servers and the
# clients share the cores with it, as an embedded broker shares them with its
# application).
#
# Environment: BUILD (build dir, default build-bench), OUT (results dir, default
# $BUILD/results), JOBS (default 2: the machine is shared). Needs the Debian
# packages of tools/install-deps.sh plus those ../shared/tools/setup.sh installs
# (nats-server, golang-go, golang-github-nats-io-go-nats-dev), and
# golang-github-nats-io-nats-server-dev for the Go router benchmarks.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=$(cd "$root/../shared" 2>/dev/null && pwd || true)
build=${BUILD:-$root/build-bench}
out=${OUT:-$build/results}
jobs=${JOBS:-2}
reps=3
skip=""
busy=0
while [ $# -gt 0 ]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --skip) skip=$2; shift 2 ;;
    --busy) busy=1; shift ;;
    *) echo "usage: $0 [--reps N] [--busy] [--skip router,parser,inprocess,sidebyside,profile,connscale]" >&2; exit 2 ;;
  esac
done
wanted() { [[ ",$skip," != *",$1,"* ]]; }
mkdir -p "$out"
log() { echo "== $*" | tee -a "$out/summary.txt"; }

{
  echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "cpu: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cpus"
  echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/summary.txt"

log "build (Release) in $build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DCOURIER_BENCH=ON >/dev/null
cmake --build "$build" -j"$jobs" --target courier_server router_sublist_bench protocol_parser_bench \
  broker_inprocess_bench >/dev/null

if wanted router; then
  if [ -x "$root/bench/run_router.sh" ]; then
    log "router (bench/run_router.sh)"
    "$root/bench/run_router.sh" 2>&1 | tee "$out/router.txt"
  else
    log "router: Courier"
    "$build/bench/router_sublist_bench" --benchmark_out="$out/router_courier.json" \
      --benchmark_out_format=json | tee "$out/router_courier.txt"
    gosrc=/usr/share/gocode/src/github.com/nats-io/nats-server/server
    if [ -d "$gosrc" ] && command -v go >/dev/null; then
      log "router: nats-server go test -bench Sublist"
      # The removal benchmarks insert b.N subscriptions first; left to pick
      # b.N on an idle machine, SublistRemove2TokensSingle grew past 24 GiB
      # and was OOM-killed. They run with b.N fixed at 200,000, the N
      # Courier's removal benchmarks use, so both sides do the same work.
      (cd "$gosrc" && export GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=${GOCACHE:-/tmp/gocache} &&
        go test -run XXX -timeout 1200s -bench 'SublistInsert|SublistMatch|SublistMissOnLast|Sublist10XMultipleReads|Sublist100XMultipleReads|SublistCacheContention10M|SublistCacheContention100M' &&
        go test -run XXX -timeout 1200s -benchtime 200000x -bench 'SublistRemove1Token|SublistRemove2Tokens') \
        2>&1 | tee "$out/router_nats.txt" || log "router: go test failed; the table has what it printed"
      python3 "$root/bench/router_table.py" "$out" | tee "$out/router_table.md"
    else
      log "router: nats-server sources or go missing, Go side skipped"
    fi
  fi
fi

if wanted parser; then
  log "parser"
  "$build/bench/protocol_parser_bench" --benchmark_out="$out/parser.json" --benchmark_out_format=json \
    | tee "$out/parser.txt"
fi

if wanted inprocess; then
  log "in-process"
  "$build/bench/broker_inprocess_bench" --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/inprocess.json" --benchmark_out_format=json 2>/dev/null | tee "$out/inprocess.txt"
fi

if wanted sidebyside || wanted profile || wanted connscale; then
  [ -n "$shared" ] || { echo "../shared (sidebyside.py, connscale.py) not found beside $root" >&2; exit 1; }
  "$shared/tools/setup.sh" >/dev/null
fi

hogs=()
stop_hogs() { [ ${#hogs[@]} -eq 0 ] || kill "${hogs[@]}" 2>/dev/null || true; hogs=(); }
trap stop_hogs EXIT
if wanted sidebyside; then
  if [ "$busy" = 1 ]; then
    for _ in $(seq "$(nproc)"); do sh -c 'while :; do :; done' & hogs+=($!); done
    log "busy: $(nproc) CPU-bound loops beside the side by side"
  fi
  log "side by side, --reps $reps"
  python3 "$shared/tools/sidebyside.py" "$build/courier" --reps "$reps" --json "$out/sidebyside.json" \
    | tee "$out/sidebyside.txt" || true
  stop_hogs
  plot=sidebyside.png; [ "$busy" = 1 ] && plot=sidebyside-busy.png
  python3 "$root/bench/plot.py" "$out/sidebyside.json" -o "$root/bench/$plot"
fi

if wanted profile; then
  # Where each server's CPU goes per message (user, system, system calls),
  # the same scenarios, with the clients' own CPU (what sets the pub/sub
  # rates); --busy puts the CPU-bound loops beside it too.
  log "per-message CPU profile, --reps $reps$([ "$busy" = 1 ] && echo ', busy')"
  busy_flag=(); [ "$busy" = 1 ] && busy_flag=(--busy)
  python3 "$root/bench/cpu_profile.py" "$build/courier" --reps "$reps" --clients "${busy_flag[@]}" \
    --json "$out/cpu_profile.json" | tee "$out/cpu_profile.md" || true
fi

if wanted connscale; then
  log "connection scaling"
  python3 "$shared/tools/connscale.py" "$build/courier" -n 2000 | tee "$out/connscale.txt" || true
fi

log "results in $out; plot in bench/sidebyside.png (--busy: bench/sidebyside-busy.png)"
