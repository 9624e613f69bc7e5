#!/usr/bin/env bash
# Side-by-side HTTP/2 benchmark: Spillway, nginx and nghttpx, h2c and TLS (see bench/README.md).
#   bench/h2/run.sh [--quick] [--spillway PATH] [--baseline PATH] [--only spillway,nginx,nghttpx] [--modes h2c,tls]
#                   [--runs N] [--duration S] [--conns N] [--streams N] [--callgrind] [--nice N]
#                   [--same-headers]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ulimit -n "$(ulimit -Hn)"
exec /usr/bin/python3 "$here/run.py" "$@"
