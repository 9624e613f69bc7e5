#!/usr/bin/env bash
# Resilience (chaos) benchmark: Spillway, nginx and HAProxy in front of three engines, one killed
# and restarted, one slow, at a fixed rate (see bench/README.md, "Resilience (chaos)").
#   bench/chaos/run.sh [--quick] [--only spillway,nginx,haproxy] [--runs N] [--rate R] [--nice N]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ulimit -n "$(ulimit -Hn)"
exec /usr/bin/python3 "$here/run.py" "$@"
