/* SPDX-License-Identifier: MIT */
/*
 * Thread safety, meant to run under ThreadSanitizer too. Each round is a
 * fresh forked process in which main() has not called the library, so the
 * first calls of many threads really race through CPU detection and the
 * installation of the kernel table. Then the threads run every operation
 * concurrently while another thread keeps switching ISAs: each result must
 * be bit-identical to what one ISA computes alone (one whole table per
 * call, never a mix).
 */
#define _DEFAULT_SOURCE /* pthread barriers */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define THREADS 8
#define ROUNDS 6
#define ITERS 40
#define ROWS 3
#define COLS 75
#define N (ROWS * COLS)
#define MAX_ISAS 4

enum { SOFTMAX, LOG_SOFTMAX, LSE, JVP, LS_VJP, XENT, XENT_SOFT, N_OPS };

static const smx_isa all_isas[MAX_ISAS] = {SMX_ISA_SCALAR, SMX_ISA_AVX2,
                                           SMX_ISA_AVX512, SMX_ISA_NEON};
static float x[N], v[N], p[N];
static int32_t targets[ROWS] = {0, 74, -100};
static float expected[MAX_ISAS][N_OPS][N + ROWS]; /* per ISA; NaN = none */
static pthread_barrier_t start_line;
static atomic_int stop_flipping;

/* Runs one op into out (N + ROWS floats: a matrix and a vector). */
static smx_status run_op(int op, float *out)
{
    switch (op) {
    case SOFTMAX: return smx_softmax_f32(ROWS, COLS, x, COLS, out, COLS);
    case LOG_SOFTMAX: return smx_log_softmax_f32(ROWS, COLS, x, COLS, out, COLS);
    case LSE: return smx_logsumexp_f32(ROWS, COLS, x, COLS, out + N);
    case JVP: return smx_softmax_jvp_f32(ROWS, COLS, p, COLS, v, COLS, out, COLS);
    case LS_VJP:
        return smx_log_softmax_vjp_f32(ROWS, COLS, x, COLS, v, COLS, out, COLS);
    case XENT:
        return smx_cross_entropy_f32(ROWS, COLS, x, COLS, targets, NULL,
                                     out + N, out, COLS);
    default:
        return smx_cross_entropy_soft_f32(ROWS, COLS, x, COLS, p, COLS, NULL,
                                          out + N, out, COLS);
    }
}

/* Whether out equals, bit for bit, the result of some supported ISA. */
static int matches_an_isa(int op, const float *out)
{
    for (int i = 0; i < MAX_ISAS; i++)
        if (smx_isa_supported(all_isas[i]) &&
            memcmp(out, expected[i][op], sizeof expected[i][op]) == 0)
            return 1;
    return 0;
}

typedef struct first_use {
    int id;
    smx_isa seen;
    unsigned supported; /* bit i: all_isas[i] supported */
    int bad;
} first_use;

/* The first library call of this thread, different per thread so that
 * every lazy path races: detection, table installation, set_isa(AUTO). */
static void *first_caller(void *arg)
{
    first_use *f = arg;
    float out[N + ROWS];
    pthread_barrier_wait(&start_line);
    switch (f->id % 4) {
    case 0: f->bad |= run_op(SOFTMAX, out) != SMX_OK; break;
    case 1: f->seen = smx_get_isa(); break;
    case 2: f->bad |= !smx_isa_supported(SMX_ISA_SCALAR); break;
    default: f->bad |= smx_set_isa(SMX_ISA_AUTO) != SMX_OK; break;
    }
    f->seen = smx_get_isa();
    for (int i = 0; i < MAX_ISAS; i++)
        f->supported |= (unsigned)(smx_isa_supported(all_isas[i]) != 0) << i;
    return NULL;
}

static void *worker(void *arg)
{
    int *bad = arg;
    float out[N + ROWS];
    pthread_barrier_wait(&start_line);
    for (int it = 0; it < ITERS; it++) {
        const int op = it % N_OPS;
        fill_sentinel(out, N + ROWS);
        if (run_op(op, out) != SMX_OK || !matches_an_isa(op, out))
            *bad = 1;
    }
    return NULL;
}

static void *flipper(void *arg)
{
    (void)arg;
    for (unsigned k = 0; !atomic_load(&stop_flipping); k++)
        smx_set_isa(all_isas[k % MAX_ISAS]); /* unsupported: SMX_E_ISA */
    return NULL;
}

START_TEST(first_use_race_then_concurrent_calls)
{
    rng g = {(uint64_t)_i + 1};
    fill_normal(&g, x, N, 4.0);
    fill_normal(&g, v, N, 1.0);
    for (size_t i = 0; i < N; i++)
        p[i] = (float)rng_uniform(&g) / COLS;

    /* Phase 1: THREADS first calls at once. */
    pthread_t t[THREADS + 1];
    first_use f[THREADS];
    pthread_barrier_init(&start_line, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        f[i] = (first_use){i, SMX_ISA_AUTO, 0, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, first_caller, &f[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start_line);
    const smx_isa best = smx_get_isa();
    for (int i = 0; i < THREADS; i++) {
        ck_assert_msg(!f[i].bad, "thread %d: first call failed", i);
        ck_assert_msg(f[i].seen == best, "thread %d saw %s, then %s", i,
                      smx_isa_name(f[i].seen), smx_isa_name(best));
        ck_assert_uint_eq(f[i].supported, f[0].supported);
    }

    /* What each ISA computes alone. */
    for (int i = 0; i < MAX_ISAS; i++)
        for (int op = 0; op < N_OPS; op++) {
            for (size_t k = 0; k < N + ROWS; k++)
                expected[i][op][k] = sentinel();
            if (smx_set_isa(all_isas[i]) == SMX_OK)
                ck_assert_int_eq(run_op(op, expected[i][op]), SMX_OK);
        }
    ck_assert_int_eq(smx_set_isa(SMX_ISA_AUTO), SMX_OK);

    /* Phase 2: concurrent calls while the ISA keeps changing. */
    int bad[THREADS] = {0};
    atomic_store(&stop_flipping, 0);
    pthread_barrier_init(&start_line, NULL, THREADS);
    ck_assert_int_eq(pthread_create(&t[THREADS], NULL, flipper, NULL), 0);
    for (int i = 0; i < THREADS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, worker, &bad[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    atomic_store(&stop_flipping, 1);
    pthread_join(t[THREADS], NULL);
    pthread_barrier_destroy(&start_line);
    for (int i = 0; i < THREADS; i++)
        ck_assert_msg(!bad[i], "thread %d: a result no single ISA gives", i);
}
END_TEST

int main(void)
{
    /* No library call here: each forked test starts with dispatch
     * uninitialized. Fork mode is forced (CK_FORK=no would break that). */
    Suite *s = suite_create("threads");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc, first_use_race_then_concurrent_calls, 0, ROUNDS);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_FORK);
    srunner_run_all(sr, CK_NORMAL);
    printf("ISAs under test:"); /* only now: after the fresh processes */
    for (int i = 0; i < MAX_ISAS; i++)
        if (smx_isa_supported(all_isas[i]))
            printf(" %s", smx_isa_name(all_isas[i]));
    printf("\n");
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
