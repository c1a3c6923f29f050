/* SPDX-License-Identifier: MIT */
/* Fused cross-entropy, class and soft targets, against the double oracle. */
#include <math.h>
#include <stdlib.h>

#include "common.h"

static const smx_ce_opts option_sets[] = {
    SMX_CE_OPTS_DEFAULT,
    {-100, 0.1f, 1.0f},
    {-100, 1.0f, 1.0f},  /* only the uniform part: the target term is 0 */
    {2, 0.0f, 0.25f},    /* ignore_index may be a real class */
    {-1, 0.3f, -3.0f},
};
#define N_OPTS (sizeof option_sets / sizeof option_sets[0])

/* outputs: bit 0 loss, bit 1 grad; in_place writes grad over the logits. */
static void check_class(size_t rows, size_t cols, const float *z, size_t ldz,
                        const int32_t *t, const smx_ce_opts *o, int outputs,
                        int in_place)
{
    const size_t ldg = in_place ? ldz : cols + 2;
    float *zc = dup_floats(z, rows * ldz);
    float *loss = (outputs & 1) ? alloc_sentinel(rows + 1) : NULL;
    float *grad = !(outputs & 2) ? NULL : in_place ? zc
                                                   : alloc_sentinel(rows * ldg);
    double *ref = malloc(cols * sizeof *ref), *bar = malloc(cols * sizeof *bar);
    ck_assert(ref && bar);
    ck_assert_int_eq(
        smx_cross_entropy_f32(rows, cols, zc, ldz, t, o, loss, grad, ldg),
        SMX_OK);
    for (size_t r = 0; r < rows; r++) {
        double lb, l = 0.0;
        if (t[r] == o->ignore_index) {
            for (size_t c = 0; c < cols; c++)
                ref[c] = 0.0, bar[c] = 0.0;
            lb = 0.0;
        } else {
            l = oracle_xent_row(cols, z + r * ldz, t[r], o->label_smoothing,
                                o->grad_scale, ref, bar, &lb);
        }
        if (loss)
            expect_close(loss[r], l, lb, "cross_entropy loss", r, 0);
        for (size_t c = 0; grad && c < cols; c++)
            expect_close(grad[r * ldg + c], ref[c], bar[c],
                         "cross_entropy grad", r, c);
    }
    if (loss)
        ck_assert(is_sentinel(loss[rows]));
    if (grad && !in_place)
        expect_padding_intact(grad, rows, cols, ldg, "cross_entropy grad");
    if (!in_place)
        free(grad);
    free(loss);
    free(zc);
    free(ref);
    free(bar);
}

/* check_class with the loss alone, the gradient alone and both, out of
 * place, and both in place over the logits. */
static void check_class_every_way(size_t rows, size_t cols, const float *z,
                                  size_t ld, const int32_t *t,
                                  const smx_ce_opts *o)
{
    for (int outputs = 1; outputs <= 3; outputs++)
        check_class(rows, cols, z, ld, t, o, outputs, 0);
    check_class(rows, cols, z, ld, t, o, 3, 1);
}

static void check_soft(size_t rows, size_t cols, const float *z,
                       const float *p, size_t ld, const smx_ce_opts *o,
                       int outputs, int in_place)
{
    const size_t ldg = in_place ? ld : cols + 1;
    float *zc = dup_floats(z, rows * ld), *pc = dup_floats(p, rows * ld);
    float *loss = (outputs & 1) ? alloc_sentinel(rows + 1) : NULL;
    float *grad = !(outputs & 2) ? NULL
                  : in_place == 1 ? zc
                  : in_place == 2 ? pc
                                  : alloc_sentinel(rows * ldg);
    double *ref = malloc(cols * sizeof *ref), *bar = malloc(cols * sizeof *bar);
    ck_assert(ref && bar);
    ck_assert_int_eq(smx_cross_entropy_soft_f32(rows, cols, zc, ld, pc, ld, o,
                                                loss, grad, ldg),
                     SMX_OK);
    for (size_t r = 0; r < rows; r++) {
        double lb;
        const double l = oracle_xent_soft_row(cols, z + r * ld, p + r * ld,
                                              o->label_smoothing,
                                              o->grad_scale, ref, bar, &lb);
        if (loss)
            expect_close(loss[r], l, lb, "cross_entropy_soft loss", r, 0);
        for (size_t c = 0; grad && c < cols; c++)
            expect_close(grad[r * ldg + c], ref[c], bar[c],
                         "cross_entropy_soft grad", r, c);
    }
    if (grad && !in_place) {
        expect_padding_intact(grad, rows, cols, ldg, "cross_entropy_soft grad");
        free(grad);
    }
    free(loss);
    free(zc);
    free(pc);
    free(ref);
    free(bar);
}

