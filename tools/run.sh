#!/usr/bin/env bash
# Installs what is missing, builds Courier (release) and starts it with the
# shipped configuration on 127.0.0.1:4222. Extra arguments go to courier.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/install-deps.sh"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release -DCOURIER_TESTS=OFF -DCOURIER_BENCH=OFF >/dev/null
cmake --build "$root/build" --target courier_server -j"$(nproc)"
exec "$root/build/courier" -c "$root/conf/courier.conf" "$@"
