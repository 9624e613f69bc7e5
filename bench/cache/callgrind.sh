#!/usr/bin/env bash
# Instructions per request of the response cache's hit path against plain proxying, counted by
# valgrind callgrind in one Spillway process (workers: 1) behind the same nginx upstream as
# run.sh. After a warm-up, counters are zeroed (callgrind_control -z), N keep-alive requests are
# sent one at a time, and the dump's total Ir divided by N is reported, for each target:
#   proxied      route `plain`, no cache
#   memory hit   route `chat`, the same byte-identical request every time
#   equivalent   route `chat`, N differently written but equivalent bodies (all one entry)
#   bench/cache/callgrind.sh [--spillway PATH] [--requests N] [--keep DIR]
# --keep DIR copies the three dumps there (callgrind_annotate DIR/proxied.out).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SPILLWAY=$ROOT/build-release/bin/spillway
N=2000
KEEP=
while [[ $# -gt 0 ]]; do
  case $1 in
    --spillway) SPILLWAY=$2; shift 2 ;;
    --requests) N=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in valgrind callgrind_control nginx python3; do
  command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 1; }
done

source "$ROOT/bench/cache/lib.sh"
UP=$(free_port); A=$(free_port); AA=$(free_port)
write_answer "$DIR/answer.json"
start_nginx_upstream "$UP" "$DIR/answer.json"
write_config_a "$DIR/a.yaml" "$A" "$AA" "$UP"
valgrind --tool=callgrind --callgrind-out-file="$DIR/cg.%p" --dump-instr=no \
  "$SPILLWAY" --config "$DIR/a.yaml" >"$DIR/a.log" 2>&1 & VG=$!
PIDS+=($VG)
wait_port "$UP"; wait_port "$A" 600

# One keep-alive connection, requests one at a time; checks each answer's status and Cache-Status.
cat > "$DIR/client.py" <<'PY'
import json, socket, sys
port, path, n, mode = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
s = socket.create_connection(("127.0.0.1", port))
buf = b""
def body_for(i):
    if mode != "equivalent":
        return b'{"model": "tiny", "temperature": 0, "messages": [{"role": "user", "content": "hello cache"}]}'
    # the same request written N ways: key order, spacing, number spelling
    ws = " " * (i % 7)
    temp = ["0", "0.0", "0e3", "0E0", "0.00"][i % 5]
    return ('{"messages":%s[{"content": "hello cache", "role": "user"}],%s"temperature": %s,'
            ' "model": "tiny"%s}' % (ws, " " * (i // 7 % 11), temp, " " * (i // 77))).encode()
for i in range(n):
    b = body_for(i)
    s.sendall(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(b), b))
    while b"\r\n\r\n" not in buf:
        buf += s.recv(65536)
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    assert lines[0].startswith("HTTP/1.1 200"), lines[0]
    h = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:]}
    if mode != "plain" and i > 0 or mode == "equivalent":
        assert h.get("cache-status", "").startswith("spillway; hit"), (i, h.get("cache-status"))
    ln = int(h["content-length"])
    while len(buf) < ln:
        buf += s.recv(65536)
    buf = buf[ln:]
PY
measure() {  # label path mode
  python3 "$DIR/client.py" "$A" "$2" 50 "$3"  # warm-up (and the entry stored)
  callgrind_control -z "$VG" >/dev/null
  python3 "$DIR/client.py" "$A" "$2" "$N" "$3"
  rm -f "$DIR"/cg.*.[0-9]*
  callgrind_control -d "$1" "$VG" >/dev/null
  local f; f=$(ls -t "$DIR"/cg.*.[0-9]* | head -1)
  local ir; ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$f")
  if [[ -n $KEEP ]]; then mkdir -p "$KEEP"; cp "$f" "$KEEP/$1.out"; fi
  echo "$1 $ir"
}
RES=$DIR/res.txt
measure proxied /plain/v1/chat/completions plain >>"$RES"
measure memory /v1/chat/completions hit >>"$RES"
measure equivalent /v1/chat/completions equivalent >>"$RES"
python3 - "$RES" "$N" <<'PY'
import sys
rows = dict((l.split()[0], int(l.split()[1])) for l in open(sys.argv[1]))
n = int(sys.argv[2])
print(f"callgrind, Spillway workers: 1, {n} keep-alive requests one at a time per target\n")
print("| target | instructions per request | vs proxied |")
print("|---|---|---|")
for k, label in (("proxied", "proxied to nginx (no cache)"), ("memory", "memory hit, byte-identical request"),
                 ("equivalent", "memory hit, equivalent bodies written differently")):
    print(f"| {label} | {rows[k] / n:,.0f} | {rows[k] / rows['proxied']:.2f}× |")
PY
