/* SPDX-License-Identifier: MIT */
/* Softmax and log-softmax JVP/VJP against the double oracle, every ISA. */
#include <math.h>
#include <stdlib.h>

#include "common.h"

enum op { SOFTMAX_JVP, SOFTMAX_VJP, LOG_SOFTMAX_JVP, LOG_SOFTMAX_VJP, N_OPS };
static const char *const op_names[] = {"softmax_jvp", "softmax_vjp",
                                       "log_softmax_jvp", "log_softmax_vjp"};

static smx_status call(enum op op, size_t rows, size_t cols, const float *y,
                       size_t ldy, const float *v, size_t ldv, float *out,
                       size_t ldo)
{
    switch (op) {
    case SOFTMAX_JVP:
        return smx_softmax_jvp_f32(rows, cols, y, ldy, v, ldv, out, ldo);
    case SOFTMAX_VJP:
        return smx_softmax_vjp_f32(rows, cols, y, ldy, v, ldv, out, ldo);
    case LOG_SOFTMAX_JVP:
        return smx_log_softmax_jvp_f32(rows, cols, y, ldy, v, ldv, out, ldo);
    default:
        return smx_log_softmax_vjp_f32(rows, cols, y, ldy, v, ldv, out, ldo);
    }
}

/* The oracle for one row, straight from the definitions in the header,
 * with each element's bar from the absolute values of its terms. */
static void oracle_row(enum op op, size_t n, const float *y, const float *v,
                       double *out, double *bar)
{
    double acc = 0.0, acc_abs = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double w = (op == SOFTMAX_JVP || op == SOFTMAX_VJP) ? y[i]
                         : op == LOG_SOFTMAX_JVP ? exp((double)y[i])
                                                 : 1.0;
        acc += w * v[i];
        acc_abs += fabs(w * v[i]);
    }
    for (size_t i = 0; i < n; i++) {
        switch (op) {
        case SOFTMAX_JVP:
        case SOFTMAX_VJP: /* y (v - <y, v>) */
            out[i] = (double)y[i] * ((double)v[i] - acc);
            bar[i] = bar_terms(fabs((double)y[i] * v[i]) +
                               fabs((double)y[i]) * acc_abs);
            break;
        case LOG_SOFTMAX_JVP: /* v - <exp(y), v> */
            out[i] = (double)v[i] - acc;
            bar[i] = bar_terms(fabs((double)v[i]) + acc_abs);
            break;
        default: /* g - exp(y) sum(g) */
            out[i] = (double)v[i] - exp((double)y[i]) * acc;
            bar[i] = bar_terms(fabs((double)v[i]) + exp((double)y[i]) * acc_abs);
            break;
        }
    }
}

/* y: a real forward output (probabilities or log-probabilities) of random
 * logits, so the test exercises what backprop really passes. */
static void make_inputs(rng *g, enum op op, size_t rows, size_t cols,
                        size_t ld, float *y, float *v)
{
    for (size_t r = 0; r < rows; r++)
        fill_normal(g, y + r * ld, cols, 3.0);
    if (op == LOG_SOFTMAX_JVP || op == LOG_SOFTMAX_VJP)
        ck_assert_int_eq(smx_log_softmax_f32(rows, cols, y, ld, y, ld), SMX_OK);
    else
        ck_assert_int_eq(smx_softmax_f32(rows, cols, y, ld, y, ld), SMX_OK);
    for (size_t r = 0; r < rows; r++)
        fill_normal(g, v + r * ld, cols, 1.0);
}

/* A buffer of n floats: from malloc (guard 0), or flush against a
 * PROT_NONE page after it (guard 1) or before it (guard 2). */
typedef struct buffer {
    float *p;
    guarded g;
    int guard;
} buffer;

static float *buffer_alloc(buffer *b, size_t n, int guard)
{
    b->guard = guard;
    if (!guard)
        return b->p = alloc_sentinel(n);
    b->p = guarded_alloc(&b->g, n * sizeof(float), guard == 1);
    fill_sentinel(b->p, n);
    return b->p;
}

