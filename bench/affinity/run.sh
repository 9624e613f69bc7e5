#!/usr/bin/env bash
# Prefix affinity vs round robin / least_conn / nginx on three CPU engines (bench/affinity/run.py).
#   bench/affinity/run.sh [--rates 1,2,3] [--duration S] [--only "spillway prefix,nginx"] ...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ulimit -n "$(ulimit -Hn)"
exec /usr/bin/python3 "$here/run.py" "$@"
