#!/usr/bin/env bash
# The local stack on one machine, no Docker: Redis, three inference engines of different weights
# behind Spillway, a short load run through it, and what the proxy did: per-engine share,
# streaming, session affinity, cached answers (memory and Redis), failover and a breaker trip when
# an engine dies. Installs what it needs (as root on Debian 12), builds Release. Everything runs
# on loopback and is stopped on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD_DIR:-$ROOT/build-release}
WORK=$(mktemp -d /tmp/spillway-demo.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

bash "$ROOT/scripts/install-deps.sh"
if [[ -n ${DEMO_BIN:-} ]]; then  # prebuilt binaries (development)
  BIN=$DEMO_BIN
else
  cmake -S "$ROOT" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSPILLWAY_TESTS=OFF >/dev/null
  cmake --build "$BUILD" -j"$(nproc)" --target spillway spillway-engine spillway-loadgen
  BIN=$BUILD/bin
fi

wait_http() {  # url
  for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "demo: $1 did not come up" >&2
  return 1
}

echo "== redis on 127.0.0.1:6390 (the cache's shared tier)"
redis-server --port 6390 --bind 127.0.0.1 --save '' --appendonly no --dir "$WORK" \
  >"$WORK/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do redis-cli -p 6390 ping >/dev/null 2>&1 && break; sleep 0.1; done

echo "== model: a synthetic 'tiny' checkpoint (no download)"
"$BIN/spillway-engine" make-model --preset tiny --seed 1 --out "$WORK/model.bin" \
  --tokenizer-out "$WORK/tokenizer.bin"

echo "== three engines on 127.0.0.1:9001-9003"
names=(engine-a engine-b engine-c)
engine_pids=()
for i in 0 1 2; do
  "$BIN/spillway-engine" --listen "127.0.0.1:900$((i + 1))" --model "$WORK/model.bin" \
    --tokenizer "$WORK/tokenizer.bin" --device cpu --threads 1 --max-batch 16 --max-queue 64 \
    --name "${names[$i]}" >"$WORK/${names[$i]}.log" 2>&1 &
  pids+=($!)
  engine_pids+=($!)
done
for i in 1 2 3; do wait_http "http://127.0.0.1:900$i/health"; done

echo "== spillway with config/examples/local.yaml (weights 5/3/2, least_conn, affinity, cache)"
"$BIN/spillway" --check-config "$ROOT/config/examples/local.yaml"
"$BIN/spillway" --config "$ROOT/config/examples/local.yaml" >"$WORK/spillway.log" 2>&1 &
SPILLWAY=$!
pids+=($SPILLWAY)
wait_http http://127.0.0.1:9901/readyz

echo "== one streamed completion through the proxy (events arrive as the engine makes them)"
curl -sN http://127.0.0.1:8080/v1/completions -H 'Content-Type: application/json' \
  -d '{"prompt": "Once upon a time", "max_tokens": 12, "temperature": 0, "stream": true}' | head -n 6 || true
echo

echo "== the same port speaks HTTP/2 (h2c with prior knowledge): the stream's events as DATA frames"
curl -sN --http2-prior-knowledge -w '(protocol: HTTP/%{http_version})\n' \
  http://127.0.0.1:8080/v1/completions -H 'Content-Type: application/json' \
  -d '{"prompt": "Once upon a time", "max_tokens": 4, "temperature": 0, "stream": true}' | tail -n 5 || true

complete() {  # extra curl args...; prints the response headers asked for by the caller
  curl -s -o /dev/null -D - http://127.0.0.1:8080/v1/completions -H 'Content-Type: application/json' "$@"
}

echo "== session affinity: each session's turns land on one engine (X-Session-ID)"
for s in alice bob carol; do
  engines=$(for t in 1 2 3 4; do
    complete -H "X-Session-ID: $s" -d "{\"prompt\": \"turn $t of $s\", \"max_tokens\": 4, \"temperature\": 0.7}" |
      tr -d '\r' | awk -F': ' 'tolower($1) == "x-engine-name" {print $2}'
  done | sort | uniq -c | tr '\n' ' ')
  echo "  $s: $engines"
done

echo "== cache: the same deterministic completion twice (Cache-Status), stored in memory and Redis"
body='{"prompt": "The cache demo", "max_tokens": 8, "temperature": 0}'
for i in 1 2; do
  echo "  request $i: $(complete -d "$body" | tr -d '\r' | grep -i '^cache-status' || true)"
done
echo "  redis holds $(redis-cli -p 6390 --scan --pattern 'spillway-demo:*' | wc -l) entries"

echo "== load: 10 s, 16 concurrent, streamed completions"
"$BIN/spillway-loadgen" http://127.0.0.1:8080/v1/completions --concurrency 16 --duration 10s \
  --openai --stream --max-tokens 16 --tenants 4 --system-prompt-words 24 --session-words 0 \
  --tail-words 8 || true

echo "== per-engine share (spillway_upstream_requests_total)"
curl -s http://127.0.0.1:9901/metrics | grep '^spillway_upstream_requests_total' || true

echo "== engine-c killed under load: no client error (connect failures retried elsewhere);"
echo "   its breaker (5 s window, now empty) trips and outlier detection ejects it"
sleep 5
kill "${engine_pids[2]}"
"$BIN/spillway-loadgen" http://127.0.0.1:8080/v1/completions --concurrency 16 --duration 3s \
  --openai --max-tokens 4 --tenants 4 --system-prompt-words 8 --session-words 0 \
  --tail-words 8 | grep -E '^  (requests|status|upstreams)' || true
sleep 1
echo "== what the proxy knows about engine-c now (ejected, breaker, active health)"
curl -s http://127.0.0.1:9901/metrics |
  grep -E '^spillway_(endpoint_ejected|circuit_breaker_state|endpoint_healthy|retries_total)\{.*(9003|reason="connect_failure")' || true

echo "== status page: http://127.0.0.1:9901/ (JSON behind it: /admin/status)"
curl -s http://127.0.0.1:9901/admin/status | head -c 300; echo

echo "== graceful drain on SIGTERM"
kill -TERM "$SPILLWAY"
wait "$SPILLWAY" && echo "spillway drained and exited 0"
