/* SPDX-License-Identifier: MIT */
/*
 * The vector vocabulary of src/simd/ kernels, for ARM Advanced SIMD (NEON):
 * 4 floats, on AArch64 and on 32-bit ARMv7-A. ARMv7 lacks the across-vector
 * reductions and vrndnq_f32, which are emulated; it has a fused multiply-add
 * only with VFPv4, which the build selects (-mfpu=neon-vfpv4) and the
 * dispatcher checks (HWCAP_VFPv4). Tails are copied lane by lane: NEON has
 * no masked load or store, and a full-width access past the row is never
 * made, not even within a page.
 *
 * ARMv7 NEON arithmetic always runs in flush-to-zero mode, whatever FPSCR
 * says: subnormal inputs and results are read and written as zero. AArch64
 * follows FPCR, which Linux leaves IEEE (no flush).
 */
#ifndef SMX_VEC_NEON_H
#define SMX_VEC_NEON_H

#include <arm_neon.h>
#include <sleef.h>
#include <stddef.h>
#include <stdint.h>

#if !defined(__aarch64__) && !defined(__ARM_FEATURE_FMA)
#error "32-bit NEON kernels need a fused multiply-add: build with -mfpu=neon-vfpv4"
#endif

#define VEC_ISA neon
#define VEC_ISA_ENUM SMX_ISA_NEON
#define VLEN 4
#if defined(__aarch64__)
#define VEC_REGS 32 /* v0-v31 */
#else
#define VEC_REGS 16 /* q0-q15 */
#define VEC_FLUSHES_SUBNORMALS 1 /* see above */
#endif

typedef float32x4_t vf;

static inline vf vzero(void) { return vdupq_n_f32(0.0f); }
static inline vf vset1(float a) { return vdupq_n_f32(a); }
static inline vf vload(const float *p) { return vld1q_f32(p); }
static inline void vstore(float *p, vf v) { vst1q_f32(p, v); }

/* n < VLEN elements from p; the other lanes hold `fill`. Single-lane loads
 * touch exactly p[0..n). */
static inline vf vload_part(const float *p, size_t n, float fill)
{
    vf v = vdupq_n_f32(fill);
    switch (n) {
    case 3: v = vld1q_lane_f32(p + 2, v, 2); /* fall through */
    case 2: v = vld1q_lane_f32(p + 1, v, 1); /* fall through */
    case 1: v = vld1q_lane_f32(p, v, 0); break;
    default: break;
    }
    return v;
}
static inline void vstore_part(float *p, vf v, size_t n)
{
    switch (n) {
    case 3: vst1q_lane_f32(p + 2, v, 2); /* fall through */
    case 2: vst1q_lane_f32(p + 1, v, 1); /* fall through */
    case 1: vst1q_lane_f32(p, v, 0); break;
    default: break;
    }
}

static inline vf vadd(vf a, vf b) { return vaddq_f32(a, b); }
static inline vf vsub(vf a, vf b) { return vsubq_f32(a, b); }
static inline vf vmul(vf a, vf b) { return vmulq_f32(a, b); }
/* a * b + c, one rounding (vmlaq_f32 would round twice) */
static inline vf vfma(vf a, vf b, vf c) { return vfmaq_f32(c, a, b); }
/* a * b - c, one rounding (NEON negates c first: two operations) */
static inline vf vfmsub(vf a, vf b, vf c) { return vfmaq_f32(vnegq_f32(c), a, b); }
/* lanes where a > b (false where either is NaN) */
#if !defined(__aarch64__) && defined(__GNUC__) && !defined(__clang__)
/* GCC 12's arm_neon.h spells vcgtq_f32 and vcltq_f32 as C vector compares,
 * which GCC does not give to NEON (its compares flush subnormals, so are
 * not IEEE) unless -funsafe-math-optimizations: it emits 4 VFP compares
 * and moves instead. The instruction itself is what the intrinsic means. */
static inline uint32x4_t vgt_mask(vf a, vf b)
{
    uint32x4_t r;
    __asm__("vcgt.f32 %q0, %q1, %q2" : "=w"(r) : "w"(a), "w"(b));
    return r;
}
#else
static inline uint32x4_t vgt_mask(vf a, vf b) { return vcgtq_f32(a, b); }
#endif
/* max/min: where either is NaN the result is b, so NaN in b propagates.
 * vmaxq_f32/vminq_f32 return NaN when EITHER is NaN, and max(+0, -0) = +0;
 * a compare and select gives the x86 rule exactly: a > b ? a : b. */
