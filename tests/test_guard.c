/* SPDX-License-Identifier: MIT */
/*
 * No read or write outside the caller's buffers: every operand of every op
 * is placed flush against a PROT_NONE page, after its end and before its
 * start, for every row length from 1 to several vector widths, on every
 * ISA. A stray access faults, and Check reports the signal.
 */
#include <math.h>
#include <string.h>

#include "common.h"

#define MAX_COLS 70
#define ROWS 2

enum { N_OPERANDS = 4 };

/* Runs every op with all operands in guarded buffers (rows x cols,
 * contiguous) and checks the results are finite where they must be. */
static void run_all_ops(size_t cols, int at_end)
{
    const size_t n = ROWS * cols, bytes = n * sizeof(float);
    guarded g[N_OPERANDS + 2];
    float *x = guarded_alloc(&g[0], bytes, at_end);
    float *v = guarded_alloc(&g[1], bytes, at_end);
    float *y = guarded_alloc(&g[2], bytes, at_end);
    float *p = guarded_alloc(&g[3], bytes, at_end);
    float *lse = guarded_alloc(&g[4], ROWS * sizeof(float), at_end);
    int32_t *t = guarded_alloc(&g[5], ROWS * sizeof(int32_t), at_end);
    rng r = {cols};
    fill_normal(&r, x, n, 3.0);
    fill_normal(&r, v, n, 1.0);
    for (size_t i = 0; i < ROWS; i++)
        t[i] = (int32_t)((i * 7) % cols);

    ck_assert_int_eq(smx_softmax_f32(ROWS, cols, x, cols, y, cols), SMX_OK);
    memcpy(p, y, bytes);
    ck_assert_int_eq(smx_softmax_f32(ROWS, cols, p, cols, p, cols), SMX_OK);
    ck_assert_int_eq(smx_log_softmax_f32(ROWS, cols, x, cols, y, cols), SMX_OK);
    ck_assert_int_eq(smx_logsumexp_f32(ROWS, cols, x, cols, lse), SMX_OK);
    ck_assert(isfinite(lse[0]) && isfinite(lse[ROWS - 1]));
    ck_assert_int_eq(smx_softmax_jvp_f32(ROWS, cols, p, cols, v, cols, y, cols), SMX_OK);
    ck_assert_int_eq(smx_softmax_vjp_f32(ROWS, cols, p, cols, v, cols, y, cols), SMX_OK);
    ck_assert_int_eq(smx_log_softmax_jvp_f32(ROWS, cols, x, cols, v, cols, y, cols), SMX_OK);
    ck_assert_int_eq(smx_log_softmax_vjp_f32(ROWS, cols, x, cols, v, cols, y, cols), SMX_OK);
    ck_assert_int_eq(smx_cross_entropy_f32(ROWS, cols, x, cols, t, NULL, lse, y, cols), SMX_OK);
    ck_assert_int_eq(smx_cross_entropy_soft_f32(ROWS, cols, x, cols, p, cols, NULL, lse, y, cols), SMX_OK);
    ck_assert(isfinite(lse[0]) && isfinite(y[n - 1]));
    /* In place, still flush against the guards. */
    ck_assert_int_eq(smx_cross_entropy_f32(ROWS, cols, x, cols, t, NULL, NULL, x, cols), SMX_OK);
    ck_assert_int_eq(smx_log_softmax_f32(ROWS, cols, v, cols, v, cols), SMX_OK);
    for (size_t i = 0; i < N_OPERANDS + 2; i++)
        guarded_free(&g[i]);
}

START_TEST(flush_against_guard_pages)
{
    tests_use_isa(_i);
    for (size_t cols = 1; cols <= MAX_COLS; cols++) {
        run_all_ops(cols, 1);
        run_all_ops(cols, 0);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("guard_pages");
    TCase *tc = tcase_create("guard_pages");
    tcase_set_timeout(tc, 300);
    ADD_ISA_TEST(tc, flush_against_guard_pages);
    suite_add_tcase(s, tc);
    return tests_run(s);
}
