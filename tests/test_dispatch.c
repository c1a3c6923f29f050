/* SPDX-License-Identifier: MIT */
/*
 * Dispatch: the choice of ISA, the SMXKERN_ISA cap (this binary also runs
 * with SMXKERN_ISA set, see tests/meson.build), concurrent first use, and
 * smx_set_isa while other threads run kernels.
 */
#define _DEFAULT_SOURCE /* pthread barriers */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#if defined(__arm__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#ifndef SMX_HAVE_NEON
#define SMX_HAVE_NEON 0 /* not compiled in (the build defines it to 1) */
#endif

static const smx_isa preference[] = {SMX_ISA_AVX512, SMX_ISA_AVX2,
                                     SMX_ISA_NEON, SMX_ISA_SCALAR};

START_TEST(auto_picks_best_supported)
{
    ck_assert(smx_isa_supported(SMX_ISA_SCALAR));
    ck_assert(smx_isa_supported(SMX_ISA_AUTO));
    smx_isa best = SMX_ISA_SCALAR;
    for (size_t i = 0; i < 4; i++)
        if (smx_isa_supported(preference[i])) {
            best = preference[i];
            break;
        }
    ck_assert_int_eq(smx_get_isa(), best); /* first use: the best */
    /* Set by tests/meson.build where it knows the CPU, e.g. a QEMU model. */
    const char *want = getenv("SMX_TEST_EXPECT_ISA");
    if (want && *want)
        ck_assert_str_eq(smx_isa_name(best), want);
    ck_assert_int_eq(smx_set_isa(SMX_ISA_SCALAR), SMX_OK);
    ck_assert_int_eq(smx_get_isa(), SMX_ISA_SCALAR);
    ck_assert_int_eq(smx_set_isa(SMX_ISA_AUTO), SMX_OK);
    ck_assert_int_eq(smx_get_isa(), best);
}
END_TEST

/* What this host must offer, independent of the library's own detection. */
START_TEST(detection_matches_host)
{
    const char *cap = getenv("SMXKERN_ISA");
    if (cap && *cap)
        return; /* the cap test below covers capped runs */
#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    ck_assert_int_eq(smx_isa_supported(SMX_ISA_NEON), 0);
#if SMX_HAVE_AVX2
    ck_assert_int_eq(smx_isa_supported(SMX_ISA_AVX2),
                     __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
#endif
#if SMX_HAVE_AVX512
    ck_assert_int_eq(smx_isa_supported(SMX_ISA_AVX512),
                     __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"));
#endif
#elif defined(__aarch64__)
    ck_assert_int_eq(smx_isa_supported(SMX_ISA_NEON), SMX_HAVE_NEON);
    ck_assert_int_eq(smx_isa_supported(SMX_ISA_AVX2), 0);
#elif defined(__arm__) && defined(__linux__)
    /* The 32-bit NEON kernels use VFPv4's fused multiply-add. */
    const unsigned long hw = getauxval(AT_HWCAP);
    const int neon = (hw >> 12) & 1, vfpv4 = (hw >> 16) & 1; /* uapi hwcap.h */
    ck_assert_int_eq(smx_isa_supported(SMX_ISA_NEON), SMX_HAVE_NEON && neon && vfpv4);
    ck_assert_int_eq(smx_isa_supported(SMX_ISA_AVX2), 0);
#endif
}
END_TEST

/* With SMXKERN_ISA set, nothing above the cap is supported or chosen. */
START_TEST(environment_cap)
{
    const char *cap = getenv("SMXKERN_ISA");
    if (!cap || !*cap)
        return;
    if (strcmp(cap, "scalar") == 0 || strcmp(cap, "SCALAR") == 0) {
        ck_assert_int_eq(smx_get_isa(), SMX_ISA_SCALAR);
        ck_assert_int_eq(tests_isa_count(), 1);
        ck_assert_int_eq(smx_set_isa(SMX_ISA_AVX2), SMX_E_ISA);
        ck_assert_int_eq(smx_set_isa(SMX_ISA_AVX512), SMX_E_ISA);
        ck_assert_int_eq(smx_set_isa(SMX_ISA_NEON), SMX_E_ISA);
    } else if (strcmp(cap, "avx2") == 0) {
        ck_assert(!smx_isa_supported(SMX_ISA_AVX512));
        ck_assert(!smx_isa_supported(SMX_ISA_NEON));
        ck_assert(smx_get_isa() == SMX_ISA_AVX2 || smx_get_isa() == SMX_ISA_SCALAR);
    } else {
        ck_abort_msg("no expectation written for SMXKERN_ISA=%s", cap);
    }
}
END_TEST

/* ---- threads ---------------------------------------------------------------- */

#define THREADS 8
#define COLS 333
#define ROWS 4

static float logits[ROWS * COLS];
static double expected[ROWS * COLS], dshift[ROWS * COLS];
static pthread_barrier_t start_line;
static atomic_int stop_flipping; /* volatile would be a data race */

/* Each thread runs softmax repeatedly and checks every result against the
 * oracle; a torn or half-initialized table would crash or miscompute. */
static void *worker(void *arg)
{
    float y[ROWS * COLS];
    int *bad = arg;
    pthread_barrier_wait(&start_line);
    for (int iter = 0; iter < 200; iter++) {
        if (smx_softmax_f32(ROWS, COLS, logits, COLS, y, COLS) != SMX_OK) {
            *bad = 1;
            return NULL;
        }
        for (size_t i = 0; i < ROWS * COLS; i++)
            if (!(fabs((double)y[i] - expected[i]) <=
                  bar_prob(expected[i], dshift[i])))
                *bad = 1;
    }
    return NULL;
}

static void prepare(void)
{
    rng g = {2};
    fill_normal(&g, logits, ROWS * COLS, 3.0);
    for (size_t r = 0; r < ROWS; r++)
        oracle_softmax_row(COLS, logits + r * COLS, expected + r * COLS, NULL,
                           dshift + r * COLS, NULL);
}

START_TEST(concurrent_first_use)
{
    /* Runs in a fresh forked process: no kernel has been called yet. */
    prepare();
    pthread_t t[THREADS];
    int bad[THREADS] = {0};
    pthread_barrier_init(&start_line, NULL, THREADS);
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &bad[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        ck_assert_msg(!bad[i], "thread %d saw a wrong result", i);
    }
    pthread_barrier_destroy(&start_line);
}
END_TEST

static void *flipper(void *arg)
{
    (void)arg;
    for (unsigned k = 0; !atomic_load(&stop_flipping); k++)
        smx_set_isa(preference[k % 4]); /* unsupported ones: SMX_E_ISA */
    return NULL;
}

START_TEST(set_isa_while_running)
{
    prepare();
    pthread_t t[THREADS], f;
    int bad[THREADS] = {0};
    atomic_store(&stop_flipping, 0);
    pthread_barrier_init(&start_line, NULL, THREADS);
    ck_assert_int_eq(pthread_create(&f, NULL, flipper, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &bad[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&stop_flipping, 1);
    pthread_join(f, NULL);
    for (int i = 0; i < THREADS; i++)
        ck_assert_msg(!bad[i], "thread %d saw a wrong result", i);
    pthread_barrier_destroy(&start_line);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("dispatch");
    TCase *tc = tcase_create("dispatch");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, auto_picks_best_supported);
    tcase_add_test(tc, detection_matches_host);
    tcase_add_test(tc, environment_cap);
    tcase_add_test(tc, concurrent_first_use);
    tcase_add_test(tc, set_isa_while_running);
    suite_add_tcase(s, tc);
    return tests_run(s);
}
