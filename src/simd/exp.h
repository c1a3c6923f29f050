/* SPDX-License-Identifier: MIT */
/*
 * exp(x) on vectors, inline, for the hot loops. Include after a vec_*.h.
 *
 *   n = round(x / ln2),  r = x - n ln2 in [-ln2/2, ln2/2],
 *   exp(x) = 2^n exp(r),  exp(r) ~ 1 + r P(r),  P of degree 5.
 *
 * Range reduction is Cody-Waite: ln2 = LN2_HI + LN2_LO, where LN2_HI has
 * its 12 low mantissa bits clear, so n * LN2_HI is exact for |n| < 2^12 and
 * r keeps its precision. P is the minimax fit of (exp(r) - 1) / r for the
 * error of exp(r) counted in ulps of the float result (0.03 ulp before
 * float rounding), derived by scripts/dev/gen_exp_poly.py. Degree 5 (1.05
 * ulp) measured 2.03 ulp once evaluated in float; one more FMA buys the
 * margin. Measured over every float in [-87.3, 0] by tests/test_exp.c:
 * at most 1.1 ulp (1.02 seen) for normal results.
 *
 * Cut-offs: below VEXP_LO (per ISA) the result is +0, where exp(x) is below
 * FLT_MIN (AVX2) or below 2^-150 (AVX-512, whose scalef rounds into the
 * subnormals); -inf gives +0 and NaN gives NaN. exp_any also handles x > 0:
 * above ln(FLT_MAX) it gives +inf.
 */
#ifndef SMX_SIMD_EXP_H
#define SMX_SIMD_EXP_H

#define EXP_LOG2E 0x1.715476p+0f
#define EXP_LN2_HI 0x1.62e000p-1f
#define EXP_LN2_LO 0x1.0bfbe8p-15f
#define EXP_P0 0x1.000000p+0f
#define EXP_P1 0x1.fffffap-2f
#define EXP_P2 0x1.555430p-3f
#define EXP_P3 0x1.555940p-5f
#define EXP_P4 0x1.125f28p-7f
#define EXP_P5 0x1.6a2cbep-10f

/* The rounding shifter: fma(x, log2e, EXP_SHIFTER) rounds x log2e to an
 * integer n (its ulp is 1), and the low mantissa bits of the result then
 * read n + 127, the biased exponent of 2^n. */
#define EXP_SHIFTER 0x1.8000fep+23f /* 1.5 * 2^23 + 127 */

/* exp(r) = 1 + r P(r) after the reduction; returns it with n (as a float)
 * and the shifted value nb whose bits hold n + 127. */
static inline vf exp_reduced(vf x, vf *n, vf *nb)
{
    *nb = vfma(x, vset1(EXP_LOG2E), vset1(EXP_SHIFTER));
    *n = vsub(*nb, vset1(EXP_SHIFTER));
    vf r = vfma(*n, vset1(-EXP_LN2_HI), x); /* r = x - n ln2_hi, exact */
    r = vfma(*n, vset1(-EXP_LN2_LO), r);    /* r -= n ln2_lo */
    vf p = vfma(vset1(EXP_P5), r, vset1(EXP_P4));
    p = vfma(p, r, vset1(EXP_P3));
    p = vfma(p, r, vset1(EXP_P2));
    p = vfma(p, r, vset1(EXP_P1));
    p = vfma(p, r, vset1(EXP_P0));
    return vfma(p, r, vset1(1.0f)); /* 1 + r P(r) */
}

/* exp(x) for x <= 0, -inf or NaN: what softmax needs after the max. The
 * vector layer clamps (or masks) below VEXP_LO, where the result is +0. */
static inline vf exp_nonpos(vf x)
{
    vf n, nb;
    const vf p = exp_reduced(vclamp_nonpos(x), &n, &nb);
    return vscale_nonpos(p, n, nb, x);
}

/* exp(x) for any x (log-softmax backward takes exp of its input). */
static inline vf exp_any(vf x)
{
    /* min/max return their second operand when one is NaN: NaN stays */
    const vf xc = vmin(vset1(VEXP_HI), vmax(vset1(VEXP_ANY_LO), x));
    vf n, nb;
    const vf p = exp_reduced(xc, &n, &nb);
    return vscale_any(p, n);
}

#endif /* SMX_SIMD_EXP_H */