/* check_soft with loss and gradient, every option set, out of place and
 * in place over z and over p; and the loss alone. */
static void check_soft_every_way(size_t rows, size_t cols, const float *z,
                                 const float *p, size_t ld)
{
    for (size_t o = 0; o < N_OPTS; o++) {
        for (int in_place = 0; in_place <= 2; in_place++)
            check_soft(rows, cols, z, p, ld, &option_sets[o], 3, in_place);
        check_soft(rows, cols, z, p, ld, &option_sets[o], 1, 0);
    }
}

static void random_targets(rng *g, int32_t *t, size_t rows, size_t cols,
                           int32_t ignore_index)
{
    for (size_t r = 0; r < rows; r++)
        t[r] = (r % 4 == 3) ? ignore_index
                            : (int32_t)(rng_next(g) % (uint64_t)cols);
}

/* Random targets, none of them ignore_index: whole packs of short rows
 * take the packed path (random_targets' ignored rows send theirs
 * elsewhere). */
static void live_targets(rng *g, int32_t *t, size_t rows, size_t cols,
                         int32_t ignore_index)
{
    for (size_t r = 0; r < rows; r++) {
        t[r] = (int32_t)(rng_next(g) % (uint64_t)cols);
        if (t[r] == ignore_index)
            t[r] = (t[r] + 1) % (int32_t)cols;
    }
}

/* rows of random logits (sigma 3), ld apart; the gaps hold the sentinel */
static float *random_logits(rng *g, size_t rows, size_t cols, size_t ld)
{
    float *z = alloc_sentinel(rows * ld);
    for (size_t r = 0; r < rows; r++)
        fill_normal(g, z + r * ld, cols, 3.0);
    return z;
}

/* Soft targets: a softmax of random logits, with exact zeros sprinkled in. */
static void random_probs(rng *g, float *p, size_t rows, size_t cols,
                         size_t ld)
{
    for (size_t r = 0; r < rows; r++)
        fill_normal(g, p + r * ld, cols, 2.0);
    ck_assert_int_eq(smx_softmax_f32(rows, cols, p, ld, p, ld), SMX_OK);
    for (size_t i = 0; i < rows * ld; i += 5)
        p[i] = 0.0f;
}

