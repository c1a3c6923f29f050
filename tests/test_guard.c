/* SPDX-License-Identifier: MIT */
/*
 * No read or write outside the caller's buffers: every operand of every op
 * is placed flush against a PROT_NONE page, after its end and before its
 * start, for every row length from 1 to several vector widths and for rows
 * of more than one block, on every ISA, contiguous and strided (the buffer
 * then ends with the last row, no padding after it), out of place and in
 * place. Cross-entropy's logits of a row whose target is ignored are not
 * read at all: that row's page is PROT_NONE. A stray access faults, and
 * Check reports the signal.
 */
/* mmap flags, sysconf */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

#define MAX_COLS EVERY_LEN_MAX
/* Row counts: a whole pack of short rows (rows_packed_tmpl.c), its last
 * row flush against the guard; eight and sixteen, the same for a whole
 * VLEN of rows one per lane (rows of 2 to 16 on AVX2 and AVX-512,
 * rows_lanes_tmpl.c); and nine, where cross-entropy takes rows of up to 8
 * vectors one at a time in registers, their losses batched. */
static const size_t row_counts[] = {4, 8, 9, 16};
#define MAX_JAC 24 /* the Jacobian is n x n: lengths 1 to MAX_JAC */

enum { X, V, Y, P, LSE, T, N_BUFS };

/* Runs every op with every operand in its own guarded buffer of exactly
 * (rows - 1) * ld + cols elements, and checks the results are finite where
 * they must be. */
