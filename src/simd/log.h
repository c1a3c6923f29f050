/* SPDX-License-Identifier: MIT */
/*
 * log(x) in double, inline, for the once-per-row log S of log-softmax,
 * logsumexp and cross-entropy. On rows of 128 floats (AVX-512 and AVX2,
 * interleaved runs) libm's log took about 20% of the time of log-softmax
 * and logsumexp (measured by replacing it with a multiply), this one about
 * 10%: no call, and the polynomial below is all it does.
 *
 * Method: x = 2^k m with m in [sqrt(1/2), sqrt(2)) (integer arithmetic on
 * the bits), then with f = m - 1 (exact) and s = f / (2 + f), |s| < 0.1716,
 *
 *   log(m) = 2 atanh(s) = 2 s (1 + s^2/3 + s^4/5 + ... + s^12/13 + ...),
 *
 * truncated after s^12/13: the rest is below s^14/15 < 1.3e-12 relative.
 * log(x) = k ln2 + log(m). The result feeds a float, so this is far more
 * than enough; tests/test_exp.c measures the relative error against libm
 * (below 2^-38) over the whole double range.
 *
 * x that is not a positive normal finite double (0, subnormal, negative,
 * infinite, NaN; never a row sum S >= 1) goes to libm.
 */
#ifndef SMX_SIMD_LOG_H
#define SMX_SIMD_LOG_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline double log_inline(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    /* positive normal finite: biased exponent in [1, 2046], sign clear */
    if (u - 0x0010000000000000u >= 0x7fe0000000000000u)
        return log(x);
    /* k = exponent of x / sqrt(1/2) rounded down: subtracting the bits of
     * sqrt(1/2) borrows into the exponent field exactly when m < sqrt(1/2).
     * (>> of a negative int64_t: arithmetic in GCC, Clang and MSVC.) */
    const int64_t k = (int64_t)(u - 0x3fe6a09e667f3bcdu) >> 52;
    const uint64_t mu = u - ((uint64_t)k << 52);
    double m;
    memcpy(&m, &mu, sizeof m);
    const double f = m - 1.0; /* exact: m in [0.70, 1.42) */
    const double s = f / (2.0 + f), z = s * s;
    double p = 1.0 / 13;
    p = p * z + 1.0 / 11;
    p = p * z + 1.0 / 9;
    p = p * z + 1.0 / 7;
    p = p * z + 1.0 / 5;
    p = p * z + 1.0 / 3;
    p = p * z; /* atanh(s) / s - 1 */
    const double log_m = 2.0 * s + 2.0 * s * p;
    return (double)k * 0x1.62e42fefa39efp-1 + log_m; /* ln 2 */
}

#endif /* SMX_SIMD_LOG_H */
