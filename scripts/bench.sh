#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Builds libsmxkern optimized, runs the benchmark suite pinned to one core,
# stores the Google Benchmark JSON under bench-results/ and prints a table.
#
#   scripts/bench.sh [--quick | --full] [--pytorch] [--filter REGEX]
#                    [-- BENCHMARK_ARGS...]
#
#   --quick        (default) shapes 1x1000 64x1000 8x32000 1x4194304, short runs
#   --full         every shape, 5 repetitions in random order (Google
#                  Benchmark's random interleaving: each case's runs, and the
#                  memcpy/add floors', spread over the whole suite, so slow
#                  drift of the machine hits all alike), medians reported,
#                  and the x86 kernels' performance targets checked
#   --pytorch      also install libtorch-dev (about 470 MB with its
#                  dependencies) to benchmark PyTorch beside libsmxkern;
#                  without it, PyTorch is benchmarked if already installed
#   --filter RE    only benchmarks whose name matches RE (Google Benchmark
#                  regex; names are op/isa/ROWSxCOLS and memcpy/ROWSxCOLS).
#                  With --quick it is combined with the quick shapes.
#   -- ARGS        passed to smxbench as is, e.g. -- --benchmark_min_time=1
#
# Environment: SMX_BENCH_BUILDDIR (default build-release), SMX_BENCH_CPU
# (core to pin to; default the last one), SMX_BENCH_NO_INSTALL=1 (never
# call apt-get).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/scripts/deps.sh"
build=${SMX_BENCH_BUILDDIR:-$root/build-release}
results=$root/bench-results
quick_shapes='(1x1000|64x1000|8x32000|1x4194304)$'

say() { printf 'bench.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

mode=quick
pytorch=0
filter=
extra=()
while [ $# -gt 0 ]; do
    case $1 in
    --quick) mode=quick ;;
    --full) mode=full ;;
    --pytorch) pytorch=1 ;;
    --filter)
        [ $# -ge 2 ] || die "--filter needs a REGEX"
        filter=$2
        shift ;;
    --filter=*) filter=${1#--filter=} ;;
    --) shift; extra=("$@"); break ;;
    -h | --help) sed -n '3,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
    esac
    shift
done

# Debian/Ubuntu only (scripts/deps.sh); a machine that has everything does
# nothing here. oneDNN and PyTorch are optional peers: their absence only
# drops a column.
install_packages() {
    [ "${SMX_BENCH_NO_INSTALL:-0}" = 1 ] && return 0
    ensure_packages meson ninja-build pkg-config gcc g++ libsleef-dev \
        libbenchmark-dev python3 python3-matplotlib ||
        die "could not install the packages the suite needs"
    ensure_packages libdnnl-dev >/dev/null 2>&1 ||
        say "note: libdnnl-dev not installed: no oneDNN column"
    if [ $pytorch = 1 ]; then
        ensure_packages libtorch-dev >/dev/null 2>&1 ||
            die "could not install libtorch-dev (--pytorch)"
    fi
}

warn_cpufreq() {
    local govs
    govs=$(cat /sys/devices/system/cpu/cpu*/cpufreq/scaling_governor 2>/dev/null | sort -u | tr "\n" " ") || true
    if [ -z "$govs" ]; then
        say "note: CPU frequency governor not visible (VM or container?);" \
            "frequency scaling may still add noise"
    elif [ "$govs" != "performance " ]; then
        say "warning: CPU frequency scaling is on (governor: ${govs% });" \
            "for stable numbers: sudo cpupower frequency-set -g performance"
    fi
}

install_packages

opts=(--buildtype=release -Dtests=disabled -Dbench=enabled)
if [ -f "$build/build.ninja" ]; then
    meson configure "$build" "${opts[@]}" >/dev/null
else
    meson setup "$build" "$root" "${opts[@]}" >/dev/null ||
        die "meson setup failed (see $build/meson-logs/meson-log.txt)"
