#!/usr/bin/env bash
# Instructions per balancer pick() under callgrind: inclusive Ir of <policy>::pick divided by its
# call count, for the "churn" benchmark with 3 and 16 endpoints.
# Usage: bench/micro/pick_instructions.sh <path to spillway_balancer_bench (Release build)>
set -euo pipefail
bench=${1:?path to spillway_balancer_bench}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for policy in least_conn round_robin random p2c; do
  for n in 3 16; do
    valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bench" \
      --benchmark_filter="bm_pick_churn/${policy}/${n}\$" --benchmark_min_time=0.02 >/dev/null 2>&1
    # The caller line of pick(): "<Ir> (<pct>)  < ...bm_pick_churn(...) (<calls>x) [...]".
    line=$(callgrind_annotate --inclusive=yes --tree=caller "$out/cg" 2>/dev/null |
      grep -B1 -E "\*  .*::pick\(spillway::balancer::pick_context" | grep -E '<' | head -n 1)
    ir=$(sed -E 's/^ *([0-9,]+) .*/\1/; s/,//g' <<<"$line")
    calls=$(sed -E 's/.*\(([0-9,]+)x\).*/\1/; s/,//g' <<<"$line")
    printf '%-12s %2s endpoints: %6.1f instructions/pick (%s calls)\n' "$policy" "$n" \
      "$(awk -v a="$ir" -v b="$calls" 'BEGIN { print a / b }')" "$calls"
  done
done