START_TEST(class_targets)
{
    tests_use_isa(_i);
    rng g = {11};
    static const size_t big[] = {1000, 4097, 32000};
    for (size_t k = 1; k <= EVERY_LEN_MAX + 3; k++) {
        const size_t cols = k <= EVERY_LEN_MAX ? k : big[k - EVERY_LEN_MAX - 1];
        const size_t rows = 5, ld = cols + 1;
        float *z = random_logits(&g, rows, cols, ld);
        int32_t t[5];
        for (size_t o = 0; o < N_OPTS; o++) {
            random_targets(&g, t, rows, cols, option_sets[o].ignore_index);
            check_class_every_way(rows, cols, z, ld, t, &option_sets[o]);
            /* lone rows (a path of their own), row 3 ignored */
            for (size_t r = 0; r < rows; r += 3)
                check_class_every_way(1, cols, z + r * ld, ld, t + r, &option_sets[o]);
        }
        free(z);
    }
    /* Nine rows: two full groups of four, the first written while the
     * second is prefetched, and one left over, on both sides of the
     * grouping limit (1024), in place too. */
    static const size_t group_cols[] = {1, 17, 128, 1000, 1024, 1025};
    for (size_t k = 0; k < sizeof group_cols / sizeof group_cols[0]; k++) {
        const size_t cols = group_cols[k], rows = 9, ld = cols + 1;
        float *z = random_logits(&g, rows, cols, ld);
        int32_t t[9];
        for (size_t o = 0; o < N_OPTS; o++) {
            random_targets(&g, t, rows, cols, option_sets[o].ignore_index);
            check_class_every_way(rows, cols, z, ld, t, &option_sets[o]);
        }
        free(z);
    }
    /* Short rows packed in a vector (rows_packed_tmpl.c): eleven rows of 1
     * to 8 floats with no target ignored (random_targets ignores every
     * fourth row, which sends its whole pack elsewhere), so that packs of
     * four, then of two take the packed path, and one row is left over; in
     * place too. */
    for (size_t cols = 1; cols <= 8; cols++) {
        const size_t rows = 11, ld = cols + 1;
        float *z = random_logits(&g, rows, cols, ld);
        int32_t t[11];
        for (size_t o = 0; o < N_OPTS; o++) {
            live_targets(&g, t, rows, cols, option_sets[o].ignore_index);
            check_class_every_way(rows, cols, z, ld, t, &option_sets[o]);
        }
        free(z);
    }
    /* 37 rows: the losses batch their logs 16 (AVX-512) or 8 (AVX2) rows
     * at a time (log_batch), from 32 or 16 packed short rows on, from 8
     * rows held in registers (up to 8 vectors): full batches, a partial
     * last one, for packs the pair and the lone row left, and rows that go
     * elsewhere (an ignored target, a NaN, a +inf, a row all -inf) among
     * them. */
    static const size_t batch_cols[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17, 33, 64, 100, 127, 128};
    for (size_t k = 0; k < sizeof batch_cols / sizeof batch_cols[0]; k++) {
        const size_t cols = batch_cols[k], rows = 37, ld = cols + 1;
        float *z = random_logits(&g, rows, cols, ld);
        int32_t t[37];
        z[9 * ld] = NAN;
        z[22 * ld + cols - 1] = INFINITY;
        for (size_t c = 0; c < cols; c++)
            z[30 * ld + c] = -INFINITY;
        for (size_t o = 0; o < N_OPTS; o++) {
            live_targets(&g, t, rows, cols, option_sets[o].ignore_index);
            t[13] = option_sets[o].ignore_index;
            check_class_every_way(rows, cols, z, ld, t, &option_sets[o]);
        }
        float *p = alloc_sentinel(rows * ld);
        random_probs(&g, p, rows, cols, ld);
        p[26 * ld] = INFINITY; /* not a probability: row by row */
        check_soft_every_way(rows, cols, z, p, ld);
        free(z);
        free(p);
    }
}
END_TEST

