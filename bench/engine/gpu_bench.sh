#!/usr/bin/env bash
# GPU benchmark of spillway-engine on the `110m` preset (TinyStories-110M shape): decode at
# batch 1 against the HBM bandwidth roofline (each decode step streams every weight once), and
# batch 64 throughput.
#
#   bench/engine/gpu_bench.sh [build-dir]      (default: build-release, configured if missing)
#
# Environment: HBM_GBPS (default 3350, H100 SXM; 2000 for H100 PCIe, 4800 for H200).
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
"$bin" make-model --preset 110m --seed 1 --out "$work/110m.bin" >/dev/null
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
out=$("$bin" bench --model "$work/110m.bin" --device cuda --batches 1,64 --decode-tokens 128 \
  --prompt-tokens 512 --repeat 3 | tee /dev/stderr | tail -1)
weights=$(stat -c %s "$work/110m.bin")
python3 - "$out" "$weights" "${HBM_GBPS:-3350}" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); weights = int(sys.argv[2]); gbps = float(sys.argv[3])
roof = gbps * 1e9 / weights
b1 = r["decode_tokens_per_s"]["1"]
print(f"batch 1: {b1:.0f} tokens/s; HBM roofline {roof:.0f} tokens/s ({weights/1e6:.0f} MB of weights per step at {gbps:.0f} GB/s): {100*b1/roof:.0f}% of roofline")
print(f"batch 64: {r['decode_tokens_per_s']['64']:.0f} tokens/s")
PY
mkdir -p "$root/bench/results"
echo "$out" >"$root/bench/results/engine-gpu-$(date +%Y%m%d-%H%M%S).json"
