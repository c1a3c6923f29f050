/* SPDX-License-Identifier: MIT */
/*
 * The inline exp of the SIMD kernels (src/simd/exp.h), measured in ulp
 * against exp in double over EVERY float in [-87.33, 0] (normal results),
 * plus its cut-offs and special values, for each ISA this CPU runs.
 * SMX_EXP_STRIDE=k tests every k-th float instead (for slow emulators).
 * Also their inline double log (src/simd/log.h), against libm's.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "exp_probe.h"

#define MAX_ULP 1.1 /* the bound documented in src/simd/exp.h */
#define LOG_MAX_REL 0x1p-38 /* the bound documented in src/simd/log.h */
#define CHUNK 4096

typedef struct probe {
    smx_isa isa;
    exp_probe_fn fn;
    log_probe_fn log;
    vlog_probe_fn vlog; /* NULL where the ISA has no vector log */
} probe;

static const probe probes[] = {
#if SMX_HAVE_AVX2
    {SMX_ISA_AVX2, exp_probe_avx2, log_probe_avx2, vlog_probe_avx2},
#endif
#if SMX_HAVE_AVX512
    {SMX_ISA_AVX512, exp_probe_avx512, log_probe_avx512, vlog_probe_avx512},
#endif
#if SMX_HAVE_NEON
    {SMX_ISA_NEON, exp_probe_neon, log_probe_neon, NULL},
#endif
    {SMX_ISA_AUTO, NULL, NULL, NULL},
};

static float from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

/* Error of y in units in the last place of the float nearest exp(x). */
static double ulp_error(float y, double ref)
{
    int e;
    frexp(ref, &e);
    return fabs((double)y - ref) / ldexp(1.0, e - 24);
}

/* Sweeps the bit patterns from `lo` down through `hi` (negative floats:
 * larger bit pattern, more negative) and returns the worst ulp error. */
static double sweep(exp_probe_fn fn, uint32_t from, uint32_t to, int any,
                    uint32_t stride, float *worst_x)
{
    static float x[CHUNK], y[CHUNK];
    double worst = 0.0;
    uint64_t b = from;
    while (b <= to) {
        size_t n = 0;
        for (; n < CHUNK && b <= to; n++, b += stride)
            x[n] = from_bits((uint32_t)b);
        for (size_t k = n; k < CHUNK; k++)
            x[k] = -1.0f; /* pad the last chunk */
        fn(x, y, CHUNK, any);
        for (size_t k = 0; k < n; k++) {
            const double err = ulp_error(y[k], exp((double)x[k]));
            if (!(err <= worst)) { /* also catches NaN */
                worst = err;
                *worst_x = x[k];
            }
        }
    }
    return worst;
}

static uint32_t stride_from_env(void)
{
    const char *s = getenv("SMX_EXP_STRIDE");
    const long v = s ? strtol(s, NULL, 10) : 1;
    return v > 0 ? (uint32_t)v : 1;
}

START_TEST(exp_ulp_all_floats)
{
    const probe *pr = &probes[_i];
    if (!smx_isa_supported(pr->isa))
        return;
    const uint32_t stride = stride_from_env();
    const uint32_t neg_zero = 0x80000000u;
    uint32_t lo_bits; /* -87.33 (exp = FLT_MIN) as bits */
    const float lo = -87.3365f;
    memcpy(&lo_bits, &lo, sizeof lo_bits);
    float wx = 0.0f;
    const double worst = sweep(pr->fn, neg_zero, lo_bits, 0, stride, &wx);
    printf("exp_nonpos [%s]: max %.3f ulp over [-87.3365, 0] (stride %u), at %a\n",
           smx_isa_name(pr->isa), worst, stride, (double)wx);
    ck_assert_msg(worst <= MAX_ULP, "exp_nonpos [%s]: %.3f ulp at %a",
                  smx_isa_name(pr->isa), worst, (double)wx);

    /* exp_any on positive arguments up to ln(FLT_MAX), strided. */
    uint32_t hi_bits;
    const float hi = 88.72f;
    memcpy(&hi_bits, &hi, sizeof hi_bits);
    const double worst_pos = sweep(pr->fn, 0u, hi_bits, 1, stride * 7, &wx);
    printf("exp_any    [%s]: max %.3f ulp over [0, 88.72] (stride %u)\n",
           smx_isa_name(pr->isa), worst_pos, stride * 7);
    ck_assert_msg(worst_pos <= MAX_ULP, "exp_any [%s]: %.3f ulp at %a",
                  smx_isa_name(pr->isa), worst_pos, (double)wx);
}
END_TEST

