/* SPDX-License-Identifier: MIT */
/* softmax, log-softmax, logsumexp against the double oracle, on every ISA. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* Checks all three forward ops on a rows x cols batch stored with stride
 * ldx; outputs use stride ldy (padding must stay untouched) or, in place,
 * overwrite a copy of x. */
static void check_forward(size_t rows, size_t cols, const float *x,
                          size_t ldx, size_t ldy, int in_place)
{
    if (in_place)
        ldy = ldx;
    const size_t ny = rows * ldy;
    float *y = in_place ? dup_floats(x, rows * ldx) : alloc_sentinel(ny);
    float *ly = in_place ? dup_floats(x, rows * ldx) : alloc_sentinel(ny);
    float *lse = alloc_sentinel(rows + 1);
    double *p = malloc((cols + 1) * sizeof *p);
    double *lp = malloc((cols + 1) * sizeof *lp);
    double *d = malloc((cols + 1) * sizeof *d);
    ck_assert(p && lp && d);

    const float *sx = in_place ? y : x, *lx = in_place ? ly : x;
    ck_assert_int_eq(smx_softmax_f32(rows, cols, sx, ldx, y, ldy), SMX_OK);
    ck_assert_int_eq(smx_log_softmax_f32(rows, cols, lx, ldx, ly, ldy),
                     SMX_OK);
    ck_assert_int_eq(smx_logsumexp_f32(rows, cols, x, ldx, lse), SMX_OK);

    for (size_t r = 0; r < rows; r++) {
        double ref_lse;
        oracle_softmax_row(cols, x + r * ldx, p, lp, d, &ref_lse);
        for (size_t c = 0; c < cols; c++) {
            expect_close(y[r * ldy + c], p[c], bar_prob(p[c], d[c]),
                         "softmax", r, c);
            expect_close(ly[r * ldy + c], lp[c], bar_log(lp[c], d[c]),
                         "log_softmax", r, c);
        }
        expect_close(lse[r], ref_lse, bar_log(ref_lse, 0.0), "logsumexp", r,
                     0);
    }
    ck_assert_msg(is_sentinel(lse[rows]), "logsumexp wrote past lse[rows]");
    if (!in_place) {
        expect_padding_intact(y, rows, cols, ldy, "softmax");
        expect_padding_intact(ly, rows, cols, ldy, "log_softmax");
    }
    free(p);
    free(lp);
    free(d);
    free(y);
    free(ly);
    free(lse);
}

static float *random_batch(rng *g, size_t rows, size_t cols, size_t ld,
                           double sigma)
{
    float *x = alloc_sentinel(rows * ld);
    for (size_t r = 0; r < rows; r++)
        fill_normal(g, x + r * ld, cols, sigma);
    return x;
}

/* Every length from 0 past several vector widths, odd strides, in place. */
START_TEST(lengths_strides_in_place)
{
    tests_use_isa(_i);
    rng g = {1234};
    for (size_t cols = 0; cols <= EVERY_LEN_MAX; cols++) {
        const size_t rows = 3, ldx = cols + 5, ldy = cols + 3;
        float *x = random_batch(&g, rows, cols, ldx, 3.0);
        check_forward(rows, cols, x, ldx, ldy, 0);
        check_forward(rows, cols, x, ldx, 0, 1);
        check_forward(1, cols, x, cols, cols, 0);
        check_forward(1, cols, x + ldx, ldx, 0, 1); /* a lone row in place */
        free(x);
    }
    /* Nine rows: two full groups of four and one left over, on both sides
     * of the register-row and grouping limits (128 and 1024 floats), and
     * of the packed rows' (two or four to a vector up to 4 and 8 floats). */
    static const size_t group_cols[] = {1, 2, 3, 4, 5, 8, 9, 17, 128, 129, 1000, 1024, 1025};
    for (size_t k = 0; k < sizeof group_cols / sizeof group_cols[0]; k++) {
        const size_t cols = group_cols[k], rows = 9, ldx = cols + 3;
        float *x = random_batch(&g, rows, cols, ldx, 3.0);
        check_forward(rows, cols, x, ldx, cols + 1, 0);
        check_forward(rows, cols, x, ldx, 0, 1);
        free(x);
    }
    /* 37 short rows: logsumexp's packs batch their logs 16 (AVX-512) or 8
     * (AVX2) rows at a time from 32 or 16 rows on (log_batch), so here
     * full batches, a partial last one, the pair and the lone row left,
     * and rows whose packs go row by row (+inf, NaN, all -inf) among them.
     * Rows of 2 to 16 go VLEN at a time one per lane (rows_lanes_tmpl.c):
     * whole eights (AVX2) or sixteens (AVX-512), some with one of those
     * rows, and 5 rows left for the packs; rows of 1 stay packed. */
    static const size_t short_cols[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 16};
    for (size_t k = 0; k < sizeof short_cols / sizeof short_cols[0]; k++) {
        const size_t cols = short_cols[k], rows = 37, ldx = cols + 2;
        float *x = random_batch(&g, rows, cols, ldx, 3.0);
        check_forward(rows, cols, x, ldx, cols, 0);
        x[5 * ldx + cols - 1] = INFINITY;
        x[18 * ldx] = NAN;
        for (size_t c = 0; c < cols; c++)
            x[30 * ldx + c] = -INFINITY;
        check_forward(rows, cols, x, ldx, cols, 0);
        check_forward(rows, cols, x, ldx, 0, 1);
        free(x);
    }
}
END_TEST