static void buffer_free(buffer *b)
{
    if (b->guard)
        guarded_free(&b->g);
    else
        free(b->p);
}

/* The op on copies of y and v, checked against the oracle. where: 0
 * separate output, 1 out == y, 2 out == v. guard (see buffer_alloc): the
 * copies and the output take exactly their rows' span, so a read or write
 * past the last row (guard 1) or before the first (guard 2) faults. y and
 * v are copied element by element: their padding stays sentinels. */
static void check_op_guarded(enum op op, size_t rows, size_t cols,
                             const float *y, const float *v, size_t ld,
                             size_t ldo, int where, int guard)
{
    /* unguarded, whole rows: the padding after the last row is checked */
    const size_t n = guard ? (rows - 1) * ld + cols : rows * ld;
    buffer by, bv, bo;
    float *yc = buffer_alloc(&by, n, guard), *vc = buffer_alloc(&bv, n, guard);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) {
            yc[r * ld + c] = y[r * ld + c];
            vc[r * ld + c] = v[r * ld + c];
        }
    if (where)
        ldo = ld;
    float *out = where == 1   ? yc
                 : where == 2 ? vc
                              : buffer_alloc(&bo, guard ? (rows - 1) * ldo + cols
                                                        : rows * ldo, guard);
    double *ref = malloc((cols + 1) * sizeof *ref);
    double *bar = malloc((cols + 1) * sizeof *bar);
    ck_assert(ref && bar);
    ck_assert_int_eq(call(op, rows, cols, yc, ld, vc, ld, out, ldo), SMX_OK);
    for (size_t r = 0; r < rows; r++) {
        oracle_row(op, cols, y + r * ld, v + r * ld, ref, bar);
        for (size_t c = 0; c < cols; c++)
            expect_close(out[r * ldo + c], ref[c], bar[c], op_names[op], r, c);
    }
    if (!where) { /* guarded: past the last row is the guard page's */
        expect_padding_intact(out, guard ? rows - 1 : rows, cols, ldo, op_names[op]);
        buffer_free(&bo);
    }
    buffer_free(&by);
    buffer_free(&bv);
    free(ref);
    free(bar);
}

static void check_op(enum op op, size_t rows, size_t cols, const float *y,
                     const float *v, size_t ld, size_t ldo, int where)
{
    check_op_guarded(op, rows, cols, y, v, ld, ldo, where, 0);
}

START_TEST(lengths_strides_in_place)
{
    tests_use_isa(_i);
    rng g = {2024};
    static const size_t big[] = {1000, 4097, 32000, 128256};
    for (size_t k = 0; k <= EVERY_LEN_MAX + 4; k++) {
        const size_t cols = k <= EVERY_LEN_MAX ? k : big[k - EVERY_LEN_MAX - 1];
        const size_t rows = cols > 10000 ? 2 : 3, ld = cols + 3;
        float *y = alloc_sentinel(rows * ld), *v = alloc_sentinel(rows * ld);
        for (int op = 0; op < N_OPS; op++) {
            make_inputs(&g, (enum op)op, rows, cols, ld, y, v);
            for (int where = 0; where < 3; where++) {
                check_op((enum op)op, rows, cols, y, v, ld, cols + 5, where);
                /* a lone row */
                check_op((enum op)op, 1, cols, y, v, ld, cols + 5, where);
            }
        }
        free(y);
        free(v);
    }
    /* Nine and seventeen rows of up to 17 floats: whole packs of four and
     * of two short rows (rows_packed_tmpl.c: up to 4 and 8 floats on
     * AVX-512, 4 on AVX2), then a pair or a lone row left; rows of 2 to 16
     * (AVX2) and 9 to 16 (AVX-512) a VLEN at a time one per lane
     * (rows_lanes_tmpl.c), then the rest; in place too, and the batch
     * flush against a guard page after it and before it. */
    static const size_t pack_cols[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17};
    for (size_t k = 0; k < 2 * sizeof pack_cols / sizeof pack_cols[0]; k++) {
        const size_t cols = pack_cols[k / 2], rows = k % 2 ? 17 : 9, ld = cols + 3;
        float *y = alloc_sentinel(rows * ld), *v = alloc_sentinel(rows * ld);
        for (int op = 0; op < N_OPS; op++) {
            make_inputs(&g, (enum op)op, rows, cols, ld, y, v);
            for (int where = 0; where < 3; where++)
                check_op((enum op)op, rows, cols, y, v, ld, cols + 1, where);
            for (int guard = 1; guard <= 2; guard++)
                check_op_guarded((enum op)op, rows, cols, y, v, ld, cols, 0, guard);
        }
        free(y);
        free(v);
    }
}
END_TEST

