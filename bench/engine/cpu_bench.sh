#!/usr/bin/env bash
# CPU benchmark of spillway-engine on the `small` preset (TinyStories-15M shape):
# decode tokens/s at batch 1, 4, 16, 64; prefill tokens/s; TTFT of a prompt whose first 75%
# is already in the prefix cache against the same prompt on a cold cache.
#
#   bench/engine/cpu_bench.sh [build-dir]      (default: build-release, configured if missing)
#
# Environment: THREADS (default: all cores), REPEAT (default 3), BATCHES (default 1,4,16,64).
# Results: printed, and the JSON line saved under bench/results/.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-release}
bin=$build/bin/spillway-engine
if [[ ! -x $bin ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPILLWAY_TESTS=OFF >/dev/null
  cmake --build "$build" --target spillway-engine
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" make-model --preset small --seed 1 --out "$work/small.bin" >/dev/null
threads=${THREADS:-$(nproc)}
echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); threads $threads"
out=$("$bin" bench --model "$work/small.bin" --device cpu --threads "$threads" \
  --repeat "${REPEAT:-3}" --batches "${BATCHES:-1,4,16,64}" | tee /dev/stderr | tail -1)
mkdir -p "$root/bench/results"
file=$root/bench/results/engine-cpu-$(date +%Y%m%d-%H%M%S).json
echo "$out" >"$file"
echo "saved $file"