static inline vf vmax(vf a, vf b) { return vbslq_f32(vgt_mask(a, b), a, b); }
static inline vf vmin(vf a, vf b) { return vbslq_f32(vgt_mask(b, a), a, b); }
/* round to the nearest integer, ties to even */
static inline vf vround(vf a)
{
#if defined(__aarch64__)
    return vrndnq_f32(a);
#else
    /* |a| < 2^23: adding and subtracting copysign(2^23, a) leaves the
     * integers' ulp at 1, so the add rounds (NEON always rounds to nearest
     * even). Larger |a|, infinities and NaN are kept; the sign bit is put
     * back so that -0.3 gives -0, as on x86. */
    const uint32x4_t sign = vdupq_n_u32(0x80000000u);
    const vf two23 = vdupq_n_f32(0x1p23f);
    const vf s = vbslq_f32(sign, a, two23); /* copysign(2^23, a) */
    const vf r = vbslq_f32(sign, a, vsubq_f32(vaddq_f32(a, s), s));
    return vbslq_f32(vcaltq_f32(a, two23), r, a);
#endif
}
/* t where q != 0 (or q is NaN), +0 where q == 0 */
static inline vf vkeep_nonzero(vf q, vf t)
{
    const uint32x4_t zero = vceqq_f32(q, vdupq_n_f32(0.0f));
    return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(t), zero));
}

/* lanes [0, n) of v, +0 in the others */
static inline vf vkeep_first(vf v, size_t n)
{
    static const uint32_t lane_index[4] = {0, 1, 2, 3};
    const uint32x4_t keep = vcltq_u32(vld1q_u32(lane_index), vdupq_n_u32((uint32_t)n));
    return vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(v), keep));
}

static inline float vfirst(vf a) { return vgetq_lane_f32(a, 0); }
static inline float vhsum(vf a)
{
#if defined(__aarch64__)
    return vaddvq_f32(a);
#else
    float32x2_t s = vadd_f32(vget_low_f32(a), vget_high_f32(a));
    return vget_lane_f32(vpadd_f32(s, s), 0);
#endif
}
/* Any NaN lane gives NaN (FMAXV, VPMAX): the kernels send a row whose
 * maximum is NaN to the scalar reference, as they do for a NaN sum. */
static inline float vhmax(vf a)
{
#if defined(__aarch64__)
    return vmaxvq_f32(a);
#else
    float32x2_t m = vpmax_f32(vget_low_f32(a), vget_high_f32(a));
    return vget_lane_f32(vpmax_f32(m, m), 0);
#endif
}

/* 2^n for integral n in [-126, 127], written into the exponent field. */
static inline vf pow2i(int32x4_t n)
{
    return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n, vdupq_n_s32(127)), 23));
}

/* exp support (src/simd/exp.h: the polynomial method; a table lookup
 * costs more than it saves on NEON). For x >= ln(FLT_MIN), n >= -126 and
 * 2^n is a normal float built from the shifter's bits. exp_nonpos clamps
 * x to VEXP_LO, where n = -127 and the field built is 0: every x with
 * exp(x) < FLT_MIN (-inf included) gives +0. The general version splits
 * 2^n = 2^(n/2) * 2^(n - n/2) so that n in [-159, 128] rounds correctly to
 * 0 and to inf (and into the subnormals on AArch64; ARMv7 flushes those to
 * 0). */
#define VEXP_LO (-88.0f)
static inline vf vscale_nonpos(vf p, vf n, vf nb)
{
    (void)n;
    const vf s = vreinterpretq_f32_u32(vshlq_n_u32(vreinterpretq_u32_f32(nb), 23)); /* 2^n */
    return vmulq_f32(p, s);
}
static inline vf vscale_any(vf p, vf n, vf nb, vf xc, vf lo)
{
    (void)nb, (void)xc, (void)lo; /* (no assists to avoid: see vec_avx512.h) */
    /* n is integral: truncation is exact */
    const int32x4_t ni = vcvtq_s32_f32(n), half = vshrq_n_s32(ni, 1);
    return vmulq_f32(vmulq_f32(p, pow2i(half)), pow2i(vsubq_s32(ni, half)));
}

/* SLEEF's exp, 1.0 ulp: kept as a measured alternative (bench). */
#if defined(__aarch64__)
static inline vf vexp_sleef(vf x) { return Sleef_expf4_u10advsimd(x); }
#else
static inline vf vexp_sleef(vf x) { return Sleef_expf4_u10neonvfpv4(x); }
#endif

#endif /* SMX_VEC_NEON_H */