fi
if ! meson compile -C "$build" smxbench >"$build/smxbench-build.log" 2>&1; then
    tail -n 30 "$build/smxbench-build.log" >&2
    die "build failed (full log: $build/smxbench-build.log)"
fi
exe=$build/bench/smxbench
[ -x "$exe" ] || die "$exe was not built (Google Benchmark not found?)"

# Google Benchmark's POSIX regex cannot intersect two patterns: list what
# FILTER matches, keep the mode's shapes, add memcpy and add of those shapes
# (the report's floors) and pass the exact names.
shapes_re='/[0-9]+x[0-9]+$'
[ $mode = quick ] && shapes_re=/$quick_shapes
if [ -n "$filter" ]; then
    names=$("$exe" --benchmark_list_tests "--benchmark_filter=$filter" 2>/dev/null |
            grep -E "$shapes_re") || true
    [ -n "$names" ] || die "no $mode benchmark matches '$filter'"
    names=$(printf '%s\n' "$names" | sed 's|.*/||' | sort -u |
            sed 's|^|memcpy/|; p; s|^memcpy/|add/|' |
            cat - <(printf '%s\n' "$names") | paste -sd '|')
    filter="^($names)\$"
elif [ $mode = quick ]; then
    filter=/$quick_shapes
fi

args=()
if [ $mode = quick ]; then
    args+=(--benchmark_min_time=0.2)
else
    args+=(--benchmark_repetitions=5 --benchmark_display_aggregates_only=true
           --benchmark_enable_random_interleaving=true
           --benchmark_min_time=0.25)
fi
[ -n "$filter" ] && args+=("--benchmark_filter=$filter")

mkdir -p "$results"
stamp=$(date +%Y%m%d-%H%M%S)
json=$results/$stamp-$mode.json
args+=("--benchmark_out=$json" --benchmark_out_format=json)

# One core, one thread: the library is single-threaded, so is oneDNN here.
pin=()
if command -v taskset >/dev/null; then
    # Default: the last CPU we may use ("0-3,6,8-9" -> 9); CPU 0 usually
    # takes more interrupts.
    allowed=$(taskset -pc $$ 2>/dev/null | sed 's/.*: *//') || true
    last=${allowed##*,}
    cpu=${SMX_BENCH_CPU:-${last##*-}}
    if taskset -c "$cpu" true 2>/dev/null; then
        pin=(taskset -c "$cpu")
        say "pinned to CPU $cpu"
    else
        say "warning: could not pin to CPU $cpu; running unpinned"
    fi
else
    say "warning: taskset not found (util-linux): running unpinned"
fi
warn_cpufreq

say "running $mode suite -> $json"
start=$SECONDS
# Skipped cases (ISAs this build or CPU lacks) are listed once by smxbench
# and again by the report; hide their per-case lines.
OMP_NUM_THREADS=1 "${pin[@]}" "$exe" "${args[@]}" "${extra[@]}" 2>&1 |
    awk '/ERROR OCCURRED: .skipped: /{n++; next} {print; fflush()}
         END{if (n) printf "(%d skipped cases not shown)\n", n}'
say "suite took $((SECONDS - start)) s"
[ -s "$json" ] || die "smxbench wrote no results"

# pyenv or a venv may shadow the system python3 that has matplotlib.
py=python3
if ! python3 -c 'import matplotlib' 2>/dev/null && [ -x /usr/bin/python3 ] &&
    /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
    py=/usr/bin/python3
fi
cp "$json" "$results/latest.json"
# A full run has every shape the x86 kernels' targets name: check them too.
report_args=()
[ "$mode" = full ] && report_args=(--targets)
"$py" "$root/scripts/bench_report.py" "${report_args[@]}" "$json" | tee "${json%.json}.md"
cp "${json%.json}.md" "$results/latest.md"
[ -f "${json%.json}.png" ] && cp "${json%.json}.png" "$results/latest.png"
exit 0
