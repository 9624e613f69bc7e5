#!/usr/bin/env bash
# docker-compose.yml is valid Compose (docker-compose config -q needs no Docker daemon).
# Usage: check_compose.sh REPO_ROOT. Exit 77 (skipped) without docker-compose.
set -euo pipefail
root=$1
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "docker-compose not installed; skipped"
  exit 77
fi
cd "$root"
docker-compose -f docker-compose.yml config -q
services=$(docker-compose -f docker-compose.yml config --services | sort | tr '\n' ' ')
for s in redis engine-a engine-b engine-c proxy prometheus models; do
  [[ " $services " == *" $s "* ]] || { echo "docker-compose.yml: no service '$s' (have: $services)"; exit 1; }
done
echo "docker-compose.yml: ok ($services)"