static void run_all_ops(size_t rows, size_t cols, size_t ld, int at_end)
{
    const size_t n = (rows - 1) * ld + cols, bytes = n * sizeof(float);
    guarded g[N_BUFS];
    float *x = guarded_alloc(&g[X], bytes, at_end);
    float *v = guarded_alloc(&g[V], bytes, at_end);
    float *y = guarded_alloc(&g[Y], bytes, at_end);
    float *p = guarded_alloc(&g[P], bytes, at_end);
    float *lse = guarded_alloc(&g[LSE], rows * sizeof(float), at_end);
    int32_t *t = guarded_alloc(&g[T], rows * sizeof(int32_t), at_end);
    rng r = {cols * 131 + ld};
    fill_normal(&r, x, n, 3.0);
    fill_normal(&r, v, n, 1.0);
    for (size_t i = 0; i < rows; i++)
        t[i] = (int32_t)((i * 7) % cols);

    ck_assert_int_eq(smx_softmax_f32(rows, cols, x, ld, y, ld), SMX_OK);
    memcpy(p, y, bytes);
    ck_assert_int_eq(smx_softmax_f32(rows, cols, p, ld, p, ld), SMX_OK);
    ck_assert_int_eq(smx_log_softmax_f32(rows, cols, x, ld, y, ld), SMX_OK);
    ck_assert_int_eq(smx_logsumexp_f32(rows, cols, x, ld, lse), SMX_OK);
    ck_assert(isfinite(lse[0]) && isfinite(lse[rows - 1]));
    ck_assert_int_eq(smx_softmax_jvp_f32(rows, cols, p, ld, v, ld, y, ld), SMX_OK);
    ck_assert_int_eq(smx_softmax_vjp_f32(rows, cols, p, ld, v, ld, y, ld), SMX_OK);
    ck_assert_int_eq(smx_log_softmax_jvp_f32(rows, cols, x, ld, v, ld, y, ld), SMX_OK);
    ck_assert_int_eq(smx_log_softmax_vjp_f32(rows, cols, x, ld, v, ld, y, ld), SMX_OK);
    ck_assert_int_eq(smx_cross_entropy_f32(rows, cols, x, ld, t, NULL, lse, y, ld), SMX_OK);
    ck_assert_int_eq(smx_cross_entropy_soft_f32(rows, cols, x, ld, p, ld, NULL, lse, y, ld), SMX_OK);
    ck_assert(isfinite(lse[0]) && isfinite(y[n - 1]));
    ck_assert_int_eq(smx_cross_entropy_f32(rows, cols, x, ld, t, NULL, lse, NULL, ld), SMX_OK);
    ck_assert_int_eq(smx_cross_entropy_soft_f32(rows, cols, x, ld, p, ld, NULL, lse, NULL, ld), SMX_OK);
    ck_assert(isfinite(lse[0]) && isfinite(lse[rows - 1]));

    /* In place, still flush against the guards: each backward op over
     * either input, the gradients over the logits (and over p). */
    ck_assert_int_eq(smx_softmax_jvp_f32(rows, cols, p, ld, y, ld, y, ld), SMX_OK);
    ck_assert_int_eq(smx_softmax_vjp_f32(rows, cols, y, ld, v, ld, y, ld), SMX_OK);
    ck_assert_int_eq(smx_log_softmax_jvp_f32(rows, cols, x, ld, v, ld, v, ld), SMX_OK);
    ck_assert_int_eq(smx_log_softmax_vjp_f32(rows, cols, v, ld, x, ld, v, ld), SMX_OK);
    memcpy(y, x, bytes);
    ck_assert_int_eq(smx_cross_entropy_soft_f32(rows, cols, y, ld, p, ld, NULL, NULL, y, ld), SMX_OK);
    ck_assert_int_eq(smx_cross_entropy_soft_f32(rows, cols, x, ld, p, ld, NULL, lse, p, ld), SMX_OK);
    ck_assert_int_eq(smx_cross_entropy_f32(rows, cols, x, ld, t, NULL, NULL, x, ld), SMX_OK);
    ck_assert_int_eq(smx_log_softmax_f32(rows, cols, v, ld, v, ld), SMX_OK);

    /* A lone row (its own kernel path: see lone_short_row), the first one
     * flush against the guard before the buffers, the last against the one
     * after them; out of place and in place. */
    const size_t starts[2] = {0, (rows - 1) * ld};
    for (size_t k = 0; k < 2; k++) {
        const size_t r = starts[k];
        ck_assert_int_eq(smx_log_softmax_f32(1, cols, x + r, ld, y + r, ld), SMX_OK);
        ck_assert_int_eq(smx_logsumexp_f32(1, cols, x + r, ld, lse), SMX_OK);
        ck_assert_int_eq(smx_cross_entropy_f32(1, cols, x + r, ld, t, NULL, lse, y + r, ld), SMX_OK);
        ck_assert_int_eq(smx_cross_entropy_f32(1, cols, x + r, ld, t, NULL, lse, NULL, ld), SMX_OK);
        ck_assert_int_eq(smx_cross_entropy_f32(1, cols, v + r, ld, t, NULL, NULL, v + r, ld), SMX_OK);
        ck_assert_int_eq(smx_cross_entropy_soft_f32(1, cols, x + r, ld, p + r, ld, NULL, lse, y + r, ld), SMX_OK);
        ck_assert_int_eq(smx_cross_entropy_soft_f32(1, cols, x + r, ld, p + r, ld, NULL, lse, p + r, ld), SMX_OK);
        ck_assert_int_eq(smx_log_softmax_f32(1, cols, v + r, ld, v + r, ld), SMX_OK);
        ck_assert_int_eq(smx_softmax_jvp_f32(1, cols, p + r, ld, v + r, ld, y + r, ld), SMX_OK);
        ck_assert_int_eq(smx_softmax_vjp_f32(1, cols, p + r, ld, y + r, ld, y + r, ld), SMX_OK);
        ck_assert_int_eq(smx_log_softmax_jvp_f32(1, cols, x + r, ld, v + r, ld, y + r, ld), SMX_OK);
        ck_assert_int_eq(smx_log_softmax_vjp_f32(1, cols, v + r, ld, x + r, ld, v + r, ld), SMX_OK);
    }
    for (size_t i = 0; i < N_BUFS; i++)
        guarded_free(&g[i]);
}

/* The Jacobian of an n-vector into an n x n matrix of stride ldj. */
static void run_jacobian(size_t n, size_t ldj, int at_end)
{
    guarded gy, gj;
    float *y = guarded_alloc(&gy, n * sizeof(float), at_end);
    float *jac = guarded_alloc(&gj, ((n - 1) * ldj + n) * sizeof(float), at_end);
    for (size_t i = 0; i < n; i++)
        y[i] = 1.0f / (float)n;
    ck_assert_int_eq(smx_softmax_jacobian_f32(n, y, jac, ldj), SMX_OK);
    ck_assert(isfinite(jac[0]) && isfinite(jac[(n - 1) * ldj + n - 1]));
    guarded_free(&gy);
    guarded_free(&gj);
}

