#!/usr/bin/env bash
# The CPU backend's matrix products alone (matmul_time.cpp), by process CPU time.
#
#   bench/engine/matmul_time.sh [build-dir]      (default: build-release; its engine library)
#
# Environment: THREADS (default 1), ISA (default: the fastest this CPU runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-release}
if [[ ! -f $build/lib/libspillway_engine_lib.a ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPILLWAY_TESTS=OFF >/dev/null
  cmake --build "$build" --target spillway-engine
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
c++ -std=c++20 -O2 -I"$root" "$root/bench/engine/matmul_time.cpp" \
  "$build/lib/libspillway_engine_lib.a" -lfmt -pthread -o "$work/matmul_time"
echo "host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086
"$work/matmul_time" "${THREADS:-1}" ${ISA:-}
