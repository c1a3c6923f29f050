/* SPDX-License-Identifier: MIT */
/*
 * exp(x) on vectors, inline, for the hot loops. Include after a vec_*.h,
 * which chooses one of two methods by VEXP_TABLE_BITS (B):
 *
 *   n = round(2^B x / ln2) / 2^B,   r = x - n ln2 in [-ln2/2^(B+1), ln2/2^(B+1)],
 *   exp(x) = 2^floor(n) * 2^frac(n) * exp(r).
 *
 * B = 0, the polynomial method (NEON): exp(r) ~ 1 + r P(r), P of degree 5
 *   fitted for the error of exp(r) counted in ulps of the float result
 *   (0.03 ulp before float rounding). Degree 5 (1.05 ulp) measured 2.03
 *   ulp once evaluated in float; one more FMA buys the margin.
 * B = 3 or 4, the table method (AVX2, AVX-512: one register holds 2^B
 *   floats and one permute reads it): 2^frac(n) = T[2^B frac(n)], T[j] =
 *   2^(j/2^B) rounded to float, and exp(r) ~ 1 + r Q(r), Q of degree 3
 *   (B = 3) or 2 (B = 4), under 0.02 ulp before rounding. The result is
 *   fma(T, r Q(r), T), so besides T's own, its last rounding is the only
 *   large one. Three multiply-adds fewer than the polynomial (two for
 *   B = 3), and multiply-adds are what bounds the softmax loops.
 *   B = 5 on AVX-512 (two table registers, vpermt2ps) with Q of degree 1
 *   saves one more: softmax, log-softmax, logsumexp and cross-entropy 2-4%
 *   faster (interleaved runs), but 1.74 ulp where B = 4 gives 1.0: not
 *   taken.
 *
 * The shifter rounds: fma(x, log2e, EXP_SHIFTER) has an ulp of 2^-B, so it
 * holds n, and its low mantissa bits then read 2^B (floor(n) + 127) +
 * 2^B frac(n): the table index below the biased exponent of 2^floor(n).
 * The reduction is Cody-Waite: ln2 = LN2_HI + LN2_LO, where LN2_HI has its
 * 12 low mantissa bits clear, so n * LN2_HI is exact while 2^B n has at
 * most 12 significant bits (|x| > 177 is clamped first) and r keeps its
 * precision. All constants come from scripts/dev/gen_exp_poly.py (Remez;
 * `--table B --deg D` for the table method).
 *
 * Measured over every float in [-87.3, 0] by tests/test_exp.c, on every
 * ISA: at most 1.1 ulp for normal results.
 *
 * Cut-offs: where exp(x) < FLT_MIN the result is +0 or subnormal, never
 * more than FLT_MIN (tests/test_exp.c checks every float down to -120).
 * exp_nonpos clamps x to VEXP_LO, where the exponent field it builds is
 * 0. NEON gives +0 from ln(FLT_MIN) - 0.35 down. AVX2 and AVX-512 build
 * T 2^floor(n) in integer arithmetic (vlookup_scaled): between VEXP_LO
 * and ln(FLT_MIN) that gives a subnormal below the true value, and +0
 * from VEXP_LO down. exp_any scales last (AVX-512: scalef, which rounds
 * into the subnormals down to 2^-150) and also handles x > 0: above
 * ln(FLT_MAX) it gives +inf. -inf gives +0, NaN gives NaN.
 */
#ifndef SMX_SIMD_EXP_H
#define SMX_SIMD_EXP_H

#ifndef VEXP_TABLE_BITS
#define VEXP_TABLE_BITS 0
#endif
/* The table method's exp loops (AVX2, AVX-512) are bound by their vector
 * operations and the pipes that run them. On Zen4 (timed with independent
 * 512-bit operations), multiplies and FMAs run on two pipes, adds, max,
 * shifts and vscalefps on the other two, integer adds on any; each
 * takes one cycle, except vscalefps, which takes two. So exp_nonpos builds
 * T 2^floor(n) in integer arithmetic (the vector layer's vlookup_scaled)
 * and not with scalef: AVX-512 softmax, log-softmax, logsumexp and
 * cross-entropy 2-4% faster. Beside it, the polynomial takes the form
 * with the shorter chain: on AVX2, whose loops are bound by the chain's
 * latency, 12-16% faster; on AVX-512, 1-2%. (Taking the clamp off the
 * chain too, with a masked last FMA, changed nothing on AVX-512.) */

/* exp_any's clamp: exp(-104) < 0.973 2^-150 rounds to +0 (from any
 * approximation within 2%), and 2^128 to +inf. The x86 layers' vscale_any
 * gives the lanes at the low clamp +0 without scaling them (see
 * vec_avx512.h), the same bits as scaling. exp_nonpos clamps at VEXP_LO,
 * which the vector layer sets where its scaling gives +0. */
#define VEXP_ANY_LO (-104.0f)
#define VEXP_HI 89.0f

#define EXP_LOG2E 0x1.715476p+0f
#define EXP_LN2_HI 0x1.62e000p-1f
#define EXP_LN2_LO 0x1.0bfbe8p-15f
/* 1.5 * 2^(23 - B) + 127: see above */
#define EXP_SHIFTER (0x1.8p+23f / (1 << VEXP_TABLE_BITS) + 127.0f)

