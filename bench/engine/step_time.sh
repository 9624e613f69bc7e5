#!/usr/bin/env bash
# Per-step CPU and wall time of the CPU backend (step_time.cpp) on the `small` preset.
#
#   bench/engine/step_time.sh [build-dir]      (default: build-release)
#
# Environment: THREADS (default 1), STEPS (decode steps per batch size, default 64),
# BATCHES (default "1 16").
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-release}
[[ -f $build/build.ninja ]] ||
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPILLWAY_TESTS=OFF >/dev/null
cmake --build "$build" --target spillway_engine_step_time spillway-engine >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/bin/spillway-engine" make-model --preset small --seed 1 --out "$work/small.bin" >/dev/null
echo "host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); threads ${THREADS:-1}"
# shellcheck disable=SC2086
"$build/bin/spillway_engine_step_time" "$work/small.bin" "${THREADS:-1}" "${STEPS:-64}" ${BATCHES:-1 16}
