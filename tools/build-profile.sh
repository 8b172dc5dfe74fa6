#!/usr/bin/env bash
# Where the build's CPU goes: configures a fresh build directory like the CI's
# AddressSanitizer + UndefinedBehaviorSanitizer build, compiles it with every
# compiler call timed, and prints CPU seconds (user+sys) per library/test
# target and the slowest translation units.
#   tools/build-profile.sh [BUILD_DIR] [extra cmake arguments...]
# TARGETS="courier_mss test_mss" limits the build to those targets.
# CPU seconds, not wall time: the figures hold on a busy machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
[ -x /usr/bin/time ] || { echo "needs /usr/bin/time (Debian package time)" >&2; exit 1; }
build=${1:-/tmp/courier-build-profile}
shift || true
log="$build/compile-times.log"
rm -rf "$build"
mkdir -p "$build"
launcher="$build/time-compile.sh"
cat >"$launcher" <<'LAUNCH'
#!/usr/bin/env bash
out=unknown
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  [ "${args[i]}" = "-o" ] && out=${args[i + 1]}
done
exec /usr/bin/time -f "%U %S $out" -a -o "$COURIER_COMPILE_LOG" "$@"
LAUNCH
chmod +x "$launcher"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCOURIER_SANITIZE=address,undefined -DCOURIER_BENCH=OFF \
  -DCMAKE_CXX_COMPILER_LAUNCHER="$launcher" "$@" >/dev/null
targets=()
for t in ${TARGETS:-}; do targets+=(--target "$t"); done
COURIER_COMPILE_LOG="$log" cmake --build "$build" "${targets[@]}" -j"$(nproc)" >/dev/null
echo "CPU seconds per target:"
awk '{n = split($3, p, "/"); for (i = 1; i <= n; i++) if (p[i] ~ /\.dir$/) t = p[i];
      s[t] += $1 + $2; all += $1 + $2}
     END {for (k in s) printf "%8.1f  %s\n", s[k], k; printf "%8.1f  total (compiles only)\n", all}' "$log" | sort -rn
echo "slowest translation units:"
sort -rn "$log" | head -15 | awk '{printf "%8.1f  %s\n", $1 + $2, $3}'