START_TEST(soft_targets)
{
    tests_use_isa(_i);
    rng g = {12};
    static const size_t big[] = {1000, 4097, 32000};
    for (size_t k = 1; k <= EVERY_LEN_MAX + 3; k++) {
        const size_t cols = k <= EVERY_LEN_MAX ? k : big[k - EVERY_LEN_MAX - 1];
        const size_t rows = 3, ld = cols + 2;
        float *z = random_logits(&g, rows, cols, ld);
        float *p = alloc_sentinel(rows * ld);
        random_probs(&g, p, rows, cols, ld);
        for (size_t o = 0; o < N_OPTS; o++) {
            for (int outputs = 1; outputs <= 3; outputs++)
                check_soft(rows, cols, z, p, ld, &option_sets[o], outputs, 0);
            check_soft(rows, cols, z, p, ld, &option_sets[o], 3, 1);
            check_soft(rows, cols, z, p, ld, &option_sets[o], 3, 2);
        }
        /* lone rows (in registers up to 8 vectors) */
        for (size_t r = 0; r < rows; r += 2)
            check_soft_every_way(1, cols, z + r * ld, p + r * ld, ld);
        free(z);
        free(p);
    }
    /* Nine rows: two full groups of four and one left over, on both sides
     * of the grouping limit (256) and of the packed rows' (two or four to
     * a vector up to 4 and 8 floats), in place too. */
    static const size_t group_cols[] = {1, 2, 3, 4, 5, 8, 9, 17, 128, 256, 257};
    for (size_t k = 0; k < sizeof group_cols / sizeof group_cols[0]; k++) {
        const size_t cols = group_cols[k], rows = 9, ld = cols + 1;
        float *z = random_logits(&g, rows, cols, ld);
        float *p = alloc_sentinel(rows * ld);
        random_probs(&g, p, rows, cols, ld);
        check_soft_every_way(rows, cols, z, p, ld);
        free(z);
        free(p);
    }
}
END_TEST

/* Rows long enough for the kernels' long-row paths (past 2^18), in place
 * too, with every option set. */
START_TEST(long_rows)
{
    tests_use_isa(_i);
    rng g = {15};
    const size_t cols = ((size_t)1 << 18) + 3, rows = 2;
    float *z = alloc_sentinel(rows * cols), *p = alloc_sentinel(rows * cols);
    for (size_t r = 0; r < rows; r++)
        fill_normal(&g, z + r * cols, cols, 3.0);
    random_probs(&g, p, rows, cols, cols);
    const int32_t t[2] = {7, (int32_t)(cols - 1)};
    for (size_t o = 0; o < N_OPTS; o++) {
        check_class(rows, cols, z, cols, t, &option_sets[o], 3, 0);
        check_class(rows, cols, z, cols, t, &option_sets[o], 3, 1);
        for (int in_place = 0; in_place <= 2; in_place++)
            check_soft(rows, cols, z, p, cols, &option_sets[o], 3, in_place);
    }
    free(z);
    free(p);
}
END_TEST

