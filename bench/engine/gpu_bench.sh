#!/usr/bin/env bash
# GPU benchmark of spillway-engine on the `110m` preset (TinyStories-110M shape): decode at
# batch 1 against the HBM bandwidth roofline (each decode step streams every weight once), and
# batch 64 throughput, each with the decode-step CUDA graphs on and off (--cuda-graphs), run one
# after the other in one sitting. Prints a markdown table; the raw JSON of both runs goes to
# bench/results/.
#
#   bench/engine/gpu_bench.sh [build-dir]      (default: build-release, configured if missing)
#
# Environment: HBM_GBPS (default 3350, H100 SXM; 2000 for H100 PCIe, 4800 for H200),
# BATCHES (default 1,64), REPEAT (default 3).
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
gpu=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "unknown GPU")
echo "GPU: $gpu" >&2
for graphs in on off; do
  # stdout: the human lines, then the JSON; stderr: the engine's log (graph counts at the end).
  "$bin" bench --model "$work/110m.bin" --device cuda --batches "${BATCHES:-1,64}" \
    --decode-tokens 128 --prompt-tokens 512 --repeat "${REPEAT:-3}" --cuda-graphs "$graphs" \
    | tee /dev/stderr | tail -1 >"$work/$graphs.json"
done
weights=$(stat -c %s "$work/110m.bin")
python3 - "$work/on.json" "$work/off.json" "$weights" "${HBM_GBPS:-3350}" "$gpu" <<'PY'
import json, sys
on = json.load(open(sys.argv[1])); off = json.load(open(sys.argv[2]))
weights = int(sys.argv[3]); gbps = float(sys.argv[4]); gpu = sys.argv[5]
roof = gbps * 1e9 / weights
print(f"\n{gpu}; 110m preset, {weights/1e6:.0f} MB of weights; HBM roofline at {gbps:.0f} GB/s: "
      f"{roof:.0f} tokens/s at batch 1\n")
print("| batch | graphs off tokens/s | graphs on tokens/s | on / off | on, % of roofline (batch 1) |")
print("|---|---|---|---|---|")
for b, r_on in on["decode_tokens_per_s"].items():
    r_off = off["decode_tokens_per_s"][b]
    roofline = f"{100 * r_on / roof:.0f}%" if b == "1" else ""
    ratio = f"{r_on / r_off:.2f}x" if r_off > 0 else "-"
    print(f"| {b} | {r_off:.0f} | {r_on:.0f} | {ratio} | {roofline} |")
print(f"| prefill {on['prefill_tokens']} tokens | {off['prefill_tokens_per_s']:.0f} | "
      f"{on['prefill_tokens_per_s']:.0f} | {on['prefill_tokens_per_s'] / off['prefill_tokens_per_s']:.2f}x | |")
PY
mkdir -p "$root/bench/results"
stamp=$(date +%Y%m%d-%H%M%S)
cp "$work/on.json" "$root/bench/results/engine-gpu-$stamp-graphs-on.json"
cp "$work/off.json" "$root/bench/results/engine-gpu-$stamp-graphs-off.json"
