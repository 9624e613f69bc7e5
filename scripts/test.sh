#!/usr/bin/env bash
# The whole test suite on a fresh Debian 12 machine (as root): installs what it needs, builds
# everything with ASan+UBSan and runs every test; then builds the threaded parts with TSan and
# runs their tests again. Exits non-zero on any failure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
JOBS=${JOBS:-$(nproc)}

bash "$ROOT/scripts/install-deps.sh"

echo "== ASan+UBSan build"
ASAN=${ASAN_BUILD_DIR:-$ROOT/build-asan}
cmake -S "$ROOT" -B "$ASAN" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSPILLWAY_SANITIZE=address,undefined
cmake --build "$ASAN" -j"$JOBS"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Integration tests run real processes with real timing on a small shared machine: a test that
# fails is run once more, and only a second failure fails the suite.
(cd "$ASAN" && ctest --output-on-failure -j"$JOBS" --timeout 300 --repeat until-pass:2)

echo "== TSan build (threaded parts: proxy workers, shared endpoint state, resilience policies, reload,
   the engine's thread pool and scheduler)"
TSAN=${TSAN_BUILD_DIR:-$ROOT/build-tsan}
cmake -S "$ROOT" -B "$TSAN" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSPILLWAY_SANITIZE=thread
tsan_targets=(spillway spillway_balancer_tests spillway_resilience_tests spillway_reload_tests
              spillway_http2_tests spillway-engine spillway_engine_tests)
cmake --build "$TSAN" -j"$JOBS" --target "${tsan_targets[@]}"
export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
"$TSAN/bin/spillway_balancer_tests"
"$TSAN/bin/spillway_resilience_tests"
"$TSAN/bin/spillway_reload_tests"
"$TSAN/bin/spillway_engine_tests"
(cd "$TSAN" && ctest --output-on-failure -j"$JOBS" --timeout 300 --repeat until-pass:2 \
   -R '^(proxy|vtc|resilience|cache_proxy|h2abuse|http2)\.|^policy\.[A-Z]')
