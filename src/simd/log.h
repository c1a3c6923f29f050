/* SPDX-License-Identifier: MIT */
/*
 * log(x) in double, inline, for the once-per-row log S of log-softmax,
 * logsumexp and cross-entropy. On rows of 128 floats (AVX-512 and AVX2,
 * interleaved runs) libm's log took about 20% of the time of log-softmax
 * and logsumexp (measured by replacing it with a multiply). On a lone row
 * its latency is what counts: the table form below replaced an atanh
 * series behind a division, which made 1x64 calls 9-15% faster (fastest
 * of interleaved runs; AVX2 logsumexp 51 -> 43 ns) and 4096x128 3-5%.
 *
 * Method: x = 2^k m with m in [0.6875, 1.375) (integer arithmetic on the
 * bits). The 7 bits below m's leading one (counted from 0.6875) pick a
 * table step with centre c (log_table.h): invc = 1/c rounded to double,
 * and -log(invc). Then r = m invc - 1, |r| <= 2^-8 (2^-7 on the step
 * [1, 1 + 2^-7), whose c is 1 so that log(1 + tiny) stays relative), and
 *
 *   log(x) = k ln2 - log(invc) + log1p(r),
 *   log1p(r) = r - r^2/2 + r^3/3 - r^4/4 + r^5/5 - r^6/6 + ...,
 *
 * truncated after r^6 (the rest is below r^7/7: relative 2^-44 on c = 1's
 * steps, absolute 2^-59 on the others, where |log x| >= 2^-8). The rounding
 * of m invc costs 2^-53 absolute, nothing where invc is 1. The polynomial
 * goes in Estrin's order (a shorter dependency chain than Horner's). The
 * result feeds a float, so this is far more than enough; tests/test_exp.c
 * measures the relative error against libm (below 2^-38) over the whole
 * double range, at every step's edges.
 *
 * x that is not a positive normal finite double (0, subnormal, negative,
 * infinite, NaN; never a row sum S >= 1) goes to libm.
 */
#ifndef SMX_SIMD_LOG_H
#define SMX_SIMD_LOG_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "log_table.h"

#define LOG_OFF 0x3fe6000000000000u /* the bits of 0.6875 */

static inline double log_inline(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    /* positive normal finite: biased exponent in [1, 2046], sign clear */
    if (u - 0x0010000000000000u >= 0x7fe0000000000000u)
        return log(x);
    /* Subtracting the bits of 0.6875 borrows into the exponent field
     * exactly when x's significand is below 1.375: k is then the exponent,
     * else one more. (>> of a negative int64_t: arithmetic in GCC, Clang
     * and MSVC.) */
    const uint64_t t = u - LOG_OFF;
    const int64_t k = (int64_t)t >> 52;
    const size_t i = (size_t)(t >> (52 - LOG_TABLE_BITS)) & ((1u << LOG_TABLE_BITS) - 1);
    const uint64_t mu = u - ((uint64_t)k << 52);
    double m;
    memcpy(&m, &mu, sizeof m);
    const double r = m * log_table[i][0] - 1.0;
    const double r2 = r * r;
    /* log1p(r) - r = r^2 (q0 + q1 r + q2 r^2 + q3 r^3 + q4 r^4) */
    const double a = -0.5 + r * (1.0 / 3);
    const double b = -0.25 + r * 0.2;
    const double q = a + r2 * (b + r2 * (-1.0 / 6));
    const double base = (double)k * 0x1.62e42fefa39efp-1 + log_table[i][1]; /* ln 2 */
    return base + (r + r2 * q);
}

#if defined(VEC_MAX_PACK) && VEC_MAX_PACK
/* log(x) in float for positive normal x, a vector at a time: the log S of
 * rows packed in one vector (rows_packed_tmpl.c; S in [1, VLEN / 2]),
 * where a log_inline per row or one call of SLEEF's logf costs more than
 * the rest of the pack. x = 2^k f with f in [sqrt(1/2), sqrt(2)) (the vector
 * layer's vsplit_sqrt2), s = (f - 1) / (f + 1), |s| <= 0.1716, and
 *
 *   log(x) = k ln2 + 2 atanh(s) = k ln2 + 2s (1 + s^2/3 + s^4/5 + s^6/7 + s^8/9),
 *
 * truncated after s^9 (the rest is below 2 s^11 / 11 < 7e-10). f - 1 is
 * exact; f + 1 and the division round, so 2s is within about 2^-23
 * relative (4e-8 absolute); ln2 = EXP_LN2_HI + EXP_LN2_LO, k EXP_LN2_HI
 * exact. tests/test_exp.c measures it over every float in [1, 16). */
static inline vf vlog_pos(vf x)
{
    vf k;
    const vf f = vsplit_sqrt2(x, &k), one = vset1(1.0f);
    const vf s = vdiv(vsub(f, one), vadd(f, one)), t = vmul(s, s), u = vadd(s, s);
    vf p = vfma(vset1(1.0f / 9), t, vset1(1.0f / 7));
    p = vfma(p, t, vset1(1.0f / 5));
    p = vfma(p, t, vset1(1.0f / 3));
    const vf lf = vfma(vmul(u, t), p, u);
    return vfma(k, vset1(EXP_LN2_HI), vfma(k, vset1(EXP_LN2_LO), lf));
}
#endif

#endif /* SMX_SIMD_LOG_H */
