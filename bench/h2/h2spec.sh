#!/usr/bin/env bash
# HTTP/2 conformance (h2spec) of Spillway, and optionally nghttpx and nginx, over h2c and TLS.
#   bench/h2/h2spec.sh --source DIR [--spillway PATH] [--peers]
# h2spec is not packaged by Debian; DIR is a checkout of github.com/summerwind/h2spec. It is built
# offline in GOPATH mode against Debian's Go packages, which the script installs when missing
# (not part of scripts/install-deps.sh: CI does not run it). Prints a summary and writes the
# full reports to bench/results/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source_dir="" spillway="$repo/build-release/bin/spillway" peers=0
while (($#)); do
  case "$1" in
    --source) source_dir="$2"; shift 2 ;;
    --spillway) spillway="$2"; shift 2 ;;
    --peers) peers=1; shift ;;
    *) echo "usage: $0 --source DIR [--spillway PATH] [--peers]" >&2; exit 2 ;;
  esac
done
[[ -n "$source_dir" && -f "$source_dir/cmd/h2spec/h2spec.go" ]] || {
  echo "--source DIR: a checkout of github.com/summerwind/h2spec is needed" >&2; exit 2; }
[[ -x "$spillway" ]] || { echo "no spillway binary at $spillway" >&2; exit 2; }
go_packages=(golang-go golang-github-spf13-cobra-dev golang-github-spf13-pflag-dev
  golang-golang-x-net-dev golang-golang-x-sys-dev golang-github-fatih-color-dev
  golang-github-mattn-go-colorable-dev golang-github-mattn-go-isatty-dev
  golang-github-inconshreveable-mousetrap-dev)
if ! dpkg -s "${go_packages[@]}" >/dev/null 2>&1; then
  ${SUDO:-$( ((EUID)) && echo sudo)} apt-get install -y -q "${go_packages[@]}" >/dev/null
fi
for tool in go nginx openssl python3; do
  command -v "$tool" >/dev/null || { echo "missing tool: $tool" >&2; exit 2; }
done

work="$(mktemp -d /tmp/spillway-h2spec-XXXXXX)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Build h2spec: its module requirements resolve to Debian's packages under /usr/share/gocode.
mkdir -p "$work/gopath/src/github.com/summerwind" "$work/tmp"
cp -r "$source_dir" "$work/gopath/src/github.com/summerwind/h2spec"
(cd "$work/gopath/src/github.com/summerwind/h2spec" &&
  GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="$work/gocache" GOFLAGS= \
    nice go build -o "$work/h2spec" ./cmd/h2spec)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 100); do
    python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "port $1 not listening" >&2; return 1
}
render() {  # template dest KEY=VALUE...
  local text; text="$(cat "$here/conf/$1")"; local dest="$2"; shift 2
  for kv in "$@"; do text="${text//@${kv%%=*}@/${kv#*=}}"; done
  printf '%s\n' "$text" > "$dest"
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj /CN=localhost -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
up=$(free_port)
render upstream-nginx.conf.in "$work/up.conf" DIR="$work" UPPORT="$up"
nginx -p "$work" -c "$work/up.conf" >"$work/up.log" 2>&1 & pids+=($!)
wait_port "$up"

targets=()
start_spillway() {  # mode
  local port; port=$(free_port)
  local tls=""
  [[ $1 == tls ]] && tls="    tls: {certificate: $work/cert.pem, private_key: $work/key.pem}"
  render spillway.yaml.in "$work/sw-$1.yaml" PORT="$port" UPPORT="$up" ADMINPORT="$(free_port)" TLS="$tls"
  "$spillway" --config "$work/sw-$1.yaml" >"$work/sw-$1.log" 2>&1 & pids+=($!)
  wait_port "$port"; targets+=("Spillway:$1:$port")
}
start_spillway h2c
start_spillway tls
if ((peers)); then
  for mode in h2c tls; do
    port=$(free_port)
    frontend="127.0.0.1,$port"; [[ $mode == h2c ]] && frontend+=";no-tls"
    render nghttpx.conf.in "$work/nx-$mode.conf" FRONTEND="$frontend" UPPORT="$up" DIR="$work" \
      TAG="nx-$mode" KEY="$work/key.pem" CERT="$work/cert.pem" HEADERS=
    nghttpx --conf="$work/nx-$mode.conf" >"$work/nx-$mode.log" 2>&1 & pids+=($!)
    wait_port "$port"; targets+=("nghttpx:$mode:$port")
    port=$(free_port)
    listen="http2"; [[ $mode == tls ]] && listen="ssl http2"
    render nginx.conf.in "$work/ng-$mode.conf" DIR="$work" UPPORT="$up" PORT="$port" LISTEN="$listen" \
      TAG="ng-$mode" MASTER=off KEY="$work/key.pem" CERT="$work/cert.pem" HEADERS=
    nginx -p "$work" -c "$work/ng-$mode.conf" >"$work/ng-$mode.log" 2>&1 & pids+=($!)
    wait_port "$port"; targets+=("nginx:$mode:$port")
  done
fi

out="$repo/bench/results/h2spec-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$out"
echo "| target | mode | h2spec result | failed tests |"
echo "|---|---|---|---|"
for t in "${targets[@]}"; do
  IFS=: read -r name mode port <<<"$t"
  flags=(); [[ $mode == tls ]] && flags=(-t -k)
  report="$out/$name-$mode.txt"
  timeout 300 "$work/h2spec" -h 127.0.0.1 -p "$port" "${flags[@]}" --timeout 3 >"$report" 2>&1 || true
  failed=$(grep -E '^\s+× ' "$report" | sed -E 's/^\s+× //' | paste -sd ';' - | sed 's/;/; /g')
  echo "| $name | $mode | $(tail -1 "$report") | ${failed:-–} |"
done
echo "full reports: $out" >&2
