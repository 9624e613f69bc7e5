#!/usr/bin/env bash
# Response-cache benchmark (see bench/README.md "Response cache"): hit throughput and latency
# from the memory tier and from Redis against the same request proxied to a fast upstream, in
# one run, reported as ratios.
#   bench/cache/run.sh [--spillway PATH] [--duration S] [--connections N] [--runs N] [--pin]
#
# Layout: nginx (one process) answers every request with a fixed ~950-byte chat.completion;
# Spillway A (workers: 1) has route `plain` (no cache) and route `chat` (cache, 64 MiB memory);
# Spillway B (workers: 1) has route `chat` with Redis and a 1 KiB memory tier that cannot hold
# the entry, so every hit comes from Redis. Throughput: wrk -t1 -cN (closed loop); latency:
# wrk -t1 -c1 (one request at a time, no queueing), p50, p90 and p99. With --pin the proxies
# run on core 0 and everything else (nginx, Redis, wrk) on core 1 (taskset). The proxy's CPU
# time (user + system, /proc/PID/stat) per request in each throughput window gives its capacity
# ratio, which the load generator and other load on a small shared machine bound less.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SPILLWAY=$ROOT/build-release/bin/spillway
DURATION=6
CONNS=32
RUNS=2
PIN=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --spillway) SPILLWAY=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --runs) RUNS=$2; shift 2 ;;
    --pin) PIN=1; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in wrk nginx redis-server redis-cli curl; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done
if [[ ! -x $SPILLWAY ]]; then
  cmake -S "$ROOT" -B "$ROOT/build-release" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  nice cmake --build "$ROOT/build-release" --target spillway -j2
fi

PROXY_CPU=(); REST_CPU=()
if [[ $PIN == 1 && $(nproc) -ge 2 ]]; then PROXY_CPU=(taskset -c 0); REST_CPU=(taskset -c 1); fi

source "$ROOT/bench/cache/lib.sh"

UP=$(free_port); RP=$(free_port); A=$(free_port); AA=$(free_port); B=$(free_port); BA=$(free_port)

write_answer "$DIR/answer.json"
printf '{"model": "tiny", "temperature": 0, "messages": [{"role": "user", "content": "hello cache"}]}' > "$DIR/body.json"

start_nginx_upstream "$UP" "$DIR/answer.json" "${REST_CPU[@]}"
"${REST_CPU[@]}" redis-server --port "$RP" --bind 127.0.0.1 --save "" --appendonly no --dir "$DIR" >/dev/null & PIDS+=($!)

write_config_a "$DIR/a.yaml" "$A" "$AA" "$UP"
cat > "$DIR/b.yaml" <<YAML
workers: 1
listeners: [{name: public, address: 127.0.0.1:$B}]
admin: {address: 127.0.0.1:$BA}
clusters: [{name: up, endpoints: [{address: 127.0.0.1:$UP}], pool: {max_idle: 256}}]
routes:
  - {name: chat, match: {path_prefix: /v1/}, cluster: up, cache: {ttl: 1h}}
cache:
  memory: {max_bytes: 1KiB}
  max_object_bytes: 1KiB
  redis: {address: 127.0.0.1:$RP, timeout: 50ms}
YAML
"${PROXY_CPU[@]}" "$SPILLWAY" --config "$DIR/a.yaml" >"$DIR/a.log" 2>&1 & PIDS+=($!); A_PID=$!
"${PROXY_CPU[@]}" "$SPILLWAY" --config "$DIR/b.yaml" >"$DIR/b.log" 2>&1 & PIDS+=($!); B_PID=$!
for p in $UP $RP $A $AA $B $BA; do wait_port "$p"; done
sleep 0.5

req() { curl -s -o /dev/null -D - -X POST -H 'Content-Type: application/json' --data-binary @"$DIR/body.json" "http://127.0.0.1:$1$2"; }
check() {  # port path expected-cache-status-substring
  local h; h=$(req "$1" "$2")
  grep -q '^HTTP/1.1 200' <<<"$h" || { echo "no 200 from :$1$2" >&2; echo "$h" >&2; exit 1; }
  if [[ -n $3 ]]; then grep -qi "^cache-status: $3" <<<"$h" || { echo ":$1$2 not '$3':" >&2; echo "$h" >&2; exit 1; }; fi
}
req "$A" /plain/v1/chat/completions >/dev/null
req "$A" /v1/chat/completions >/dev/null
req "$B" /v1/chat/completions >/dev/null
for _ in $(seq 50); do [[ $(redis-cli -p "$RP" dbsize 2>/dev/null || echo 0) -ge 1 ]] && break; sleep 0.1; done
check "$A" /plain/v1/chat/completions ""
check "$A" /v1/chat/completions "spillway; hit"
check "$B" /v1/chat/completions "spillway; hit"
metric() { curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1==n {print $2}'; }
[[ $(metric "$BA" spillway_cache_memory_entries) == 0 ]] || { echo "B's memory tier holds the entry: not a Redis measurement" >&2; exit 1; }

# CPU time the proxy process has used (all threads, clock ticks): "user system".
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }
run_wrk() {  # port path conns pid -> "requests seconds p50us p90us p99us non2xx errors utick stick"
  local before after r
  before=$(cpu_ticks "$4")
  r=$(PATH_=$2 BODY_FILE=$DIR/body.json "${REST_CPU[@]}" wrk -t1 -c"$3" -d"${DURATION}s" --latency -s "$ROOT/bench/cache/post.lua" \
    "http://127.0.0.1:$1" | awk '/^RESULT/ {print $2, $3, $4, $5, $6, $7, $8}')
  after=$(cpu_ticks "$4")
  set -- $before $after
  echo "$r $(($3 - $1)) $(($4 - $2))"
}