/* Rows with -inf masks, +inf, NaN, at the target and elsewhere. */
START_TEST(special_rows)
{
    tests_use_isa(_i);
    rng g = {13};
    static const float specials[] = {-INFINITY, INFINITY, NAN};
    for (size_t cols = 1; cols <= 40; cols += cols < 8 ? 1 : 3) {
        /* Batches of five rows (on AVX-512, rows of up to 4 floats fill a
         * pack of four), of nine (rows of up to 8 vectors held in
         * registers one at a time; on AVX2, rows of 2 to 16 eight at a time
         * one per lane) and of seventeen (the same on AVX-512, sixteen at
         * a time), and the special row alone. */
        const size_t rows = 17, ld = cols;
        static const size_t batches[] = {5, 9, 17};
        float *z = alloc_sentinel(rows * ld), *p = alloc_sentinel(rows * ld);
        for (size_t s = 0; s < 3; s++) {
            for (size_t at = 0; at < cols; at += 1 + cols / 3) {
                fill_normal(&g, z, rows * ld, 3.0);
                random_probs(&g, p, rows, cols, ld);
                z[ld + at] = specials[s];
                p[ld + at] = 0.0f; /* q == 0 at a -inf logit: a 0 term */
                const int32_t c = (int32_t)cols;
                int32_t t[17] = {0, (int32_t)at, c - 1, 0, c / 2, 0, c / 3, c - 1, 0};
                const int32_t t_off[17] = {0, (int32_t)((at + 1) % cols)};
                for (size_t k = 9; k < rows; k++)
                    t[k] = (int32_t)(k % cols);
                for (size_t o = 0; o < N_OPTS; o++) {
                    for (size_t b = 0; b < 3; b++) {
                        const size_t n = batches[b];
                        check_class(n, cols, z, ld, t, &option_sets[o], 3, 0);
                        check_class(n, cols, z, ld, t, &option_sets[o], 1, 0);
                        check_class(n, cols, z, ld, t_off, &option_sets[o], 3, 0);
                        check_class(n, cols, z, ld, t_off, &option_sets[o], 1, 0);
                        check_soft(n, cols, z, p, ld, &option_sets[o], 3, 0);
                        check_soft(n, cols, z, p, ld, &option_sets[o], 1, 0);
                        check_soft(n, cols, z, p, ld, &option_sets[o], 3, 1);
                    }
                    check_class(1, cols, z + ld, ld, t + 1, &option_sets[o], 3, 0);
                    check_class(1, cols, z + ld, ld, t_off + 1, &option_sets[o], 3, 1);
                    check_soft(1, cols, z + ld, p + ld, ld, &option_sets[o], 3, 0);
                    check_soft(1, cols, z + ld, p + ld, ld, &option_sets[o], 1, 0);
                    check_soft(1, cols, z + ld, p + ld, ld, &option_sets[o], 3, 2);
                }
            }
            /* A fully masked row. */
            for (size_t c = 0; c < cols; c++)
                z[ld + c] = -INFINITY;
            const int32_t t[17] = {0};
            for (size_t b = 0; b < 3; b++) {
                check_class(batches[b], cols, z, ld, t, &option_sets[0], 3, 0);
                check_soft(batches[b], cols, z, p, ld, &option_sets[1], 3, 0);
            }
        }
        /* Soft targets that are not probabilities (+inf, NaN) where log S
         * is 0 in float: S exactly 1 (one logit 1e7 above the rest), or 1
         * only after rounding (40 above: log S = log1p(rest) > 0 in the
         * references, whatever the other logits), with the +inf at the
         * max, where q (log S - d) is inf * 0 in float. The fuzzer found
         * NaN losses there instead of inf. In place over z and over p
         * too. With five rows (not three) the random logits left double's
         * 1 + rest rounded to 1: the scalar reference and the oracle then
         * disagreed, until both took log1p. */
        for (size_t s = 1; s < 3; s++) {
            for (int near = 0; near < 2; near++) {
                fill_normal(&g, z, rows * ld, 3.0);
                random_probs(&g, p, rows, cols, ld);
                z[ld] = near ? 40.0f : 1e7f;
                p[ld + (near ? 0 : cols / 2 + (cols > 1))] = specials[s];
                check_soft_every_way(rows, cols, z, p, ld);
                check_soft_every_way(1, cols, z + ld, p + ld, ld);
            }
        }
        free(z);
        free(p);
    }
}
END_TEST

/* Soft rows of several blocks (the kernels' 2048 elements) whose special
 * values sit in different blocks: the path that takes each block's max
 * just before its exps, rescales what the earlier blocks summed as the max
 * grows, and hands a row found not finite in a late block, its early
 * blocks already written, to the scalar reference. Out of place and in
 * place (over z, over p), every option set. */