/* Every float (every SMX_EXP_STRIDE-th) from just below ln(FLT_MIN) down
 * to -120, where exp(x) < FLT_MIN: each ISA flushes to +0 or gives a
 * subnormal by its own method (src/simd/exp.h), never a negative value or
 * one above FLT_MIN, and +0 once exp(x) is below half the smallest
 * subnormal (x <= -104). Failures are counted and checked once: each
 * ck_assert costs Check a system call, 17 million of them 35 s. */
START_TEST(exp_below_flt_min)
{
    const probe *pr = &probes[_i];
    if (!smx_isa_supported(pr->isa))
        return;
    static float x[CHUNK], y[CHUNK];
    uint32_t from, to;
    const float lo = -87.3366f, end = -120.0f;
    const uint32_t stride = stride_from_env();
    size_t bad = 0;
    float bad_x = 0.0f, bad_y = 0.0f;
    memcpy(&from, &lo, sizeof from);
    memcpy(&to, &end, sizeof to);
    for (int any = 0; any < 2; any++) {
        for (uint64_t b = from; b <= to;) {
            size_t n = 0;
            for (; n < CHUNK && b <= to; n++, b += stride)
                x[n] = from_bits((uint32_t)b);
            for (size_t k = n; k < CHUNK; k++)
                x[k] = -INFINITY;
            pr->fn(x, y, CHUNK, any);
            for (size_t k = 0; k < CHUNK; k++)
                if (!(y[k] >= 0.0f && y[k] <= FLT_MIN) || (x[k] <= -104.0f && y[k] != 0.0f))
                    bad++, bad_x = x[k], bad_y = y[k];
        }
    }
    ck_assert_msg(bad == 0, "exp [%s]: %zu wrong, as exp(%a) = %a", smx_isa_name(pr->isa),
                  bad, (double)bad_x, (double)bad_y);
}
END_TEST

START_TEST(exp_special_values)
{
    const probe *pr = &probes[_i];
    if (!smx_isa_supported(pr->isa))
        return;
    float x[64], y[64];
    static const float specials[] = {-INFINITY, -1000.0f, -104.0f, -87.34f,
                                     -0.0f, 0.0f, NAN, 88.8f, INFINITY, 1e30f};
    for (int any = 0; any < 2; any++) {
        for (size_t i = 0; i < 64; i++)
            x[i] = specials[i % (any ? 10 : 6)];
        x[63] = NAN;
        pr->fn(x, y, 64, any);
        for (size_t i = 0; i < 64; i++) {
            const double ref = exp((double)x[i]);
            if (isnan(x[i]))
                ck_assert(isnan(y[i]));
            else if (ref < FLT_MIN) /* flushed or subnormal, never above */
                ck_assert_msg(y[i] >= 0.0f && y[i] <= FLT_MIN, "exp(%g) = %a",
                              (double)x[i], (double)y[i]);
            else if (ref > FLT_MAX)
                ck_assert(y[i] == INFINITY);
            else
                ck_assert(ulp_error(y[i], ref) <= MAX_ULP);
        }
        ck_assert(y[0] == 0.0f); /* exp(-inf) is exactly 0: masks */
    }
}
END_TEST

