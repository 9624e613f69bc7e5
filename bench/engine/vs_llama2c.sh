#!/usr/bin/env bash
# Single-stream greedy decode of spillway-engine against llama2.c's run.c (OpenMP build) on the same
# `small` checkpoint, alternated run by run so both see the same machine load. Also checks that
# both pick the same greedy tokens.
#
#   bench/engine/vs_llama2c.sh LLAMA2C_DIR [build-dir]
#
# LLAMA2C_DIR: a checkout of github.com/karpathy/llama2.c (run.c is built from it into the work
# folder with `gcc -Ofast -fopenmp -march=native`). build-dir defaults to build-release.
# Environment: THREADS (default 2), RUNS (default 5), STEPS (default 256: run.c's -n; our decode
# length is STEPS minus the 8-token prompt minus one).
# Prints a Markdown table: median tok/s of each, and their ratio. Needs gcc, python3 and bc.
set -euo pipefail
l2c=${1:?usage: vs_llama2c.sh LLAMA2C_DIR [build-dir]}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$root/build-release}
bin=$build/bin/spillway-engine
threads=${THREADS:-2}
runs=${RUNS:-5}
steps=${STEPS:-256}
if [[ ! -x $bin ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPILLWAY_TESTS=OFF >/dev/null
  cmake --build "$build" --target spillway-engine
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -Ofast -fopenmp -march=native "$l2c/run.c" -lm -o "$work/run"
"$bin" make-model --preset small --seed 1 --out "$work/small.bin" --tokenizer-out "$work/tok.bin" >/dev/null

# Same greedy tokens: run.c prints the prompt then its greedy continuation; ours comes from a
# temperature-0 completion of the same prompt on an engine started on a free port.
prompt="Once upon a time"
theirs=$(OMP_NUM_THREADS=$threads "$work/run" "$work/small.bin" -z "$work/tok.bin" -t 0 -n 64 \
  -i "$prompt" 2>/dev/null)
same=$(python3 - "$bin" "$work" "$threads" "$prompt" "$theirs" <<'PY'
import json, subprocess, sys, urllib.request
bin_, work, threads, prompt, theirs = sys.argv[1:6]
eng = subprocess.Popen([bin_, "--model", f"{work}/small.bin", "--tokenizer", f"{work}/tok.bin",
                        "--listen", "127.0.0.1:0", "--device", "cpu", "--threads", threads,
                        "--log-level", "error"], stdout=subprocess.PIPE, text=True)
try:
    url = eng.stdout.readline().split()[-1]
    body = json.dumps({"prompt": prompt, "max_tokens": 64, "temperature": 0,
                       "ignore_eos": True}).encode()
    for _ in range(600):  # wait out "loading" (503)
        try:
            req = urllib.request.Request(url + "/v1/completions", body,
                                         {"Content-Type": "application/json"})
            ours = json.load(urllib.request.urlopen(req, timeout=60))["choices"][0]["text"]
            break
        except urllib.error.HTTPError as e:
            if e.code != 503: raise
            import time; time.sleep(0.1)
    theirs = theirs.rstrip("\n")
    gen = theirs[len(prompt):] if theirs.startswith(prompt) else None
    # run.c stops after 64 positions, prompt included: its continuation is a prefix of ours.
    print("yes" if gen and len(gen.split()) >= 8 and ours.startswith(gen) else
          f"no (run.c: {theirs[:120]!r}; ours: {prompt + ours[:120]!r})")
finally:
    eng.terminate()
    eng.wait(timeout=30)
PY
) || same="check failed"

l2c_rates=() our_rates=()
for ((r = 0; r < runs; ++r)); do
  l2c_rates+=("$(OMP_NUM_THREADS=$threads "$work/run" "$work/small.bin" -z "$work/tok.bin" -t 0 \
    -n "$steps" -i "$prompt" 2>&1 | sed -n 's/.*achieved tok\/s: \([0-9.]*\).*/\1/p')")
  our_rates+=("$("$bin" bench --model "$work/small.bin" --tokenizer "$work/tok.bin" --device cpu \
    --threads "$threads" --batches 1 --repeat 1 --decode-tokens $((steps - 9)) |
    sed -n 's/^decode  batch   1: *\([0-9.]*\) tokens.*/\1/p')")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_l2c=$(median "${l2c_rates[@]}")
m_our=$(median "${our_rates[@]}")
echo "host: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'); load $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| threads | steps | run.c tok/s | spillway-engine tok/s | ratio | same greedy tokens |"
echo "|---|---|---|---|---|---|"
printf '| %s | %s | %.1f | %.1f | %.2fx | %s |\n' "$threads" "$steps" "$m_l2c" "$m_our" \
  "$(echo "$m_our / $m_l2c" | bc -l)" "$same"
echo
echo "runs: run.c ${l2c_rates[*]}; spillway-engine ${our_rates[*]}"
