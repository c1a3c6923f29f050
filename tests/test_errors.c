/* SPDX-License-Identifier: MIT */
/*
 * Every error status of every entry point, each time checking that nothing
 * was written; no-op calls; exact aliasing versus partial overlap.
 * Validation happens before dispatch, so these run once, on the default ISA.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

#define R 3
#define C 8
#define LD 8
#define N (R * LD + 16) /* room for shifted views */
#define HALF ((size_t)1 << (sizeof(size_t) * 4)) /* HALF * HALF wraps to 0 */

static float in_a[N], in_b[N], out[N], out2[N];
static int32_t targets[R];

static void reset(void)
{
    for (size_t i = 0; i < N; i++) {
        in_a[i] = (float)i * 0.25f - 3.0f;
        in_b[i] = 1.0f / (float)(i + 1);
        out[i] = out2[i] = sentinel();
    }
    for (size_t r = 0; r < R; r++)
        targets[r] = (int32_t)r;
}

static void expect_untouched(const float *buf, const char *what)
{
    for (size_t i = 0; i < N; i++)
        ck_assert_msg(is_sentinel(buf[i]), "%s: element %zu was written", what,
                      i);
}

/* The status and that neither output buffer changed. */
#define EXPECT_ERR(call, status)                                              \
    do {                                                                      \
        reset();                                                              \
        ck_assert_int_eq((call), (status));                                   \
        expect_untouched(out, #call);                                         \
        expect_untouched(out2, #call);                                        \
    } while (0)

/* Softmax and log-softmax share every rule. */
typedef smx_status (*rowwise_fn)(size_t, size_t, const float *, size_t,
                                 float *, size_t);

START_TEST(rowwise_errors)
{
    static const rowwise_fn fns[] = {smx_softmax_f32, smx_log_softmax_f32};
    for (size_t k = 0; k < 2; k++) {
        const rowwise_fn f = fns[k];
        EXPECT_ERR(f(R, C, NULL, LD, out, LD), SMX_E_NULL);
        EXPECT_ERR(f(R, C, in_a, LD, NULL, LD), SMX_E_NULL);
        EXPECT_ERR(f(R, C, in_a, C - 1, out, LD), SMX_E_STRIDE);
        EXPECT_ERR(f(R, C, in_a, LD, out, C - 1), SMX_E_STRIDE);
        EXPECT_ERR(f(1, C, in_a, 0, out, LD), SMX_E_STRIDE);
        /* Extents that do not fit the address space. */
        EXPECT_ERR(f(SIZE_MAX / 8, C, in_a, LD, out, LD), SMX_E_ARG);
        EXPECT_ERR(f(2, SIZE_MAX / 2, in_a, SIZE_MAX / 2, out, SIZE_MAX / 2),
                   SMX_E_ARG);
        EXPECT_ERR(f(1, 4, (const float *)(UINTPTR_MAX - 7), 4, out, 4),
                   SMX_E_ARG);
        EXPECT_ERR(f(1, 4, in_a, 4, (float *)(UINTPTR_MAX - 7), 4), SMX_E_ARG);
        /* (rows - 1) * ld is exactly 2^(bits of size_t): wraps to 0. */
        EXPECT_ERR(f(HALF + 1, C, in_a, HALF, out, HALF), SMX_E_ARG);
        /* Partial overlaps: shifted, or same start with another stride. */
        reset();
        memcpy(out, in_a, sizeof out);
        const float before = out[0];
        ck_assert_int_eq(f(R, C, out + 1, LD, out, LD), SMX_E_OVERLAP);
        ck_assert_int_eq(f(R, C, out, LD, out + 1, LD), SMX_E_OVERLAP);
        ck_assert_int_eq(f(R, C, out, LD, out, LD + 1), SMX_E_OVERLAP);
        ck_assert_int_eq(f(R, C, out, LD, out + LD, LD), SMX_E_OVERLAP);
        ck_assert(memcmp(out, in_a, sizeof out) == 0 && out[0] == before);
        /* Exact aliasing is in place; rows == 1 ignores the stride. */
        ck_assert_int_eq(f(R, C, out, LD, out, LD), SMX_OK);
        ck_assert_int_eq(f(1, C, out, LD, out, C), SMX_OK);
        /* Interleaved column views of one padded buffer do not overlap. */
        reset();
        ck_assert_int_eq(f(R, C / 2, out, LD, out + C / 2, LD), SMX_OK);
        /* No-ops: nothing read or written, NULL allowed. */
        EXPECT_ERR(f(0, C, NULL, 0, NULL, 0), SMX_OK);
        EXPECT_ERR(f(R, 0, NULL, 0, NULL, 0), SMX_OK);
    }
}
END_TEST

/* Interleaved views compute the same as separate buffers. */
START_TEST(interleaved_views_compute)
{
    float buf[R * LD], ref[R * 4];
    rng g = {1};
    fill_normal(&g, buf, R * LD, 3.0);
    ck_assert_int_eq(smx_softmax_f32(R, 4, buf, LD, ref, 4), SMX_OK);
    ck_assert_int_eq(smx_softmax_f32(R, 4, buf, LD, buf + 4, LD), SMX_OK);
    for (size_t r = 0; r < R; r++)
        for (size_t c = 0; c < 4; c++)
            ck_assert(buf[r * LD + 4 + c] == ref[r * 4 + c]);
}
END_TEST

START_TEST(logsumexp_errors)
{
    EXPECT_ERR(smx_logsumexp_f32(R, C, NULL, LD, out), SMX_E_NULL);
    EXPECT_ERR(smx_logsumexp_f32(R, C, in_a, LD, NULL), SMX_E_NULL);
    EXPECT_ERR(smx_logsumexp_f32(R, C, in_a, C - 1, out), SMX_E_STRIDE);
    EXPECT_ERR(smx_logsumexp_f32(SIZE_MAX / 8, C, in_a, LD, out), SMX_E_ARG);
    reset();
    memcpy(out, in_a, sizeof out);
    ck_assert_int_eq(smx_logsumexp_f32(R, C, out, LD, out + 2), SMX_E_OVERLAP);
    ck_assert(memcmp(out, in_a, sizeof out) == 0);
    /* cols == 0: -inf for each row, and lse is needed. */
    EXPECT_ERR(smx_logsumexp_f32(R, 0, NULL, 0, NULL), SMX_E_NULL);
    EXPECT_ERR(smx_logsumexp_f32(SIZE_MAX / 2, 0, NULL, 0, out), SMX_E_ARG);
    EXPECT_ERR(smx_logsumexp_f32(HALF + 1, C, in_a, HALF, out), SMX_E_ARG);
    /* lse is a vector: even exactly over x it is an overlap. */
    reset();
    memcpy(out, in_a, sizeof out);
    ck_assert_int_eq(smx_logsumexp_f32(1, C, out, C, out), SMX_E_OVERLAP);
    ck_assert(memcmp(out, in_a, sizeof out) == 0);
    reset();
    ck_assert_int_eq(smx_logsumexp_f32(R, 0, NULL, 0, out), SMX_OK);
    for (size_t r = 0; r < R; r++)
        ck_assert(out[r] == -INFINITY);
    ck_assert(is_sentinel(out[R]));
    EXPECT_ERR(smx_logsumexp_f32(0, C, NULL, 0, NULL), SMX_OK);
}
END_TEST

typedef smx_status (*backward_fn)(size_t, size_t, const float *, size_t,
                                  const float *, size_t, float *, size_t);

START_TEST(backward_errors)
{
    static const backward_fn fns[] = {smx_softmax_jvp_f32, smx_softmax_vjp_f32,
                                      smx_log_softmax_jvp_f32,
                                      smx_log_softmax_vjp_f32};
    for (size_t k = 0; k < 4; k++) {
        const backward_fn f = fns[k];
        EXPECT_ERR(f(R, C, NULL, LD, in_b, LD, out, LD), SMX_E_NULL);
        EXPECT_ERR(f(R, C, in_a, LD, NULL, LD, out, LD), SMX_E_NULL);
        EXPECT_ERR(f(R, C, in_a, LD, in_b, LD, NULL, LD), SMX_E_NULL);
        EXPECT_ERR(f(R, C, in_a, C - 1, in_b, LD, out, LD), SMX_E_STRIDE);
        EXPECT_ERR(f(R, C, in_a, LD, in_b, C - 1, out, LD), SMX_E_STRIDE);
        EXPECT_ERR(f(R, C, in_a, LD, in_b, LD, out, C - 1), SMX_E_STRIDE);
        EXPECT_ERR(f(SIZE_MAX / 8, C, in_a, LD, in_b, LD, out, LD), SMX_E_ARG);
        EXPECT_ERR(f(HALF + 1, C, in_a, HALF, in_b, HALF, out, HALF), SMX_E_ARG);
        reset();
        memcpy(out, in_a, sizeof out);
        memcpy(out2, in_b, sizeof out2);
        ck_assert_int_eq(f(R, C, out, LD, out2, LD, out + 3, LD),
                         SMX_E_OVERLAP);
        ck_assert_int_eq(f(R, C, out, LD, out2, LD, out2 + 1, LD),
                         SMX_E_OVERLAP);
        ck_assert(memcmp(out, in_a, sizeof out) == 0);
        ck_assert(memcmp(out2, in_b, sizeof out2) == 0);
        /* In place over either input; two inputs may overlap freely. */
        ck_assert_int_eq(f(R, C, out, LD, out2, LD, out, LD), SMX_OK);
        ck_assert_int_eq(f(R, C, out, LD, out2, LD, out2, LD), SMX_OK);
        reset();
        ck_assert_int_eq(f(R, C, in_a, LD, in_a + 1, LD, out, LD), SMX_OK);
        EXPECT_ERR(f(0, C, NULL, 0, NULL, 0, NULL, 0), SMX_OK);
        EXPECT_ERR(f(R, 0, NULL, 0, NULL, 0, NULL, 0), SMX_OK);
    }
}
END_TEST

START_TEST(cross_entropy_errors)
{
    smx_ce_opts o = SMX_CE_OPTS_DEFAULT;
    EXPECT_ERR(smx_cross_entropy_f32(R, C, NULL, LD, targets, NULL, out, out2, LD), SMX_E_NULL);
    EXPECT_ERR(smx_cross_entropy_f32(R, C, in_a, LD, NULL, NULL, out, out2, LD), SMX_E_NULL);
    EXPECT_ERR(smx_cross_entropy_f32(R, C, in_a, LD, targets, NULL, NULL, NULL, LD), SMX_E_NULL);
    EXPECT_ERR(smx_cross_entropy_f32(R, C, in_a, C - 1, targets, NULL, out, out2, LD), SMX_E_STRIDE);
    EXPECT_ERR(smx_cross_entropy_f32(R, C, in_a, LD, targets, NULL, out, out2, C - 1), SMX_E_STRIDE);
    EXPECT_ERR(smx_cross_entropy_f32(SIZE_MAX / 8, C, in_a, LD, targets, NULL, out, out2, LD), SMX_E_ARG);
    /* ldg is ignored without grad. */
    reset();
    ck_assert_int_eq(smx_cross_entropy_f32(R, C, in_a, LD, targets, NULL, out, NULL, 0), SMX_OK);
    ck_assert(isfinite(out[0]) && is_sentinel(out[R]));

    /* Targets: checked for every row before anything is written. */
    static const int32_t bad[] = {-1, C, INT32_MAX, INT32_MIN, -99};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        reset();
        targets[R - 1] = bad[k];
        ck_assert_int_eq(smx_cross_entropy_f32(R, C, in_a, LD, targets, NULL, out, out2, LD), SMX_E_TARGET);
        expect_untouched(out, "loss after a bad target");
        expect_untouched(out2, "grad after a bad target");
    }
    reset();
    targets[1] = -100; /* the default ignore_index: valid */
    ck_assert_int_eq(smx_cross_entropy_f32(R, C, in_a, LD, targets, NULL, out, out2, LD), SMX_OK);
    ck_assert(out[1] == 0.0f && out2[LD] == 0.0f);

    /* A custom ignore_index: -100 is then an out-of-range target. */
    reset();
    o.ignore_index = 5;
    targets[0] = 5;
    targets[1] = -100;
    ck_assert_int_eq(smx_cross_entropy_f32(R, C, in_a, LD, targets, &o, out, out2, LD), SMX_E_TARGET);
    expect_untouched(out, "loss after -100 with ignore_index 5");
    expect_untouched(out2, "grad after -100 with ignore_index 5");
    targets[1] = 1;
    ck_assert_int_eq(smx_cross_entropy_f32(R, C, in_a, LD, targets, &o, out, out2, LD), SMX_OK);
    ck_assert(out[0] == 0.0f && out2[0] == 0.0f && isfinite(out[1]));

    /* Options: the boundaries are valid. */
    static const float ok_smoothing[] = {0.0f, -0.0f, 1.0f};
    static const float ok_scale[] = {0.0f, -FLT_MAX, FLT_MAX};
    for (size_t k = 0; k < 3; k++) {
        reset();
        o = (smx_ce_opts)SMX_CE_OPTS_DEFAULT;
        o.label_smoothing = ok_smoothing[k];
        o.grad_scale = ok_scale[k];
        ck_assert_int_eq(smx_cross_entropy_f32(R, C, in_a, LD, targets, &o, out, out2, LD), SMX_OK);
        ck_assert_int_eq(smx_cross_entropy_soft_f32(R, C, in_a, LD, in_b, LD, &o, out, out2, LD), SMX_OK);
    }
    static const float bad_smoothing[] = {-0.01f, 1.01f, NAN, INFINITY};
    for (size_t k = 0; k < 4; k++) {
        o = (smx_ce_opts)SMX_CE_OPTS_DEFAULT;
        o.label_smoothing = bad_smoothing[k];
        EXPECT_ERR(smx_cross_entropy_f32(R, C, in_a, LD, targets, &o, out, out2, LD), SMX_E_ARG);
        EXPECT_ERR(smx_cross_entropy_soft_f32(R, C, in_a, LD, in_b, LD, &o, out, out2, LD), SMX_E_ARG);
    }
    static const float bad_scale[] = {NAN, INFINITY, -INFINITY};
    for (size_t k = 0; k < 3; k++) {
        o = (smx_ce_opts)SMX_CE_OPTS_DEFAULT;
        o.grad_scale = bad_scale[k];
        EXPECT_ERR(smx_cross_entropy_f32(R, C, in_a, LD, targets, &o, out, out2, LD), SMX_E_ARG);
        EXPECT_ERR(smx_cross_entropy_soft_f32(R, C, in_a, LD, in_b, LD, &o, out, out2, LD), SMX_E_ARG);
    }

    /* Overlaps: loss with grad, loss with logits, grad with targets. */
    EXPECT_ERR(smx_cross_entropy_f32(R, C, in_a, LD, targets, NULL, out + 4, out, LD), SMX_E_OVERLAP);
    EXPECT_ERR(smx_cross_entropy_f32(R, C, in_a, LD, targets, NULL, out, out, LD), SMX_E_OVERLAP);
    reset();
    memcpy(out2, in_a, sizeof out2);
    ck_assert_int_eq(smx_cross_entropy_f32(R, C, out2, LD, targets, NULL, out2 + 1, NULL, LD), SMX_E_OVERLAP);
    ck_assert_int_eq(smx_cross_entropy_f32(R, C, out2, LD, targets, NULL, NULL, out2 + 2, LD), SMX_E_OVERLAP);
    ck_assert(memcmp(out2, in_a, sizeof out2) == 0);
    expect_untouched(out, "loss");
    reset();
    ck_assert_int_eq(smx_cross_entropy_f32(R, C, in_a, LD, (const int32_t *)out, NULL, NULL, out, LD), SMX_E_OVERLAP);
    expect_untouched(out, "grad over targets");
    ck_assert_int_eq(smx_cross_entropy_f32(R, C, in_a, LD, (const int32_t *)out, NULL, out, NULL, LD), SMX_E_OVERLAP);
    expect_untouched(out, "loss over targets");
    /* The gradient over the logits: exact aliasing. */
    reset();
    memcpy(out2, in_a, sizeof out2);
    ck_assert_int_eq(smx_cross_entropy_f32(R, C, out2, LD, targets, NULL, out, out2, LD), SMX_OK);

    /* No-ops. */
    EXPECT_ERR(smx_cross_entropy_f32(0, C, NULL, 0, NULL, NULL, NULL, NULL, 0), SMX_OK);
    EXPECT_ERR(smx_cross_entropy_f32(R, 0, NULL, 0, NULL, NULL, NULL, NULL, 0), SMX_OK);
}
END_TEST

START_TEST(cross_entropy_soft_errors)
{
    EXPECT_ERR(smx_cross_entropy_soft_f32(R, C, NULL, LD, in_b, LD, NULL, out, out2, LD), SMX_E_NULL);
    EXPECT_ERR(smx_cross_entropy_soft_f32(R, C, in_a, LD, NULL, LD, NULL, out, out2, LD), SMX_E_NULL);
    EXPECT_ERR(smx_cross_entropy_soft_f32(R, C, in_a, LD, in_b, LD, NULL, NULL, NULL, LD), SMX_E_NULL);
    EXPECT_ERR(smx_cross_entropy_soft_f32(R, C, in_a, LD, in_b, C - 1, NULL, out, out2, LD), SMX_E_STRIDE);
    EXPECT_ERR(smx_cross_entropy_soft_f32(R, C, in_a, C - 1, in_b, LD, NULL, out, out2, LD), SMX_E_STRIDE);
    EXPECT_ERR(smx_cross_entropy_soft_f32(R, C, in_a, LD, in_b, LD, NULL, out, out2, 1), SMX_E_STRIDE);
    EXPECT_ERR(smx_cross_entropy_soft_f32(SIZE_MAX / 8, C, in_a, LD, in_b, LD, NULL, out, out2, LD), SMX_E_ARG);
    EXPECT_ERR(smx_cross_entropy_soft_f32(R, C, in_a, LD, in_b, LD, NULL, out2 + 3, out2, LD), SMX_E_OVERLAP);
    reset();
    memcpy(out2, in_b, sizeof out2);
    ck_assert_int_eq(smx_cross_entropy_soft_f32(R, C, in_a, LD, out2, LD, NULL, NULL, out2 + 1, LD), SMX_E_OVERLAP);
    ck_assert(memcmp(out2, in_b, sizeof out2) == 0);
    ck_assert_int_eq(smx_cross_entropy_soft_f32(R, C, in_a, LD, out2, LD, NULL, out2 + 2, NULL, LD), SMX_E_OVERLAP);
    ck_assert(memcmp(out2, in_b, sizeof out2) == 0);
    ck_assert_int_eq(smx_cross_entropy_soft_f32(R, C, in_a, LD, out2, LD, NULL, out, out2, LD), SMX_OK);
    reset();
    memcpy(out2, in_a, sizeof out2);
    ck_assert_int_eq(smx_cross_entropy_soft_f32(R, C, out2, LD, in_b, LD, NULL, out, out2, LD), SMX_OK);
    EXPECT_ERR(smx_cross_entropy_soft_f32(R, 0, NULL, 0, NULL, 0, NULL, NULL, NULL, 0), SMX_OK);
}
END_TEST

START_TEST(jacobian_errors)
{
    EXPECT_ERR(smx_softmax_jacobian_f32(C, NULL, out, C), SMX_E_NULL);
    EXPECT_ERR(smx_softmax_jacobian_f32(C, in_a, NULL, C), SMX_E_NULL);
    EXPECT_ERR(smx_softmax_jacobian_f32(C, in_a, out, C - 1), SMX_E_STRIDE);
    EXPECT_ERR(smx_softmax_jacobian_f32(SIZE_MAX / 4, in_a, out, SIZE_MAX / 4), SMX_E_ARG);
    reset();
    memcpy(out, in_a, sizeof out);
    ck_assert_int_eq(smx_softmax_jacobian_f32(4, out + 2, out, 4), SMX_E_OVERLAP);
    ck_assert_int_eq(smx_softmax_jacobian_f32(2, out, out, 2), SMX_E_OVERLAP);
    ck_assert(memcmp(out, in_a, sizeof out) == 0);
    EXPECT_ERR(smx_softmax_jacobian_f32(0, NULL, NULL, 0), SMX_OK);
}
END_TEST

START_TEST(isa_errors_and_names)
{
    const smx_isa before = smx_get_isa();
    ck_assert_int_eq(smx_set_isa((smx_isa)99), SMX_E_ISA);
    ck_assert_int_eq(smx_get_isa(), before);
    ck_assert(!smx_isa_supported((smx_isa)99));
    ck_assert(!smx_isa_supported((smx_isa)-1));
#if defined(__x86_64__) || defined(__i386__)
    ck_assert_int_eq(smx_set_isa(SMX_ISA_NEON), SMX_E_ISA);
#else
    ck_assert_int_eq(smx_set_isa(SMX_ISA_AVX2), SMX_E_ISA);
#endif
    ck_assert_int_eq(smx_get_isa(), before);
    ck_assert_int_eq(smx_set_isa((smx_isa)-1), SMX_E_ISA);
    /* Whatever this CPU or SMXKERN_ISA rules out is refused, unchanged. */
    for (int isa = SMX_ISA_SCALAR; isa <= SMX_ISA_NEON; isa++)
        if (!smx_isa_supported((smx_isa)isa)) {
            ck_assert_int_eq(smx_set_isa((smx_isa)isa), SMX_E_ISA);
            ck_assert_int_eq(smx_get_isa(), before);
        }
    ck_assert_str_eq(smx_isa_name(SMX_ISA_AUTO), "auto");
    ck_assert_str_eq(smx_isa_name(SMX_ISA_SCALAR), "scalar");
    ck_assert_str_eq(smx_isa_name(SMX_ISA_AVX2), "avx2");
    ck_assert_str_eq(smx_isa_name(SMX_ISA_AVX512), "avx512");
    ck_assert_str_eq(smx_isa_name(SMX_ISA_NEON), "neon");
    ck_assert_str_eq(smx_isa_name((smx_isa)42), "unknown");

    /* Every status has its own message. */
    for (int a = SMX_OK; a <= SMX_E_ISA; a++) {
        ck_assert_str_ne(smx_strerror((smx_status)a), "unknown status");
        for (int b = SMX_OK; b < a; b++)
            ck_assert_str_ne(smx_strerror((smx_status)a),
                             smx_strerror((smx_status)b));
    }
    ck_assert_str_eq(smx_strerror((smx_status)77), "unknown status");

    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", SMX_VERSION_MAJOR,
             SMX_VERSION_MINOR, SMX_VERSION_PATCH);
    ck_assert_str_eq(smx_version(), want);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, rowwise_errors);
    tcase_add_test(tc, interleaved_views_compute);
    tcase_add_test(tc, logsumexp_errors);
    tcase_add_test(tc, backward_errors);
    tcase_add_test(tc, cross_entropy_errors);
    tcase_add_test(tc, cross_entropy_soft_errors);
    tcase_add_test(tc, jacobian_errors);
    tcase_add_test(tc, isa_errors_and_names);
    suite_add_tcase(s, tc);
    return tests_run(s);
}
