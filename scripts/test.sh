#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test command: installs what is missing (Debian), builds libsmxkern with
# warnings as errors, and runs the whole test suite on every ISA this CPU
# supports. Each stage reports separately; the last line totals them.
# Usage: scripts/test.sh [--keep-going]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/deps.sh

keep_going=0
[ "${1:-}" = "--keep-going" ] && keep_going=1

ensure_packages gcc g++ meson ninja-build pkg-config libsleef-dev check libbenchmark-dev python3

total_pass=0 total_fail=0 failed_stages=""

# stage NAME BUILD_DIR [MESON_SETUP_ARGS...]: configure, build, test.
stage() {
    local name=$1 dir=$2
    shift 2
    echo "=== $name ($dir)"
    if [ -d "$dir" ]; then
        meson setup --reconfigure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@" >/dev/null
    fi
    local rc=0 log="$dir/meson-logs/testlog.json" pass=0 fail=0
    rm -f "$log"
    ninja -C "$dir" >/dev/null || rc=$?
    if [ $rc -eq 0 ]; then
        meson test -C "$dir" --print-errorlogs --num-processes "$(nproc)" || rc=$?
    fi
    if [ -f "$log" ]; then
        read -r pass fail < <(python3 - "$log" <<'PY'
import json, sys
p = f = 0
for line in open(sys.argv[1]):
    r = json.loads(line).get("result")
    if r in ("OK", "EXPECTEDFAIL", "SKIP"): p += 1
    else: f += 1
print(p, f)
PY
)
        grep -ho "Checks: [0-9]*, Failures: [0-9]*, Errors: [0-9]*" "$dir/meson-logs/testlog.txt" |
            awk -F'[:,] *' '{c+=$2; f+=$4; e+=$6} END {printf "Check: %d checks, %d failures, %d errors\n", c, f, e}'
    fi
    [ $rc -ne 0 ] && [ $fail -eq 0 ] && fail=1 # a build failure counts
    echo "$name: $pass passed, $fail failed"
    total_pass=$((total_pass + pass))
    total_fail=$((total_fail + fail))
    if [ $fail -ne 0 ]; then
        failed_stages="$failed_stages $name"
        [ $keep_going -eq 1 ] || finish
    fi
}

finish() {
    [ -n "$failed_stages" ] && echo "failed stages:$failed_stages"
    echo "tests: $total_pass passed, $total_fail failed"
    [ $total_fail -eq 0 ]
    exit $?
}

stage native build-test -Dwerror=true -Dbuildtype=debugoptimized
finish
