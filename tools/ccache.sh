# Sourced by tools/test.sh and tools/fuzz.sh: compile through ccache when it
# is installed (tools/install-deps.sh installs it) and COURIER_CCACHE is not 0.
# Sets ccache_launcher (CMake arguments; without ccache they clear a launcher
# an earlier configure of the same build directory set) and defines
# ccache_report, which prints the hits and misses since it was sourced.
#
# The cache lives outside the checkout (ccache's default, ~/.cache/ccache),
# so a fresh clone on a machine that has built Courier before compiles only
# the files that changed; an empty cache cost no measurable CPU (docs/ci.md).
# A hit needs the same checkout path as the run that filled the cache:
# CMake's unity sources include the files by absolute path.
ccache_launcher="-DCMAKE_C_COMPILER_LAUNCHER= -DCMAKE_CXX_COMPILER_LAUNCHER="
ccache_on=0
ccache_stats() {
  ccache --print-stats 2>/dev/null |
    awk '$1 == "direct_cache_hit" || $1 == "preprocessed_cache_hit" {h += $2}
         $1 == "cache_miss" {m += $2} END {print h + 0, m + 0}'
}
if [ "${COURIER_CCACHE:-1}" != 0 ] && command -v ccache >/dev/null; then
  ccache_launcher="-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache"
  ccache_on=1
  read -r ccache_hits_before ccache_misses_before < <(ccache_stats)
fi
ccache_report() {
  [ "$ccache_on" = 1 ] || return 0
  local hits misses
  read -r hits misses < <(ccache_stats)
  echo "ccache: $((hits - ccache_hits_before)) compiles from the cache, $((misses - ccache_misses_before)) compiled ($(ccache --get-config cache_dir))"
}