#if VEXP_TABLE_BITS == 0
#define EXP_P0 0x1.000000p+0f
#define EXP_P1 0x1.fffffap-2f
#define EXP_P2 0x1.555430p-3f
#define EXP_P3 0x1.555940p-5f
#define EXP_P4 0x1.125f28p-7f
#define EXP_P5 0x1.6a2cbep-10f
#elif VEXP_TABLE_BITS == 3
#define EXP_Q1 0x1.000000p-1f
#define EXP_Q2 0x1.555f8cp-3f
#define EXP_Q3 0x1.555102p-5f
static const float exp_table[8] = {
    0x1.000000p+0f, 0x1.172b84p+0f, 0x1.306fe0p+0f, 0x1.4bfdaep+0f,
    0x1.6a09e6p+0f, 0x1.8ace54p+0f, 0x1.ae89fap+0f, 0x1.d5818ep+0f,
};
#elif VEXP_TABLE_BITS == 4
#define EXP_Q1 0x1.00022p-1f
#define EXP_Q2 0x1.55523ap-3f
static const float exp_table[16] = {
    0x1.000000p+0f, 0x1.0b5586p+0f, 0x1.172b84p+0f, 0x1.2387a6p+0f,
    0x1.306fe0p+0f, 0x1.3dea64p+0f, 0x1.4bfdaep+0f, 0x1.5ab07ep+0f,
    0x1.6a09e6p+0f, 0x1.7a1148p+0f, 0x1.8ace54p+0f, 0x1.9c4918p+0f,
    0x1.ae89fap+0f, 0x1.c199bep+0f, 0x1.d5818ep+0f, 0x1.ea4afap+0f,
};
#else
#error "VEXP_TABLE_BITS must be 0, 3 or 4"
#endif

/* The reduction: returns r, with n (a multiple of 2^-B, as a float) and
 * the shifted value nb whose bits hold the biased exponent of 2^floor(n)
 * (and the table index). */
static inline vf exp_reduce(vf x, vf *n, vf *nb)
{
    *nb = vfma(x, vset1(EXP_LOG2E), vset1(EXP_SHIFTER));
    *n = vsub(*nb, vset1(EXP_SHIFTER));
    const vf r = vfma(*n, vset1(-EXP_LN2_HI), x); /* r = x - n ln2_hi, exact */
    return vfma(*n, vset1(-EXP_LN2_LO), r);       /* r -= n ln2_lo */
}

#if VEXP_TABLE_BITS == 0
/* 1 + r P(r) ~ exp(r) */
static inline vf exp_poly(vf r)
{
    vf p = vfma(vset1(EXP_P5), r, vset1(EXP_P4));
    p = vfma(p, r, vset1(EXP_P3));
    p = vfma(p, r, vset1(EXP_P2));
    p = vfma(p, r, vset1(EXP_P1));
    p = vfma(p, r, vset1(EXP_P0));
    return vfma(p, r, vset1(1.0f));
}
#else
/* r Q(r) ~ exp(r) - 1, as r + r^2 (Q1 + Q2 r [+ Q3 r^2]): r^2 comes beside
 * Q1 + Q2 r, so the chain is two operations shorter than Horner's form,
 * in as many operations, and r is added last, in one rounding. */
static inline vf exp_poly(vf r)
{
    const vf r2 = vmul(r, r);
    vf q = vfma(vset1(EXP_Q2), r, vset1(EXP_Q1));
#if VEXP_TABLE_BITS == 3
    q = vfma(vset1(EXP_Q3), r2, q);
#endif
    return vfma(r2, q, r);
}
#endif

/* 2^frac(n) exp(r) = T + T r Q(r) (table method) or 1 + r P(r) */
static inline vf exp_frac(vf r, vf nb)
{
#if VEXP_TABLE_BITS == 0
    (void)nb;
    return exp_poly(r);
#else
    const vf t = vlookup(exp_table, nb), q = exp_poly(r);
    return vfma(t, q, t);
#endif
}

/* exp(x) for x <= 0, -inf or NaN: what softmax needs after the max. The
 * clamp at VEXP_LO also turns -inf into a number the reduction takes. */
static inline vf exp_nonpos(vf x)
{
    vf n, nb;
    const vf r = exp_reduce(vmax(vset1(VEXP_LO), x), &n, &nb); /* NaN stays */
#if VEXP_TABLE_BITS != 0
    /* T 2^floor(n) first, from nb alone, beside the polynomial (see the
     * top): the scaling leaves the chain of dependent operations. The
     * vector layer's vlookup_scaled is exact where T 2^floor(n) is a normal
     * float (see there), so normal results are the same bits as scaling
     * afterwards. */
    const vf t = vlookup_scaled(exp_table, nb);
    return vfma(t, exp_poly(r), t);
#else
    return vscale_nonpos(exp_frac(r, nb), n, nb);
#endif
}

/* exp(x) for any x (log-softmax backward takes exp of its input). */
static inline vf exp_any(vf x)
{
    /* min/max return their second operand when one is NaN: NaN stays */
    const vf lo = vset1(VEXP_ANY_LO), xc = vmin(vset1(VEXP_HI), vmax(lo, x));
    vf n, nb;
    const vf r = exp_reduce(xc, &n, &nb);
    /* scaled last: T 2^floor(n) alone may overflow where the result does not */
    return vscale_any(exp_frac(r, nb), n, nb, xc, lo);
}

#endif /* SMX_SIMD_EXP_H */