START_TEST(long_rows)
{
    tests_use_isa(_i);
    rng g = {99};
    static const size_t lens[] = {1000, 4097, 32000, 128256};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        const size_t cols = lens[k], rows = cols > 10000 ? 2 : 4;
        float *x = random_batch(&g, rows, cols, cols + 1, 3.0);
        check_forward(rows, cols, x, cols + 1, cols + 7, 0);
        check_forward(rows, cols, x, cols + 1, 0, 1);
        free(x);
    }
}
END_TEST

/* 2^20 elements: a plain running f32 sum would miss the bar here. */
START_TEST(row_of_2_pow_20)
{
    tests_use_isa(_i);
    rng g = {7};
    const size_t cols = (size_t)1 << 20;
    float *x = random_batch(&g, 1, cols, cols, 3.0);
    check_forward(1, cols, x, cols, cols, 0);
    check_forward(1, cols, x, cols, 0, 1);
    /* Near-uniform row: every term matters to the sum. */
    for (size_t i = 0; i < cols; i++)
        x[i] = (float)(1e-3 * rng_normal(&g));
    check_forward(1, cols, x, cols, cols, 0);
    free(x);
}
END_TEST

/* Rows with special values, each placed at the start, middle and end of
 * rows of lengths around vector widths, mixed with normal rows to show
 * that other rows are untouched. */
enum special { ALL_NEG_INF, ONE_NEG_INF, ONE_POS_INF, TWO_POS_INF, ONE_NAN,
               NAN_AND_POS_INF, HUGE_VALUES, NEAR_OVERFLOW, SUBNORMALS,
               EQUAL_VALUES, N_SPECIAL };

static void make_special(rng *g, float *x, size_t n, enum special s,
                         size_t at)
{
    fill_normal(g, x, n, 3.0);
    switch (s) {
    case ALL_NEG_INF:
        for (size_t i = 0; i < n; i++)
            x[i] = -INFINITY;
        break;
    case ONE_NEG_INF: x[at] = -INFINITY; break;
    case ONE_POS_INF: x[at] = INFINITY; break;
    case TWO_POS_INF:
        x[at] = INFINITY;
        x[(at + n / 3) % n] = INFINITY;
        x[(at + 1) % n] = -INFINITY;
        break;
    case ONE_NAN: x[at] = NAN; break;
    case NAN_AND_POS_INF:
        x[at] = NAN;
        x[(at + 1) % n] = INFINITY;
        break;
    case HUGE_VALUES:
        for (size_t i = 0; i < n; i++)
            x[i] = (i % 3 == 0) ? -FLT_MAX : (i % 3 == 1) ? FLT_MAX * 0.5f
                                                           : x[i] * 1e37f;
        x[at] = FLT_MAX;
        break;
    case NEAR_OVERFLOW: /* expf alone would overflow: max must be taken */
        for (size_t i = 0; i < n; i++)
            x[i] = 88.0f + 12.0f * (float)rng_uniform(g);
        break;
    case SUBNORMALS:
        for (size_t i = 0; i < n; i++)
            x[i] = (float)(rng_normal(g) * 0x1p-140);
        break;
    case EQUAL_VALUES:
        for (size_t i = 0; i < n; i++)
            x[i] = 1.75f;
        break;
    default: break;
    }
}