START_TEST(soft_long_rows_by_block)
{
    tests_use_isa(_i);
    rng g = {16};
    const size_t cols = 3 * 2048 + 37, rows = 2, ld = cols;
    float *z = alloc_sentinel(rows * ld), *p = alloc_sentinel(rows * ld);
    for (int c = 0; c < 11; c++) {
        fill_normal(&g, z, rows * ld, 3.0);
        random_probs(&g, p, rows, cols, ld);
        float *z1 = z + ld, *p1 = p + ld; /* row 0 stays plain */
        for (size_t i = 0; i < cols; i++) {
            if (c == 0) /* the max grows in every block */
                z1[i] = 0.01f * (float)i;
            else if (c == 1) /* ... and falls */
                z1[i] = -0.01f * (float)i;
            else if (c == 2) /* a jump: the first blocks' scale exp(-200) */
                z1[i] = i < 2048 ? -100.0f + z1[i] : 100.0f + z1[i];
            else if ((c == 3 || c == 4) && i < 2 * 2048) {
                z1[i] = -INFINITY; /* masked blocks before any finite max */
                if (c == 3)
                    p1[i] = 0.0f; /* a 0 term: finite loss */
            } else if (c == 5 && i >= 2048 && i < 2 * 2048) {
                z1[i] = -INFINITY; /* a masked block between finite ones */
                p1[i] = 0.0f;
            } else if (c == 9) /* a fully masked row */
                z1[i] = -INFINITY;
        }
        const size_t late = cols - 5; /* in the last block */
        if (c == 6)
            z1[late] = INFINITY;
        else if (c == 7)
            z1[late] = NAN;
        else if (c == 8)
            p1[late] = NAN;
        else if (c == 10) { /* +inf mass at a dominant logit: float S = 1 */
            z1[late] = 40.0f;
            p1[late] = INFINITY;
        }
        check_soft_every_way(rows, cols, z, p, ld);
    }
    free(z);
    free(p);
}
END_TEST

/* Smoothing so small that e / n underflows in float (e = FLT_TRUE_MIN):
 * every q = (1 - e) p + e / n is still positive, so a -inf logit where
 * p = 0 makes the loss +inf, and beside a negative target at another -inf
 * logit, NaN. Kernels that hold q in float would see 0 there and skip the
 * term (the fuzzer found -inf for NaN). Class targets take e in double:
 * checked beside them. Grouped, single, two-pass (loss only) and
 * block-by-block rows, out of place and in place. */
START_TEST(smoothing_below_float)
{
    tests_use_isa(_i);
    rng g = {17};
    const smx_ce_opts o = {-100, 0x1p-149f, 1.0f};
    static const size_t lengths[] = {1, 11, 40, 300, 3 * 2048 + 37};
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        const size_t cols = lengths[li], rows = 3, ld = cols;
        float *z = alloc_sentinel(rows * ld), *p = alloc_sentinel(rows * ld);
        for (int neg = 0; neg < 2; neg++) {
            fill_normal(&g, z, rows * ld, 3.0);
            random_probs(&g, p, rows, cols, ld);
            z[ld] = -INFINITY; /* q = e / n > 0 there: +inf */
            p[ld] = 0.0f;
            if (neg && cols > 1) { /* -inf beside it: NaN */
                z[ld + cols - 1] = -INFINITY;
                p[ld + cols - 1] = -0.5f;
            }
            for (int in_place = 0; in_place <= 2; in_place++)
                for (int outputs = 1; outputs <= 3; outputs += 2)
                    check_soft(rows, cols, z, p, ld, &o, outputs, in_place);
            const int32_t t[3] = {0, (int32_t)(cols - 1), 0};
            check_class(rows, cols, z, ld, t, &o, 3, 0);
        }
        free(z);
        free(p);
    }
}
END_TEST

/* The smallest grad_scale with smoothing close to 1 and targets far from
 * probabilities: c q is a normal float where c keep and c e / n are not,
 * so the scale must not be folded into the smoothing's constants (the
 * fuzzer found a gradient off by 2^-85 that way). Every path: lone and
 * grouped rows, rows in registers, block by block. */
START_TEST(soft_scale_below_float)
{
    tests_use_isa(_i);
    rng g = {23};
    const smx_ce_opts o = {-100, 0x1.ffffdep-1f, 0x1p-149f};
    static const size_t lengths[] = {1, 11, 17, 40, 128, 300, 3 * 2048 + 37};
    static const size_t row_counts[] = {1, 2, 9};
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++)
        for (size_t ri = 0; ri < sizeof row_counts / sizeof row_counts[0]; ri++) {
            const size_t cols = lengths[li], rows = row_counts[ri], ld = cols;
            float *z = alloc_sentinel(rows * ld), *p = alloc_sentinel(rows * ld);
            fill_normal(&g, z, rows * ld, 0.01);
            fill_normal(&g, p, rows * ld, 0.01);
            for (size_t r = 0; r < rows; r++)
                p[r * ld + (r * 7) % cols] = -0x1.801p+84f;
            check_soft_every_way(rows, cols, z, p, ld);
            for (int in_place = 0; in_place <= 2; in_place++)
                check_soft(rows, cols, z, p, ld, &o, 3, in_place);
            int32_t t[9];
            live_targets(&g, t, rows, cols, o.ignore_index);
            check_class_every_way(rows, cols, z, ld, t, &o);
            free(z);
            free(p);
        }
}
END_TEST

