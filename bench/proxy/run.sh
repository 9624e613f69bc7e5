#!/usr/bin/env bash
# Side-by-side benchmark of the proxy core: Spillway, nginx, HAProxy and direct (see bench/README.md).
#   bench/proxy/run.sh [--quick] [--spillway PATH] [--only spillway,nginx,haproxy] [--runs N] [--skip PHASES]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ulimit -n "$(ulimit -Hn)"
exec /usr/bin/python3 "$here/run.py" "$@"
