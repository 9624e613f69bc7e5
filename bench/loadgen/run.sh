#!/usr/bin/env bash
# spillway-loadgen's own ceiling next to wrk and h2load (see bench/loadgen/README.md).
#   bench/loadgen/run.sh [--quick] [--loadgen PATH] [--runs N] [--duration S]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ulimit -n "$(ulimit -Hn)"
exec /usr/bin/python3 "$here/run.py" "$@"
