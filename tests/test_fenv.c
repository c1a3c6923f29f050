/* SPDX-License-Identifier: MIT */
/*
 * Masked rows raise no floating-point exception: logits masked with -inf
 * (and the log-probabilities and probabilities computed from them) give
 * exact zeros, and no kernel may reach those zeros through an operation
 * that underflows. On Intel cores such an operation takes a microcode
 * assist of about a hundred cycles per instruction: AVX-512 log-softmax
 * JVP and VJP once ran 24 times slower on rows with every 7th element
 * masked, and rows with a tail (whose padding lanes are -inf) 25% slower.
 * The sticky flags show it without timing anything: every op, on every
 * x86 ISA, every row length up to EVERY_LEN_MAX and a few long rows, a
 * lone row and a batch, must leave FE_UNDERFLOW, FE_OVERFLOW, FE_INVALID
 * and FE_DIVBYZERO clear. (NEON is not checked: Arm cores handle
 * subnormals at full speed, and its exp scales by plain multiplies that
 * may underflow to the same zeros.)
 */
#include <fenv.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

#define ROWS 9 /* two whole groups of 4 rows and one more; rows held in registers, their losses batched (log_batch) */
#define MANY_ROWS 37 /* packed short rows' logs batched (log_batch); whole vectors of rows one per lane */
#define FLAGS (FE_UNDERFLOW | FE_OVERFLOW | FE_INVALID | FE_DIVBYZERO)

static const char *const op_names[] = {
    "softmax", "log_softmax", "logsumexp", "softmax_jvp", "softmax_vjp",
    "log_softmax_jvp", "log_softmax_vjp", "cross_entropy",
    "cross_entropy_soft", "cross_entropy (loss alone)",
    "cross_entropy_soft (loss alone)",
};
enum { N_OPS = sizeof op_names / sizeof op_names[0] };

typedef struct inputs {
    size_t rows, cols;
    float *x, *p, *lp, *v, *out, *row_out;
    int32_t t[MANY_ROWS];
} inputs;

/* Logits with every 5th column masked (shifted by one per row), and with
 * `padded`, the last third of each row masked too, as a padded sequence;
 * the first column of each row stays live, and the class target with it. */
static void make_inputs(inputs *in, size_t rows, size_t cols, int padded)
{
    const size_t n = rows * cols;
    in->rows = rows;
    in->cols = cols;
    in->x = alloc_sentinel(n);
    in->p = alloc_sentinel(n);
    in->lp = alloc_sentinel(n);
    in->v = alloc_sentinel(n);
    in->out = alloc_sentinel(n);
    in->row_out = alloc_sentinel(rows);
    rng r = {cols * 977 + rows + (size_t)padded};
    fill_normal(&r, in->x, n, 3.0);
    fill_normal(&r, in->v, n, 1.0);
    for (size_t i = 0; i < rows; i++) {
        float *xr = in->x + i * cols;
        for (size_t j = 1; j < cols; j++)
            if ((j + i) % 5 == 0 || (padded && 3 * j >= 2 * cols))
                xr[j] = -INFINITY;
        in->t[i] = 0;
    }
    ck_assert_int_eq(smx_softmax_f32(rows, cols, in->x, cols, in->p, cols), SMX_OK);
    ck_assert_int_eq(smx_log_softmax_f32(rows, cols, in->x, cols, in->lp, cols), SMX_OK);
}

static void free_inputs(inputs *in)
{
    free(in->x);
    free(in->p);
    free(in->lp);
    free(in->v);
    free(in->out);
    free(in->row_out);
}

static smx_status run_op(int op, const inputs *in)
{
    const size_t m = in->rows, n = in->cols;
    float *o = in->out, *l = in->row_out;
    switch (op) {
    case 0: return smx_softmax_f32(m, n, in->x, n, o, n);
    case 1: return smx_log_softmax_f32(m, n, in->x, n, o, n);
    case 2: return smx_logsumexp_f32(m, n, in->x, n, l);
    case 3: return smx_softmax_jvp_f32(m, n, in->p, n, in->v, n, o, n);
    case 4: return smx_softmax_vjp_f32(m, n, in->p, n, in->v, n, o, n);
    case 5: return smx_log_softmax_jvp_f32(m, n, in->lp, n, in->v, n, o, n);
    case 6: return smx_log_softmax_vjp_f32(m, n, in->lp, n, in->v, n, o, n);
    case 7: return smx_cross_entropy_f32(m, n, in->x, n, in->t, NULL, l, o, n);
    case 8:
        return smx_cross_entropy_soft_f32(m, n, in->x, n, in->p, n, NULL, l, o, n);
    case 9: return smx_cross_entropy_f32(m, n, in->x, n, in->t, NULL, l, NULL, n);
    default:
        return smx_cross_entropy_soft_f32(m, n, in->x, n, in->p, n, NULL, l, NULL, n);
    }
}

/* Every op on one shape: no flag raised, and the outputs finite (a masked
 * row still has a live element, so nothing here is NaN or infinite except
 * the log-softmax of masked elements, which is not checked). */
static void check_shape(size_t rows, size_t cols, int padded)
{
    inputs in;
    make_inputs(&in, rows, cols, padded);
    for (int op = 0; op < N_OPS; op++) {
        feclearexcept(FE_ALL_EXCEPT);
        const smx_status st = run_op(op, &in);
        const int raised = fetestexcept(FLAGS);
        ck_assert_int_eq(st, SMX_OK);
        ck_assert_msg(!raised,
                      "%s [%s] %zux%zu%s raised%s%s%s%s", op_names[op],
                      smx_isa_name(smx_get_isa()), rows, cols,
                      padded ? " padded" : "",
                      raised & FE_UNDERFLOW ? " underflow" : "",
                      raised & FE_OVERFLOW ? " overflow" : "",
                      raised & FE_INVALID ? " invalid" : "",
                      raised & FE_DIVBYZERO ? " divide-by-zero" : "");
        if (op == 2 || op >= 7)
            for (size_t i = 0; i < rows; i++)
                ck_assert_msg(isfinite(in.row_out[i]), "%s row %zu", op_names[op], i);
    }
    free_inputs(&in);
}

START_TEST(masked_rows_raise_no_flags)
{
    if (tests_use_isa(_i) == SMX_ISA_NEON)
        return;
    for (size_t cols = 1; cols <= EVERY_LEN_MAX; cols++)
        for (int padded = 0; padded < 2; padded++) {
            check_shape(1, cols, padded);
            check_shape(ROWS, cols, padded);
            if (cols <= 16) /* packed rows, and rows one per lane */
                check_shape(MANY_ROWS, cols, padded);
        }
    /* rows of more than one block, and one past SHORT_ROW (one pass of
     * statistics, then the output) */
    static const size_t long_cols[] = {1000, 2049, 5003, 300007};
    for (size_t k = 0; k < sizeof long_cols / sizeof long_cols[0]; k++) {
        check_shape(1, long_cols[k], 0);
        check_shape(long_cols[k] > 10000 ? 2 : ROWS, long_cols[k], 1);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("fp_flags");
    TCase *tc = tcase_create("masked");
    tcase_set_timeout(tc, 120);
    ADD_ISA_TEST(tc, masked_rows_raise_no_flags);
    suite_add_tcase(s, tc);
    return tests_run(s);
}