RES=$DIR/results.txt
: >"$RES"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
targets=("proxied $A /plain/v1/chat/completions $A_PID" "memory $A /v1/chat/completions $A_PID"
         "redis $B /v1/chat/completions $B_PID")
for run in $(seq "$RUNS"); do
  # rotate the order each run so drifts of the shared machine spread over all targets
  for i in 0 1 2; do
    t=${targets[$(( (i + run) % 3 ))]}
    set -- $t
    echo "$1 tput $(run_wrk "$2" "$3" "$CONNS" "$4")" >>"$RES"
    echo "$1 lat $(run_wrk "$2" "$3" 1 "$4")" >>"$RES"
  done
done
hits_b=$(curl -s "http://127.0.0.1:$BA/metrics" | awk '$1=="spillway_cache_redis_operations_total{outcome=\"hit\"}" {print $2}')
hits_a=$(curl -s "http://127.0.0.1:$AA/metrics" | awk '$1=="spillway_cache_requests_total{result=\"hit\"}" {print $2}')

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$ROOT/bench/results"
OUT=$ROOT/bench/results/cache-$(date -u +%Y%m%dT%H%M%SZ).md
python3 - "$RES" "$hits_a/$hits_b" "$DURATION" "$CONNS" "$RUNS" "$LOAD_BEFORE" "$LOAD_AFTER" "$(getconf CLK_TCK)" <<'PY' | tee "$OUT"
import os, statistics, sys
res, hits_b, dur, conns, runs, load_before, load_after, tck = sys.argv[1:9]
data = {}
for line in open(res):
    name, kind, *v = line.split()
    if len(v) != 9:
        sys.exit(f"wrk produced no result for {name} {kind}")
    req, sec, p50, p90, p99, non2xx, err, uticks, sticks = v
    if int(non2xx) or int(err):
        sys.exit(f"{name} {kind}: {non2xx} non-2xx, {err} socket errors")
    # proxy CPU µs per request: what bounds one worker's throughput when the proxy saturates
    us = lambda t: int(t) * 1e6 / int(tck) / max(int(req), 1)
    data.setdefault((name, kind), []).append(
        (int(req) / float(sec), float(p50), float(p90), float(p99), us(uticks) + us(sticks),
         us(uticks), us(sticks)))
med = lambda xs: statistics.median(xs)
rows = {}
for name in ("proxied", "memory", "redis"):
    t = [x[0] for x in data[(name, "tput")]]
    l = data[(name, "lat")]
    tp = data[(name, "tput")]
    rows[name] = (med(t), med([x[1] for x in l]), med([x[2] for x in l]), med([x[3] for x in l]),
                  med([x[4] for x in tp]), med([x[5] for x in tp]), med([x[6] for x in tp]))
print(f"Response cache, wrk -t1 -c{conns} for throughput and -c1 for latency, {dur} s each, "
      f"median of {runs} runs; cache hits counted by A / Redis GET hits by B: {hits_b}; "
      f"load average {load_before} before, {load_after} after ({os.cpu_count()} cores)\n")
print("| target | req/s (c" + conns + ") | vs proxied | proxy CPU µs/req (c" + conns + "), user + sys | "
      "capacity vs proxied | p50 µs (c1) | p90 µs (c1) | p99 µs (c1) |")
print("|---|---|---|---|---|---|---|---|")
for name, label in (("proxied", "proxied to nginx (no cache)"), ("memory", "memory hit"),
                    ("redis", "Redis hit (memory tier too small)")):
    r = rows[name]
    print(f"| {label} | {r[0]:,.0f} | {r[0] / rows['proxied'][0]:.2f}× | {r[4]:.1f} ({r[5]:.1f} + {r[6]:.1f}) "
          f"| {rows['proxied'][4] / r[4]:.2f}× | {r[1]:.0f} | {r[2]:.0f} | {r[3]:.0f} |")
print("\nEach run (req/s c" + conns + ", proxy CPU µs/req c" + conns + ", p99 µs c1):")
for name in ("proxied", "memory", "redis"):
    print(f"- {name}: " + ", ".join(f"{t[0]:,.0f} / {t[4]:.1f} / {l[3]:.0f}" for t, l in
                                    zip(data[(name, "tput")], data[(name, "lat")])))
m, r = rows["memory"], rows["redis"]
print(f"\nmemory hits / proxied throughput: {m[0] / rows['proxied'][0]:.2f}× (target ≥ 2×); "
      f"proxy CPU per request, proxied / memory hit: {rows['proxied'][4] / m[4]:.2f}×")
print(f"Redis hit − memory hit: p99 {(r[3] - m[3]) / 1000:.3f} ms (target ≤ 1 ms), "
      f"p90 {(r[2] - m[2]) / 1000:.3f} ms, p50 {(r[1] - m[1]) / 1000:.3f} ms")
PY