/* Rows past 2^18, where the output pass streams its aligned body: outputs
 * at several offsets from the vector alignment, in place too. */
START_TEST(long_rows_unaligned)
{
    tests_use_isa(_i);
    rng g = {2025};
    const size_t cols = ((size_t)1 << 18) + 5, rows = 2, ld = cols + 1;
    float *y = alloc_sentinel(rows * ld), *v = alloc_sentinel(rows * ld);
    float *buf = alloc_sentinel(rows * ld + 16);
    for (int op = 0; op < N_OPS; op++) {
        make_inputs(&g, (enum op)op, rows, cols, ld, y, v);
        for (size_t off = 0; off < 4; off += 3) {
            float *out = buf + off + 1;
            fill_sentinel(buf, rows * ld + 16);
            double *ref = malloc(cols * sizeof *ref), *bar = malloc(cols * sizeof *bar);
            ck_assert(ref && bar);
            ck_assert_int_eq(call((enum op)op, rows, cols, y, ld, v, ld, out, ld), SMX_OK);
            for (size_t r = 0; r < rows; r++) {
                oracle_row((enum op)op, cols, y + r * ld, v + r * ld, ref, bar);
                for (size_t c = 0; c < cols; c++)
                    expect_close(out[r * ld + c], ref[c], bar[c], op_names[op], r, c);
            }
            expect_padding_intact(out, rows, cols, ld, op_names[op]);
            ck_assert(is_sentinel(buf[off]) && is_sentinel(out[rows * ld]));
            free(ref);
            free(bar);
        }
        check_op((enum op)op, rows, cols, y, v, ld, ld, 1);
    }
    free(y);
    free(v);
    free(buf);
}
END_TEST

/* A batch just over 16 MiB (y, v and out: 343 x 4099 x 12 bytes), past
 * CACHED_BATCH in the kernels, which takes it for rows from memory: only
 * there does softmax's backward take the next row's dot product while it
 * writes a row (the log-softmax ops do so at any size), and the rows so
 * written whose start is aligned to the vector size go with non-temporal
 * stores. Output rows cols + 1 floats apart (16 bytes past a multiple of
 * 64) start at every 16-byte offset in turn, so some rows stream and some
 * do not. Rows with a tail, strided, in place over y and over v. The
 * buffers end at a PROT_NONE page, or start just after one, by turns (each
 * op gets both, the out-of-place call one of them): reading the row after
 * the last, or writing past either end, faults. */
START_TEST(large_batch)
{
    tests_use_isa(_i);
    rng g = {2026};
    const size_t cols = 4099, rows = 343, ld = cols + 3;
    float *y = alloc_sentinel(rows * ld), *v = alloc_sentinel(rows * ld);
    for (enum op op = 0; op < N_OPS; op++) {
        make_inputs(&g, op, rows, cols, ld, y, v);
        for (int where = 0; where < 3; where++)
            check_op_guarded(op, rows, cols, y, v, ld, cols + 1, where,
                             1 + (op + where) % 2);
    }
    free(y);
    free(v);
}
END_TEST

