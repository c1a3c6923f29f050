#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The test command: installs what is missing (Debian), builds libsmxkern with
# warnings as errors, and runs the whole test suite on every ISA this CPU
# supports, then cross-compiles for 64-bit and 32-bit ARM and runs the same
# suites there under QEMU (scalar and NEON). Each stage reports separately;
# the last line totals them.
# Usage: scripts/test.sh [--keep-going]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
. scripts/deps.sh

keep_going=0
[ "${1:-}" = "--keep-going" ] && keep_going=1

ensure_packages gcc g++ meson ninja-build pkg-config libsleef-dev check libbenchmark-dev python3 || {
    echo "error: the base packages could not be installed; no stage can run" >&2
    exit 1
}

total_pass=0 total_fail=0 failed_stages=""

# stage NAME BUILD_DIR [MESON_SETUP_ARGS...] [-- MESON_TEST_ARGS...]:
# configure, build, test. Environment put in front (VAR=value stage ...)
# reaches setup, build and tests.
stage() {
    local name=$1 dir=$2
    shift 2
    local setup=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        setup+=("$1")
        shift
    done
    [ $# -gt 0 ] && shift # the rest: meson test arguments
    echo "=== $name ($dir)"
    local rc=0 log pass=0 fail=0 start=$SECONDS
    # setup and build quietly, but show what they said when they fail
    local out
    out=$(mktemp)
    if [ -f "$dir/meson-private/coredata.dat" ]; then # a configured build dir
        meson setup --reconfigure "$dir" "${setup[@]}" >"$out" 2>&1 || rc=$?
    else
        meson setup "$dir" "${setup[@]}" >"$out" 2>&1 || rc=$?
    fi
    rm -f "$dir"/meson-logs/testlog*.json "$dir"/meson-logs/testlog*.txt
    [ $rc -eq 0 ] && { ninja -C "$dir" >"$out" 2>&1 || rc=$?; }
    if [ $rc -ne 0 ]; then
        echo "$name: setup or build failed; its last lines:"
        tail -n 40 "$out"
    fi
    rm -f "$out"
    if [ $rc -eq 0 ]; then
        meson test -C "$dir" --print-errorlogs --num-processes "$(nproc)" "$@" || rc=$?
    fi
    # testlog.json, or testlog-<wrapper>.json under --wrapper
    log=$(ls -t "$dir"/meson-logs/testlog*.json 2>/dev/null | head -n 1 || true)
    if [ -n "$log" ]; then
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
        { grep -ho "Checks: [0-9]*, Failures: [0-9]*, Errors: [0-9]*" "${log%.json}.txt" || true; } |
            awk -F'[:,] *' '{c+=$2; f+=$4; e+=$6} END {printf "Check: %d checks, %d failures, %d errors\n", c, f, e}'
    fi
    [ $rc -ne 0 ] && [ $fail -eq 0 ] && fail=1 # a build failure counts
    echo "$name: $pass passed, $fail failed ($((SECONDS - start)) s)"
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

# Sanitizers, ThreadSanitizer, the fuzzer, a CPU without AVX, Valgrind.
. scripts/hardening.sh
hardening_stages

# ARM: GCC cross compilers, the target's libraries from Debian multiarch,
# QEMU user mode to run the tests (scripts/cross/*.ini). The cross files
# and package names assume an x86-64 build machine; on an ARM machine the
# native stage above already ran scalar and NEON.
if [ "$(uname -m)" != x86_64 ]; then
    echo "note: the aarch64 and armhf stages run on x86-64 build machines only"
    finish
fi
arm_packages() {
    if command -v dpkg >/dev/null 2>&1; then
        add_architecture arm64 armhf || return 1
    fi
    ensure_packages gcc-aarch64-linux-gnu g++-aarch64-linux-gnu \
        gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf qemu-user \
        libsleef-dev:arm64 check:arm64 libbenchmark-dev:arm64 \
        libsleef-dev:armhf check:armhf libbenchmark-dev:armhf
}
if ! arm_packages; then
    echo "error: the ARM cross toolchains and libraries could not be installed;" \
        "the aarch64 and armhf stages cannot run" >&2
    failed_stages="$failed_stages arm-packages"
    total_fail=$((total_fail + 1))
    finish
fi
stage aarch64 build-aarch64 --cross-file scripts/cross/aarch64-linux-gnu.ini \
    -Dwerror=true -Dbuildtype=debugoptimized
stage armhf build-armhf --cross-file scripts/cross/arm-linux-gnueabihf.ini \
    -Dwerror=true -Dbuildtype=debugoptimized
finish
