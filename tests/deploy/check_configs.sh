#!/usr/bin/env bash
# The proxy configurations the deployments mount pass `spillway --check-config`.
# Usage: check_configs.sh SPILLWAY_BINARY REPO_ROOT
set -euo pipefail
spillway=$1
root=$2
status=0
for f in deploy/spillway.compose.yaml deploy/kubernetes/spillway.yaml config/examples/local.yaml; do
  if ! "$spillway" --check-config "$root/$f"; then
    echo "$f: spillway --check-config failed"
    status=1
  fi
done
exit $status