/* Cross-entropy does not read the logits of a row whose target is
 * ignore_index (smxkern.h): each row starts a page of its own, and the
 * ignored row's page is PROT_NONE. Every row count and length that picks
 * a different path (packed, one per lane, in registers, grouped, long),
 * gradient out of place and loss alone, every row of the call ignored in
 * turn. */
static void run_ignored_row_unread(size_t rows, size_t cols, size_t ignored)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t row_bytes = (cols * sizeof(float) + page - 1) / page * page;
    const size_t ld = row_bytes / sizeof(float), len = rows * row_bytes;
    float *z = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert(z != MAP_FAILED);
    float *grad = malloc(rows * cols * sizeof *grad), loss[17];
    ck_assert(grad && rows <= 17);
    rng g = {rows * 1000 + cols};
    int32_t t[17];
    for (size_t r = 0; r < rows; r++) {
        fill_normal(&g, z + r * ld, cols, 3.0);
        t[r] = r == ignored ? -100 : (int32_t)((r * 7) % cols);
    }
    ck_assert_int_eq(mprotect(z + ignored * ld, row_bytes, PROT_NONE), 0);
    ck_assert_int_eq(smx_cross_entropy_f32(rows, cols, z, ld, t, NULL, loss, grad, cols), SMX_OK);
    ck_assert(loss[ignored] == 0.0f && grad[ignored * cols] == 0.0f);
    ck_assert_int_eq(smx_cross_entropy_f32(rows, cols, z, ld, t, NULL, loss, NULL, 0), SMX_OK);
    ck_assert(loss[ignored] == 0.0f);
    munmap(z, len);
    free(grad);
}

START_TEST(ignored_rows_unread)
{
    tests_use_isa(_i);
    static const size_t row_counts_all[] = {1, 2, 5, 9, 17};
    static const size_t lengths[] = {1, 3, 4, 5, 8, 9, 12, 16, 17, 64, 100, 128, 129, 1000, 2049};
    for (size_t a = 0; a < sizeof row_counts_all / sizeof row_counts_all[0]; a++)
        for (size_t b = 0; b < sizeof lengths / sizeof lengths[0]; b++)
            for (size_t k = 0; k < row_counts_all[a]; k++)
                run_ignored_row_unread(row_counts_all[a], lengths[b], k);
}
END_TEST

START_TEST(flush_against_guard_pages)
{
    tests_use_isa(_i);
    for (size_t k = 0; k < sizeof row_counts / sizeof row_counts[0]; k++)
        for (size_t cols = 1; cols <= MAX_COLS; cols++)
            for (int at_end = 0; at_end < 2; at_end++) {
                run_all_ops(row_counts[k], cols, cols, at_end);
                run_all_ops(row_counts[k], cols, cols + 3, at_end);
            }
    /* rows past the kernels' 2048-element blocks, whose last block has a
     * tail: the paths that work block by block, such as the backward ops
     * reducing row r + 1 while they write row r */
    static const size_t long_cols[] = {2049, 2 * 2048 + 37};
    for (size_t k = 0; k < sizeof long_cols / sizeof long_cols[0]; k++)
        for (int at_end = 0; at_end < 2; at_end++) {
            run_all_ops(4, long_cols[k], long_cols[k], at_end);
            run_all_ops(4, long_cols[k], long_cols[k] + 3, at_end);
        }
    /* rows past 2^18 elements (SHORT_ROW), whose last pass streams its
     * whole vectors from the first aligned one and prefetches ahead: two
     * rows, the second starting off the vector alignment */
    const size_t stream_cols = ((size_t)1 << 18) + 37;
    for (int at_end = 0; at_end < 2; at_end++)
        run_all_ops(2, stream_cols, stream_cols, at_end);
    for (size_t n = 1; n <= MAX_JAC; n++)
        for (int at_end = 0; at_end < 2; at_end++) {
            run_jacobian(n, n, at_end);
            run_jacobian(n, n + 5, at_end);
        }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("guard_pages");
    TCase *tc = tcase_create("guard_pages");
    tcase_set_timeout(tc, 300);
    ADD_ISA_TEST(tc, flush_against_guard_pages);
    ADD_ISA_TEST(tc, ignored_rows_unread);
    suite_add_tcase(s, tc);
    return tests_run(s);
}
