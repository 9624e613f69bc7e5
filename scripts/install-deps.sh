#!/usr/bin/env bash
# Installs every Debian 12 package the build, the tests, the demo and the benchmarks use.
# Run as root on a fresh machine; safe to run again.
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build ccache pkg-config git
  # libraries (SPEC §1)
  libboost1.81-dev libboost-json1.81-dev libboost-program-options1.81-dev
  libyaml-cpp-dev libfmt-dev libhiredis-dev libnghttp2-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libbrotli-dev zlib1g-dev
  # test and benchmark peers
  redis-server nginx-light haproxy varnish wrk nghttp2-client nghttp2-proxy curl valgrind
  python3 python3-h2 hyperfine procps iproute2 docker-compose
  # status page test (headless browser)
  chromium chromium-driver fonts-dejavu-core
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # Package scripts must not start the services (nginx, haproxy, redis, varnish) on install.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi
