#!/usr/bin/env bash
# The CPU backend's matrix products alone (matmul_time.cpp), by process CPU time.
#
#   bench/engine/matmul_time.sh [build-dir]      (default: build-release)
#
# Environment: THREADS (default 1), ISA (default: the fastest this CPU runs).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-release}
[[ -f $build/build.ninja ]] ||
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPILLWAY_TESTS=OFF >/dev/null
cmake --build "$build" --target spillway_engine_matmul_time spillway-engine >/dev/null
echo "host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086
"$build/bin/spillway_engine_matmul_time" "${THREADS:-1}" ${ISA:-}
