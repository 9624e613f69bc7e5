#!/usr/bin/env bash
# Cost of the traffic policies: the plain proxy against rate limiting (local, shared through
# Redis) and compression, in one run (see bench/README.md "Traffic policy").
#   bench/policy/run.sh [--quick] [--spillway PATH] [--seconds N] [--cg-requests N]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ulimit -n "$(ulimit -Hn)"
exec /usr/bin/python3 "$here/run.py" "$@"
