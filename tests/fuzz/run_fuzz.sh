#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs the fuzz target: replays the seed corpus, then, if SMX_FUZZ_SECONDS is
# set, fuzzes for that many seconds (SMX_FUZZ_JOBS processes, default 1).
# New inputs go to a scratch directory, never into the repository. A
# finding fails the run and is kept in OUT_DIR/fuzz-artifacts/.
# Usage: run_fuzz.sh FUZZER SEED_CORPUS OUT_DIR [LIBFUZZER_FLAGS...]
set -eu
fuzzer=$1 seeds=$2 artifacts=$3/fuzz-artifacts
shift 3
mkdir -p "$artifacts"
rm -f "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-*

report() {
    for a in "$artifacts"/*; do
        [ -f "$a" ] || continue
        echo "finding: $a ($(wc -c <"$a") bytes); reproduce: $fuzzer $a" >&2
        od -An -tx1 "$a" | head -n 20 >&2
    done
    exit 1
}

# Replay: each seed once (libFuzzer writes no artifact for these).
"$fuzzer" "$@" "$seeds"/* || {
    echo "finding: the seed named by the last 'Running:' line above fails;" \
        "reproduce: $fuzzer SEED" >&2
    exit 1
}
secs=${SMX_FUZZ_SECONDS:-0}
[ "$secs" -gt 0 ] || exit 0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
jobs=${SMX_FUZZ_JOBS:-1}
fork=""
[ "$jobs" -gt 1 ] && fork="-fork=$jobs"
# shellcheck disable=SC2086
"$fuzzer" $fork -max_total_time="$secs" -timeout=10 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" "$work" "$seeds" || report