static double from_bits64(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

/* Relative error of log_inline(x) against libm; 0 where both are 0. */
static double log_rel_error(log_probe_fn fn, double x)
{
    const double ref = log(x), got = fn(x);
    return ref == 0.0 ? fabs(got) : fabs(got - ref) / fabs(ref);
}

/* Every binade of the normal doubles: random mantissas (fixed seed), the
 * edges of every table step (src/simd/log.h: 128 steps of the bits above
 * 0.6875, where the reduction also changes k) and one ulp either side, and
 * the largest mantissa. Then x = 1 +- 2^-j, and the row sums it serves. */
static void log_track(log_probe_fn fn, double x, double *worst, double *at)
{
    const double err = log_rel_error(fn, x);
    if (!(err <= *worst)) {
        *worst = err;
        *at = x;
    }
}

START_TEST(log_rel_all_binades)
{
    const probe *pr = &probes[_i];
    if (!smx_isa_supported(pr->isa))
        return;
    const unsigned per_binade = 1u << 12;
    const uint64_t mant_mask = (1ull << 52) - 1, off = 0x6000000000000u;
    uint64_t rng = 0x9e3779b97f4a7c15u;
    double worst = 0.0, at = 0.0;
    for (uint64_t e = 1; e <= 2046; e++) {
        for (unsigned i = 0; i < per_binade; i++) {
            rng = rng * 6364136223846793005u + 1442695040888963407u;
            log_track(pr->log, from_bits64(e << 52 | rng >> 12), &worst, &at);
        }
        for (uint64_t step = 0; step < 128; step++) {
            const uint64_t edge = (step << 45) + off;
            for (int d = -1; d <= 1; d++)
                log_track(pr->log, from_bits64(e << 52 | ((edge + (uint64_t)d) & mant_mask)),
                          &worst, &at);
        }
        log_track(pr->log, from_bits64(e << 52 | mant_mask), &worst, &at);
    }
    for (int j = 1; j <= 53; j++) {
        log_track(pr->log, 1.0 + ldexp(1.0, -j), &worst, &at);
        log_track(pr->log, 1.0 - ldexp(1.0, -j), &worst, &at);
    }
    printf("log_inline [%s]: max relative error %.3g (2^%.1f) at %a\n",
           smx_isa_name(pr->isa), worst, log2(worst), at);
    ck_assert_msg(worst <= LOG_MAX_REL, "log_inline [%s]: %g at %a",
                  smx_isa_name(pr->isa), worst, at);
    /* the row sums S in [1, 2^31] it serves: near 1, log S is tiny and
     * only a relative bound keeps it */
    for (double x = 1.0; x < 0x1p31; x = x * 1.0001 + 0x1p-40)
        ck_assert_msg(log_rel_error(pr->log, x) <= LOG_MAX_REL, "at %a", x);
}
END_TEST

/* Outside the positive normals it is libm's log, bit for bit. */
START_TEST(log_special_values)
{
    const probe *pr = &probes[_i];
    if (!smx_isa_supported(pr->isa))
        return;
    static const double specials[] = {0.0, -0.0, 0x1p-1074, 0x1.8p-1060,
                                      -1.0, INFINITY, -INFINITY, NAN};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
        const double ref = log(specials[i]), got = pr->log(specials[i]);
        ck_assert_msg(isnan(ref) ? isnan(got) : got == ref, "log(%a) = %a",
                      specials[i], got);
    }
    ck_assert(pr->log(1.0) == 0.0);
}
END_TEST

/* The vector log of paired rows (src/simd/log.h: vlog_pos), over every
 * float in [1, 16), where the row sums it serves lie ([1, VLEN / 2]):
 * within 2^-22 of log(x) (a result in [2, 4) has an ulp of 2^-22; the
 * log-domain bar is 2^-20 or more). */
#define VLOG_MAX_ABS 0x1p-22
START_TEST(vlog_abs_one_to_sixteen)
{
    const probe *pr = &probes[_i];
    if (!smx_isa_supported(pr->isa) || !pr->vlog)
        return;
    static float x[CHUNK], y[CHUNK];
    double worst = 0.0;
    float at = 0.0f;
    for (uint32_t b = 0x3f800000u; b < 0x41800000u; b += CHUNK) {
        for (uint32_t i = 0; i < CHUNK; i++)
            x[i] = from_bits(b + i);
        pr->vlog(x, y, CHUNK);
        for (uint32_t i = 0; i < CHUNK; i++) {
            const double err = fabs((double)y[i] - log((double)x[i]));
            if (!(err <= worst)) {
                worst = err;
                at = x[i];
            }
        }
    }
    printf("vlog_pos   [%s]: max abs error %.3g (2^%.1f) at %a\n",
           smx_isa_name(pr->isa), worst, log2(worst), (double)at);
    ck_assert_msg(worst <= VLOG_MAX_ABS, "vlog_pos [%s]: %g at %a",
                  smx_isa_name(pr->isa), worst, (double)at);
    for (size_t i = 0; i < 16; i++) /* a multiple of every VLEN */
        x[i] = 1.0f;
    pr->vlog(x, y, 16);
    for (size_t i = 0; i < 16; i++) /* a row of one element: S = 1 */
        ck_assert(y[i] == 0.0f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("exp");
    TCase *tc = tcase_create("exp");
    tcase_set_timeout(tc, 600);
    const int n = (int)(sizeof probes / sizeof probes[0]) - 1;
    tcase_add_loop_test(tc, exp_ulp_all_floats, 0, n);
    tcase_add_loop_test(tc, exp_below_flt_min, 0, n);
    tcase_add_loop_test(tc, exp_special_values, 0, n);
    tcase_add_loop_test(tc, log_rel_all_binades, 0, n);
    tcase_add_loop_test(tc, log_special_values, 0, n);
    tcase_add_loop_test(tc, vlog_abs_one_to_sixteen, 0, n);
    suite_add_tcase(s, tc);
    return tests_run(s);
}
