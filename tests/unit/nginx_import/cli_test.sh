#!/usr/bin/env bash
# `spillway import-nginx FILE`: YAML on stdout that `spillway --check-config` accepts, warnings
# and errors on stderr, exit 1 on a syntax error. Exit 77 (skipped) while the binary has no
# import-nginx command. Usage: cli_test.sh SPILLWAY_BINARY DATA_DIR
set -uo pipefail
spillway=$1
data=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$spillway" import-nginx "$data/upstream_least_conn.conf" >"$work/out.yaml" 2>"$work/err"
rc=$?
if [[ $rc == 2 ]] && grep -q '^usage:' "$work/err"; then
  echo "spillway has no import-nginx command yet; skipped"
  exit 77
fi
fail() { echo "FAIL: $*"; cat "$work/err"; exit 1; }
[[ $rc == 0 ]] || fail "import-nginx exited $rc"
grep -q 'warning: .*upstream_least_conn.conf:12: server 10.0.0.5:9000 down' "$work/err" || fail "no warning for the down server"
grep -q '^clusters:' "$work/out.yaml" || fail "no YAML on stdout"
"$spillway" --check-config "$work/out.yaml" >/dev/null 2>"$work/err" || fail "the output does not pass --check-config"

"$spillway" import-nginx "$data/syntax_error.conf" >"$work/out.yaml" 2>"$work/err"
rc=$?
[[ $rc == 1 ]] || fail "a syntax error exited $rc"
grep -q "error: .*syntax_error.conf:6: unexpected '}'" "$work/err" || fail "the syntax error is not reported"
[[ ! -s "$work/out.yaml" ]] || fail "YAML printed for a file that did not parse"
echo "import-nginx CLI: ok"