START_TEST(special_values)
{
    tests_use_isa(_i);
    rng g = {4242};
    static const size_t lens[] = {1,  2,  3,  5,  6,  7,  8,  9,   15, 16,
                                  17, 31, 32, 33, 47, 63, 64, 65, 100, 1000};
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        /* the special row second of five rows: it sits in a whole pack of
         * four short rows too (rows_packed_tmpl.c), whose fallback then
         * takes every row of the pack; of nine and seventeen, in a whole
         * VLEN of rows one per lane (rows of 2 to 16, rows_lanes_tmpl.c) */
        static const size_t row_counts[] = {5, 9, 17};
        for (size_t i = 0; i < sizeof row_counts / sizeof row_counts[0]; i++) {
            const size_t rows = row_counts[i];
            const size_t n = lens[k], ld = n + 2;
            const size_t spots[] = {0, n / 2, n - 1};
            for (int s = 0; s < N_SPECIAL; s++) {
                for (size_t w = 0; w < 3; w++) {
                    float *x = random_batch(&g, rows, n, ld, 3.0);
                    make_special(&g, x + ld, n, (enum special)s, spots[w]);
                    check_forward(rows, n, x, ld, ld + 1, 0);
                    check_forward(rows, n, x, ld, 0, 1);
                    check_forward(1, n, x + ld, ld, ld + 1, 0); /* alone */
                    check_forward(1, n, x + ld, ld, 0, 1);
                    free(x);
                }
            }
        }
    }
}
END_TEST

/* The exact limits the header promises, spelled out. */
START_TEST(edge_limits_exact)
{
    tests_use_isa(_i);
    for (size_t n = 1; n <= 40; n++) {
        float *x = alloc_sentinel(n), *y = alloc_sentinel(n);
        float lse;
        for (size_t i = 0; i < n; i++)
            x[i] = -INFINITY;
        ck_assert_int_eq(smx_softmax_f32(1, n, x, n, y, n), SMX_OK);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(y[i] == 0.0f, "masked row: softmax %zu", i);
        ck_assert_int_eq(smx_log_softmax_f32(1, n, x, n, y, n), SMX_OK);
        for (size_t i = 0; i < n; i++)
            ck_assert(y[i] == -INFINITY);
        ck_assert_int_eq(smx_logsumexp_f32(1, n, x, n, &lse), SMX_OK);
        ck_assert(lse == -INFINITY);

        /* Two +inf among finite values share the probability. */
        for (size_t i = 0; i < n; i++)
            x[i] = (float)i;
        x[n - 1] = INFINITY;
        x[0] = INFINITY;
        const float share = n == 1 ? 1.0f : 0.5f;
        ck_assert_int_eq(smx_softmax_f32(1, n, x, n, y, n), SMX_OK);
        for (size_t i = 0; i < n; i++)
            ck_assert(y[i] == (x[i] == INFINITY ? share : 0.0f));
        ck_assert_int_eq(smx_log_softmax_f32(1, n, x, n, y, n), SMX_OK);
        for (size_t i = 0; i < n; i++)
            ck_assert(y[i] == (x[i] == INFINITY ? -logf(1.0f / share)
                                                : -INFINITY));
        ck_assert_int_eq(smx_logsumexp_f32(1, n, x, n, &lse), SMX_OK);
        ck_assert(lse == INFINITY);
        free(x);
        free(y);
    }
}
END_TEST

/* softmax(x + c) == softmax(x) up to the rounding of x + c itself: if
 * every shifted element moved by at most delta, each log-probability moved
 * by at most 4 delta. Huge shifts must give no overflow and no NaN. */