/* Arbitrary y (not a forward output), including zeros, -inf log-probs and
 * a NaN, which must make its row NaN and leave other rows alone. */
START_TEST(arbitrary_and_special_inputs)
{
    tests_use_isa(_i);
    rng g = {55};
    for (size_t cols = 1; cols <= 67; cols += 3) {
        /* five rows: on AVX-512, rows of up to 4 floats fill a pack of four */
        const size_t rows = 5, ld = cols;
        float *y = alloc_sentinel(rows * ld), *v = alloc_sentinel(rows * ld);
        for (int op = 0; op < N_OPS; op++) {
            fill_normal(&g, y, rows * ld, 2.0);
            fill_normal(&g, v, rows * ld, 2.0);
            y[ld + cols / 2] = op >= LOG_SOFTMAX_JVP ? -INFINITY : 0.0f;
            check_op((enum op)op, rows, cols, y, v, ld, ld, 0);
            v[ld + cols - 1] = NAN;
            check_op((enum op)op, rows, cols, y, v, ld, ld, 0);
        }
        free(y);
        free(v);
    }
    /* A +inf among y <= 0, then NaNs in the lanes it went through (for 4,
     * 8 and 16 lanes): a max that lets a NaN displace the inf would take
     * the block for one without positives (the fuzzer found that). */
    for (size_t k = 0; k < 4; k++) { /* two rows, then a lone row */
        const size_t cols = 40 + k % 2, rows = k < 2 ? 2 : 1, ld = cols;
        float *y = alloc_sentinel(rows * ld), *v = alloc_sentinel(rows * ld);
        fill_normal(&g, v, rows * ld, 1.0);
        for (size_t i = 0; i < rows * ld; i++)
            y[i] = -3.0f;
        for (size_t r = 0; r < rows; r++) {
            y[r * ld + 1] = INFINITY;
            y[r * ld + 5] = y[r * ld + 9] = y[r * ld + 17] = NAN;
        }
        check_op(LOG_SOFTMAX_VJP, rows, cols, y, v, ld, ld, 0);
        check_op(LOG_SOFTMAX_JVP, rows, cols, y, v, ld, ld, 0);
        free(y);
        free(v);
    }
    /* The same specials in a lone row, every length up to 130 */
    for (size_t cols = 1; cols <= EVERY_LEN_MAX; cols++) {
        float *y = alloc_sentinel(cols), *v = alloc_sentinel(cols);
        for (int op = 0; op < N_OPS; op++) {
            fill_normal(&g, y, cols, 2.0);
            fill_normal(&g, v, cols, 2.0);
            check_op((enum op)op, 1, cols, y, v, cols, cols, 0);
            y[cols / 2] = op >= LOG_SOFTMAX_JVP ? -INFINITY : 0.0f;
            check_op((enum op)op, 1, cols, y, v, cols, cols, 0);
            y[cols - 1] = INFINITY;
            check_op((enum op)op, 1, cols, y, v, cols, cols, 0);
            v[0] = NAN;
            check_op((enum op)op, 1, cols, y, v, cols, cols, 0);
        }
        free(y);
        free(v);
    }
    /* Kernels may take exp_nonpos for rows or blocks whose y are all <= 0
     * (any log-softmax output) and must not for the others. y of 88.7
     * (exp 3.3e38, finite only through exp_any) in the middle block of a
     * row: in every row, or in row 1 alone (each row's choice is its own:
     * rows 0 and 2 have none, row 2 follows a row that has one); and y > 0
     * throughout. v is 0 but 0.5 there, so every result stays finite. Rows
     * of one block and of several. */
    static const size_t lens[] = {3, 7, 40, 129, 2049, 4133};
    for (size_t k = 0; k < 2 * sizeof lens / sizeof lens[0]; k++) {
        /* each length with five rows (rows of 3 fill a pack of four on
         * AVX-512), then alone (variant 1 has none) */
        const size_t cols = lens[k / 2], rows = k % 2 ? 1 : 5, ld = cols + 1;
        const size_t at = cols > 2048 ? 2048 + (cols - 2049) / 2 : cols / 2;
        float *y = alloc_sentinel(rows * ld), *v = alloc_sentinel(rows * ld);
        for (int variant = 0; variant < 3; variant++) {
            fill_normal(&g, y, rows * ld, 2.0);
            fill_normal(&g, v, rows * ld, 1.0);
            if (variant < 2) {
                ck_assert_int_eq(smx_log_softmax_f32(rows, cols, y, ld, y, ld), SMX_OK);
                for (size_t r = variant; r < rows; r += variant ? rows : 1) {
                    for (size_t c = 0; c < cols; c++)
                        v[r * ld + c] = 0.0f;
                    y[r * ld + at] = 88.7f;
                    v[r * ld + at] = 0.5f;
                }
            }
            check_op(LOG_SOFTMAX_JVP, rows, cols, y, v, ld, ld, 0);
            check_op(LOG_SOFTMAX_VJP, rows, cols, y, v, ld, ld, 0);
        }
        free(y);
        free(v);
    }
}
END_TEST