/* A -inf logit where the target mass is 0 gives a finite loss (no 0*inf),
 * and the gradient without smoothing is softmax - onehot. */
START_TEST(zero_mass_terms_and_consistency)
{
    tests_use_isa(_i);
    float z[4] = {-INFINITY, 1.0f, 2.0f, 0.5f}, p[4] = {0.0f, 0.25f, 0.75f, 0};
    float loss = 0, grad[4];
    ck_assert_int_eq(
        smx_cross_entropy_soft_f32(1, 4, z, 4, p, 4, NULL, &loss, grad, 4),
        SMX_OK);
    ck_assert_msg(isfinite(loss) && loss > 0, "loss %g", (double)loss);
    ck_assert(grad[0] == 0.0f);

    /* Class targets == one-hot soft targets; grad == softmax - onehot. */
    rng g = {14};
    for (size_t n = 1; n <= 130; n += 9) {
        float *zz = alloc_sentinel(n), *oh = alloc_sentinel(n),
              *g1 = alloc_sentinel(n), *g2 = alloc_sentinel(n),
              *sm = alloc_sentinel(n);
        fill_normal(&g, zz, n, 3.0);
        const int32_t t = (int32_t)(rng_next(&g) % n);
        for (size_t i = 0; i < n; i++)
            oh[i] = (size_t)t == i ? 1.0f : 0.0f;
        float l1, l2;
        ck_assert_int_eq(smx_cross_entropy_f32(1, n, zz, n, &t, NULL, &l1, g1, n),
                         SMX_OK);
        ck_assert_int_eq(
            smx_cross_entropy_soft_f32(1, n, zz, n, oh, n, NULL, &l2, g2, n),
            SMX_OK);
        ck_assert_int_eq(smx_softmax_f32(1, n, zz, n, sm, n), SMX_OK);
        ck_assert_msg(fabsf(l1 - l2) <= 0x1p-19f * (1.0f + fabsf(l1)),
                      "class loss %a vs one-hot soft loss %a", (double)l1,
                      (double)l2);
        for (size_t i = 0; i < n; i++) {
            const float want = sm[i] - oh[i];
            ck_assert_msg(fabsf(g1[i] - want) <= 0x1p-19f,
                          "grad %a vs softmax - onehot %a", (double)g1[i],
                          (double)want);
            ck_assert_msg(fabsf(g1[i] - g2[i]) <= 0x1p-19f,
                          "class grad %a vs soft grad %a", (double)g1[i],
                          (double)g2[i]);
        }
        free(zz);
        free(oh);
        free(g1);
        free(g2);
        free(sm);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cross_entropy");
    TCase *tc = tcase_create("cross_entropy");
    tcase_set_timeout(tc, 600);
    ADD_ISA_TEST(tc, class_targets);
    ADD_ISA_TEST(tc, soft_targets);
    ADD_ISA_TEST(tc, long_rows);
    ADD_ISA_TEST(tc, special_rows);
    ADD_ISA_TEST(tc, soft_long_rows_by_block);
    ADD_ISA_TEST(tc, soft_scale_below_float);
    ADD_ISA_TEST(tc, smoothing_below_float);
    ADD_ISA_TEST(tc, zero_mass_terms_and_consistency);
    suite_add_tcase(s, tc);
    return tests_run(s);
}
