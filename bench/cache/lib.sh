# Shared by bench/cache/run.sh and bench/cache/callgrind.sh (sourced): a temporary folder with
# process cleanup, free ports, and the nginx upstream that answers every request with the same
# ~950-byte chat.completion. Callers set ROOT before sourcing.

DIR=$(mktemp -d /tmp/spillway-bench-cache.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # port [tries of 0.1 s]
  for _ in $(seq "${2:-200}"); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "port $1 never opened" >&2; exit 1
}

# The upstream's fixed answer: padded to ~950 bytes (just over what a 1 KiB memory tier can hold
# with its key and bookkeeping, within max_object_bytes).
write_answer() {  # file
  python3 - "$1" <<'PY'
import json, sys
content = "cached answer " + "x" * 700
a = {"id": "c1", "object": "chat.completion", "created": 1, "model": "tiny",
     "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                  "finish_reason": "stop"}],
     "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}}
open(sys.argv[1], "w").write(json.dumps(a))
PY
}

# One nginx process on 127.0.0.1:port answering `answer_file` to every request; runs it with
# the given command prefix (e.g. taskset) and records its pid in PIDS.
start_nginx_upstream() {  # port answer_file [prefix...]
  local port=$1 answer=$2; shift 2
  mkdir -p "$DIR/tmp"
  cat > "$DIR/nginx.conf" <<NGX
daemon off;
master_process off;
worker_processes 1;
error_log $DIR/nginx.err warn;
pid $DIR/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $DIR/tmp/body;
  proxy_temp_path $DIR/tmp/proxy;
  fastcgi_temp_path $DIR/tmp/fastcgi;
  uwsgi_temp_path $DIR/tmp/uwsgi;
  scgi_temp_path $DIR/tmp/scgi;
  keepalive_requests 1000000000;
  keepalive_timeout 600s;
  server {
    listen 127.0.0.1:$port backlog=4096;
    location / { default_type application/json; return 200 '$(cat "$answer")'; }
  }
}
NGX
  "$@" nginx -c "$DIR/nginx.conf" -p "$DIR" & PIDS+=($!)
}

# Spillway A's config: route `plain` (no cache) and route `chat` (cache, 64 MiB memory tier).
write_config_a() {  # file listener_port admin_port upstream_port
  cat > "$1" <<YAML
workers: 1
listeners: [{name: public, address: 127.0.0.1:$2}]
admin: {address: 127.0.0.1:$3}
clusters: [{name: up, endpoints: [{address: 127.0.0.1:$4}], pool: {max_idle: 256}}]
routes:
  - {name: plain, match: {path_prefix: /plain/}, cluster: up}
  - {name: chat, match: {path_prefix: /v1/}, cluster: up, cache: {ttl: 1h}}
cache: {memory: {max_bytes: 64MiB}, max_object_bytes: 1MiB}
YAML
}