START_TEST(shift_invariance)
{
    tests_use_isa(_i);
    rng g = {5};
    static const float shifts[] = {1e4f, -1e4f, 1e30f, -3e38f, 3e38f};
    for (size_t n = 1; n <= 200; n += 13) {
        float *x = random_batch(&g, 1, n, n, 3.0);
        float *xs = alloc_sentinel(n), *y = alloc_sentinel(n),
              *ys = alloc_sentinel(n);
        ck_assert_int_eq(smx_softmax_f32(1, n, x, n, y, n), SMX_OK);
        for (size_t k = 0; k < sizeof shifts / sizeof shifts[0]; k++) {
            double delta = 0.0;
            for (size_t i = 0; i < n; i++) {
                xs[i] = x[i] + shifts[k];
                delta = fmax(delta, fabs(((double)xs[i] - shifts[k]) - x[i]));
            }
            check_forward(1, n, xs, n, n, 0);
            ck_assert_int_eq(smx_softmax_f32(1, n, xs, n, ys, n), SMX_OK);
            for (size_t i = 0; i < n; i++) {
                const double tol =
                    expm1(4.0 * delta) * y[i] + 2 * bar_prob(y[i], 30.0);
                ck_assert_msg(isfinite(ys[i]) &&
                                  fabs((double)ys[i] - y[i]) <= tol,
                              "shift %g, n %zu, i %zu: %a vs %a",
                              (double)shifts[k], n, i, (double)ys[i],
                              (double)y[i]);
            }
        }
        free(x);
        free(xs);
        free(y);
        free(ys);
    }
}
END_TEST

/* exp(log_softmax) == softmax, and logsumexp agrees with log_softmax. */
START_TEST(ops_agree)
{
    tests_use_isa(_i);
    rng g = {77};
    for (size_t n = 1; n <= 300; n += 7) {
        float *x = random_batch(&g, 2, n, n, 3.0);
        float *y = alloc_sentinel(2 * n), *ly = alloc_sentinel(2 * n);
        float lse[2];
        ck_assert_int_eq(smx_softmax_f32(2, n, x, n, y, n), SMX_OK);
        ck_assert_int_eq(smx_log_softmax_f32(2, n, x, n, ly, n), SMX_OK);
        ck_assert_int_eq(smx_logsumexp_f32(2, n, x, n, lse), SMX_OK);
        for (size_t i = 0; i < 2 * n; i++) {
            const double a = y[i], b = exp((double)ly[i]);
            ck_assert_msg(fabs(a - b) <= 0x1p-18 * (1.0 + fabs(ly[i])) * a,
                          "softmax %a vs exp(log_softmax) %a", a, b);
            ck_assert_msg(fabs(((double)x[i] - lse[i / n]) - ly[i]) <=
                              0x1p-18 * (1.0 + fabs(x[i]) + fabs(lse[i / n])),
                          "log_softmax != x - logsumexp at %zu", i);
        }
        free(x);
        free(y);
        free(ly);
    }
}
END_TEST

/* Results do not depend on which ISA ran, beyond the bar. */
START_TEST(matches_scalar_reference)
{
    const smx_isa isa = tests_use_isa(_i);
    rng g = {31337};
    for (size_t n = 1; n <= 520; n += 37) {
        float *x = random_batch(&g, 3, n, n, 3.0);
        float *ys = alloc_sentinel(3 * n), *yi = alloc_sentinel(3 * n);
        ck_assert_int_eq(smx_set_isa(SMX_ISA_SCALAR), SMX_OK);
        ck_assert_int_eq(smx_softmax_f32(3, n, x, n, ys, n), SMX_OK);
        ck_assert_int_eq(smx_set_isa(isa), SMX_OK);
        ck_assert_int_eq(smx_softmax_f32(3, n, x, n, yi, n), SMX_OK);
        for (size_t i = 0; i < 3 * n; i++)
            ck_assert_msg(fabs((double)ys[i] - yi[i]) <=
                              2 * bar_prob(ys[i], 3.0 * 10),
                          "%s vs scalar at %zu: %a vs %a", smx_isa_name(isa),
                          i, (double)yi[i], (double)ys[i]);
        free(x);
        free(ys);
        free(yi);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("forward");
    TCase *tc = tcase_create("forward");
    tcase_set_timeout(tc, 600);
    ADD_ISA_TEST(tc, lengths_strides_in_place);
    ADD_ISA_TEST(tc, long_rows);
    ADD_ISA_TEST(tc, row_of_2_pow_20);
    ADD_ISA_TEST(tc, special_values);
    ADD_ISA_TEST(tc, edge_limits_exact);
    ADD_ISA_TEST(tc, shift_invariance);
    ADD_ISA_TEST(tc, ops_agree);
    ADD_ISA_TEST(tc, matches_scalar_reference);
    suite_add_tcase(s, tc);
    return tests_run(s);
}