/* J(y) is symmetric: the VJP equals the JVP, bit for bit, and
 * <J u, w> == <u, J w>. */
START_TEST(softmax_jacobian_symmetric)
{
    tests_use_isa(_i);
    rng g = {8};
    for (size_t n = 1; n <= 200; n += 11) {
        float *y = alloc_sentinel(n), *u = alloc_sentinel(n),
              *w = alloc_sentinel(n), *ju = alloc_sentinel(n),
              *jw = alloc_sentinel(n), *vu = alloc_sentinel(n);
        make_inputs(&g, SOFTMAX_JVP, 1, n, n, y, u);
        fill_normal(&g, w, n, 1.0);
        ck_assert_int_eq(smx_softmax_jvp_f32(1, n, y, n, u, n, ju, n), SMX_OK);
        ck_assert_int_eq(smx_softmax_vjp_f32(1, n, y, n, u, n, vu, n), SMX_OK);
        ck_assert_int_eq(smx_softmax_jvp_f32(1, n, y, n, w, n, jw, n), SMX_OK);
        /* Each J-product element i is within its bar, the terms
         * |y_i x_i| + y_i sum_j |y_j x_j|; the dot products inherit it. */
        double a = 0, b = 0, su = 0, sw = 0, tol = 0;
        for (size_t i = 0; i < n; i++) {
            su += fabs((double)y[i] * u[i]);
            sw += fabs((double)y[i] * w[i]);
        }
        for (size_t i = 0; i < n; i++) {
            ck_assert(ju[i] == vu[i]);
            a += (double)ju[i] * w[i];
            b += (double)u[i] * jw[i];
            tol += fabs((double)w[i]) * bar_terms(fabs((double)y[i] * u[i]) + y[i] * su) +
                   fabs((double)u[i]) * bar_terms(fabs((double)y[i] * w[i]) + y[i] * sw);
        }
        ck_assert_msg(fabs(a - b) <= tol, "<Ju,w> %a != <u,Jw> %a (tol %g)",
                      a, b, tol);
        free(y);
        free(u);
        free(w);
        free(ju);
        free(jw);
        free(vu);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backward");
    TCase *tc = tcase_create("backward");
    tcase_set_timeout(tc, 600);
    ADD_ISA_TEST(tc, lengths_strides_in_place);
    ADD_ISA_TEST(tc, long_rows_unaligned);
    ADD_ISA_TEST(tc, large_batch);
    ADD_ISA_TEST(tc, arbitrary_and_special_inputs);
    ADD_ISA_TEST(tc, softmax_jacobian_symmetric);
    suite_add_tcase(s, tc);
    return tests_run(s);
}
