#!/usr/bin/env bash
# System calls per request counted with perf tracepoints (no strace: strace slows the proxy so much
# that upstream answers are already there when it reads speculatively, which hides failed reads).
# Same layout as run.sh: the proxy on core 0, the upstream nginx and h2load on core 1.
#   bench/proxy/syscalls_perf.sh [--spillway PATH] [--requests N] [--conns "4 32"]
# Prints a Markdown table: all calls, recvfrom (of which failed), sendto + writev, epoll_wait.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
spillway="$repo/build-release/bin/spillway"
requests=20000
conns="4 32"
while [ $# -gt 0 ]; do
  case "$1" in
    --spillway) spillway="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --conns) conns="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
for tool in perf nginx haproxy h2load taskset; do
  command -v "$tool" > /dev/null || { echo "needs $tool" >&2; exit 1; }
done

work="$(mktemp -d /tmp/spillway-syscalls-XXXXXX)"
mkdir -p "$work/tmp"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
render() {  # template dest
  sed -e "s#@DIR@#$work#g" -e "s#@UPPORT@#$upport#g" -e "s#@PORT@#$port#g" -e "s#@ADMINPORT@#$adminport#g" \
    -e "s#@HEADERS@##g" -e "s#@MASTER@#on#g" -e "s#@MAXCONN@#9000#g" "$here/conf/$1" > "$2"
}
wait_port() {
  for _ in $(seq 100); do
    if (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  return 1
}

upport=$(free_port) port=$(free_port) adminport=$(free_port)
render upstream-nginx.conf.in "$work/upstream.conf"
taskset -c 1 nginx -p "$work" -c "$work/upstream.conf" & pids+=($!)
wait_port "$upport"

echo "| proxy | conns | calls / req | recvfrom (failed) | sendto + writev | epoll_wait |"
echo "|---|---|---|---|---|---|"
for name in spillway nginx haproxy; do
  case $name in
    spillway) render spillway.yaml.in "$work/p.yaml"; cmd=("$spillway" --config "$work/p.yaml") ;;
    nginx) render nginx.conf.in "$work/p.conf"; cmd=(nginx -p "$work" -c "$work/p.conf") ;;
    haproxy) render haproxy.cfg.in "$work/p.cfg"; cmd=(haproxy -db -f "$work/p.cfg") ;;
  esac
  for c in $conns; do
    taskset -c 0 "${cmd[@]}" > "$work/$name.log" 2>&1 &
    proxy=$!
    pids+=($proxy)
    wait_port "$port"
    taskset -c 1 h2load --h1 -n2000 -c"$c" "http://127.0.0.1:$port/" > /dev/null
    # every process of the proxy (nginx: master and worker)
    targets=$(
      pgrep -P "$proxy" | tr '\n' ','
      echo "$proxy"
    )
    perf stat -x, -o "$work/perf.txt" -p "$targets" -e raw_syscalls:sys_enter \
      -e syscalls:sys_enter_recvfrom -e syscalls:sys_exit_recvfrom --filter 'ret < 0' \
      -e syscalls:sys_enter_sendto -e syscalls:sys_enter_writev -e syscalls:sys_enter_epoll_wait &
    perf_pid=$!
    sleep 0.3
    taskset -c 1 h2load --h1 -n"$requests" -c"$c" "http://127.0.0.1:$port/" > "$work/h2load.txt"
    grep -q "$requests succeeded" "$work/h2load.txt" || { cat "$work/h2load.txt" >&2; exit 1; }
    kill -INT $perf_pid
    wait $perf_pid || true
    kill "$proxy"
    wait "$proxy" 2> /dev/null || true
    awk -F, -v n="$requests" -v name="$name" -v c="$c" '
      /^[0-9]/ { v[$3] = $1 / n }
      END {
        printf "| %s | %s | %.2f | %.2f (%.2f) | %.2f | %.2f |\n", name, c, v["raw_syscalls:sys_enter"],
          v["syscalls:sys_enter_recvfrom"], v["syscalls:sys_exit_recvfrom"],
          v["syscalls:sys_enter_sendto"] + v["syscalls:sys_enter_writev"], v["syscalls:sys_enter_epoll_wait"]
      }' "$work/perf.txt"
  done
done
