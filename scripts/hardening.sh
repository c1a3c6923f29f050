# SPDX-License-Identifier: MIT
# shellcheck shell=bash disable=SC2154 # keep_going and the counters: test.sh
# The hardening stages of the test command. Sourced by scripts/test.sh after
# its native stage, whose stage(), finish(), keep_going and counters
# (total_pass, total_fail, failed_stages) it uses:
#     . scripts/hardening.sh
#     hardening_stages
# Each stage has its own build directory and reports "NAME: N passed,
# M failed" like the others. SMX_HARDENING picks stages (default: all of
# "asan tsan fuzz qemu valgrind"); SMX_FUZZ_SECONDS sets the fuzzing budget
# (default 60), SMX_FUZZ_JOBS its processes (default 1).

# Counts one more failure for stage NAME, as stage() does.
hardening_fail() {
    echo "$1: FAILED: $2"
    total_fail=$((total_fail + 1))
    case " $failed_stages " in
    *" $1 "*) ;;
    *) failed_stages="$failed_stages $1" ;;
    esac
    [ "$keep_going" -eq 1 ] || finish
}

# Under QEMU's Nehalem every test binary must have found scalar only: this
# also proves the wrapper was in effect.
hardening_expect_scalar_only() {
    local log
    log=$(ls -t "$2"/meson-logs/testlog*.txt 2>/dev/null | head -n 1 || true)
    local lines
    lines=$(grep -h "^ISAs under test:" "$log" 2>/dev/null || true)
    if [ -z "$lines" ]; then
        hardening_fail "$1" "no test reported its ISAs"
    elif echo "$lines" | grep -qvx "ISAs under test: scalar"; then
        hardening_fail "$1" "an ISA other than scalar was usable: $(echo "$lines" | sort -u | tr '\n' ';')"
    else
        echo "$1: $(echo "$lines" | wc -l) test binaries saw scalar only"
    fi
}

hardening_wants() {
    case " ${SMX_HARDENING:-asan tsan fuzz qemu valgrind} " in
    *" $1 "*) return 0 ;;
    *) return 1 ;;
    esac
}

hardening_stages() {
    ensure_packages clang libclang-rt-14-dev qemu-user valgrind ||
        echo "error: clang, qemu-user or valgrind did not install: stages that need them will fail" >&2
    local common=(-Dwerror=true -Dbench=disabled -Dbuildtype=debugoptimized)
    # Any report ends the process with an error, inside Check's forked
    # tests too (they then fail as "early exit").
    local asan=halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1
    local ubsan=halt_on_error=1:abort_on_error=1:print_stacktrace=1

    # (a) The whole suite under ASan + UBSan (install_consumer builds a
    # consumer without the sanitizer runtime: not meaningful here).
    hardening_wants asan &&
        CC=gcc ASAN_OPTIONS=$asan UBSAN_OPTIONS=$ubsan stage asan build-asan \
            "${common[@]}" -Db_sanitize=address,undefined -Db_lundef=false \
            -- --no-suite install --timeout-multiplier 3 || true

    # (b) ThreadSanitizer: first calls racing in fresh processes, then
    # concurrent calls while the ISA changes.
    hardening_wants tsan &&
        CC=gcc TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 stage tsan build-tsan \
            "${common[@]}" -Db_sanitize=thread -Db_lundef=false \
            -- threads dispatch --timeout-multiplier 3 || true

    # (c) libFuzzer with ASan + UBSan and coverage inside the library: the
    # seed corpus, then SMX_FUZZ_SECONDS of fuzzing; any finding fails.
    hardening_wants fuzz &&
        CC=clang ASAN_OPTIONS=$asan UBSAN_OPTIONS=$ubsan \
            SMX_FUZZ_SECONDS=${SMX_FUZZ_SECONDS:-60} SMX_FUZZ_JOBS=${SMX_FUZZ_JOBS:-1} \
            stage fuzz build-fuzz \
            "${common[@]}" -Db_sanitize=address,undefined -Db_lundef=false \
            -Dc_args=-fsanitize=fuzzer-no-link \
            -- --suite fuzz || true

    # (d) A CPU without AVX: detection, the scalar path and the dispatcher
    # must not execute an instruction it lacks (QEMU raises SIGILL).
    if hardening_wants qemu && [ "$(uname -m)" != x86_64 ]; then
        echo "note: the qemu-nehalem stage runs on x86-64 only"
    elif hardening_wants qemu; then
        stage qemu-nehalem build-qemu "${common[@]}" \
            -- --suite unit --wrapper "qemu-x86_64 -cpu Nehalem" --timeout-multiplier 10 || true
        hardening_expect_scalar_only qemu-nehalem build-qemu
    fi

    # (e) Valgrind memcheck of the scalar path. Check's forked tests stay
    # under Valgrind; an error makes that process exit 1, which fails it.
    hardening_wants valgrind &&
        SMXKERN_ISA=scalar stage valgrind build-valgrind "${common[@]}" \
            -- --suite unit --timeout-multiplier 20 \
            --wrapper "valgrind -q --error-exitcode=1 --trace-children=yes --leak-check=full --errors-for-leak-kinds=definite" || true
    return 0
}
