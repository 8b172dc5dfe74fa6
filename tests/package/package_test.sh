#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, builds a separate project
# that does find_package(Courier) and links Courier::courier, and runs it.
set -euo pipefail
build_dir=$(cd "$1" && pwd) source_dir=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/tests/package" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" \
  -DEXAMPLE_SOURCE="$source_dir/examples/embedded_hello.cpp" \
  -DCMAKE_CXX_FLAGS="${COURIER_PACKAGE_CXX_FLAGS:-}" -DCMAKE_EXE_LINKER_FLAGS="${COURIER_PACKAGE_CXX_FLAGS:-}" >/dev/null
cmake --build "$work/consumer" -j2 >/dev/null
output=$("$work/consumer/consumer")
echo "$output"
grep -q "request: ok: hello, ada" <<<"$output"
grep -q "request to nobody: no responders" <<<"$output"
