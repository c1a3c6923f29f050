/* SPDX-License-Identifier: MIT */
/*
 * The vector vocabulary of src/simd/ kernels, for AVX2 + FMA: 8 floats,
 * tails by vmaskmovps (masked-off lanes never fault), 2^n built in the
 * exponent field.
 */
#ifndef SMX_VEC_AVX2_H
#define SMX_VEC_AVX2_H

#include <immintrin.h>
#include <sleef.h>
#include <stddef.h>
#include <stdint.h>

#define VEC_ISA avx2
#define VEC_ISA_ENUM SMX_ISA_AVX2
#define VLEN 8
#define VEC_REGS 16 /* ymm0-15 */

typedef __m256 vf;

static inline vf vzero(void) { return _mm256_setzero_ps(); }
static inline vf vset1(float a) { return _mm256_set1_ps(a); }
static inline vf vload(const float *p) { return _mm256_loadu_ps(p); }
static inline void vstore(float *p, vf v) { _mm256_storeu_ps(p, v); }

/* A sliding window over 8 all-ones then 8 zeros: lanes [0, n) set. */
static inline __m256i tail_mask(size_t n)
{
    static const int32_t window[16] = {-1, -1, -1, -1, -1, -1, -1, -1,
                                       0,  0,  0,  0,  0,  0,  0,  0};
    return _mm256_loadu_si256((const __m256i *)(window + 8 - n));
}
/* n < VLEN elements from p; the other lanes hold `fill`. */
static inline vf vload_part(const float *p, size_t n, float fill)
{
    const __m256i m = tail_mask(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m),
                            _mm256_castsi256_ps(m));
}
static inline void vstore_part(float *p, vf v, size_t n)
{
    _mm256_maskstore_ps(p, tail_mask(n), v);
}

/* Short rows packed two to a vector (R = 2), one per 128-bit half (rows
 * of up to 4 floats; see vec_avx512.h): row j (x + j ld) [0, n) in lanes
 * [4 j, 4 j + n), `fill` elsewhere; vpack_max and vpack_sum give each
 * lane its half's max or sum, with the same bits in every lane of a
 * half. */
#define VEC_MAX_PACK 2
static inline vf vload_pack(int R, const float *x, size_t ld, size_t n, float fill)
{
    (void)R;
    const __m256i m = _mm256_permute2x128_si256(tail_mask(n), tail_mask(n), 0x00);
    const __m128i m4 = _mm256_castsi256_si128(m);
    const __m256 v = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_maskload_ps(x, m4)),
                                          _mm_maskload_ps(x + ld, m4), 1);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), v, _mm256_castsi256_ps(m));
}
static inline void vstore_pack(int R, float *y, size_t ld, vf v, size_t n)
{
    (void)R;
    const __m128i m = _mm256_castsi256_si128(tail_mask(n));
    _mm_maskstore_ps(y, m, _mm256_castps256_ps128(v));
    _mm_maskstore_ps(y + ld, m, _mm256_extractf128_ps(v, 1));
}
static inline vf vpack_max(int R, vf v)
{
    (void)R;
    v = _mm256_max_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm256_max_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
}
static inline vf vpack_sum(int R, vf v)
{
    (void)R;
    v = _mm256_add_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm256_add_ps(v, _mm256_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
}
/* dst[j] = lane 4 j of v (one row's value of each half), j < 2 */
static inline void vstore_firsts(int R, float *dst, vf v)
{
    (void)R;
    const __m256 f = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 4, 0, 0, 0, 0, 0, 0));
    _mm_storel_pi((__m64 *)dst, _mm256_castps256_ps128(f));
}
/* 1.0f in lane 4 j + t[j] (t[j] < 4, j < 2), +0 in the others: the one-hot
 * targets of a pack of class cross-entropy rows */
static inline vf vpack_onehot(int R, const int32_t *t)
{
    (void)R;
    const __m256i tv = _mm256_permutevar8x32_epi32(
        _mm256_castsi128_si256(_mm_loadl_epi64((const __m128i *)t)),
        _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
    const __m256i hit = _mm256_cmpeq_epi32(tv, _mm256_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3));
    return _mm256_and_ps(_mm256_castsi256_ps(hit), _mm256_set1_ps(1.0f));
}
/* Rows of 2 <= n <= VEC_LANE_COLS floats, VLEN at a time, one per lane
 * (src/simd/rows_lanes_tmpl.c), four columns at a time: vload_cols4
 * gives c[j] whose lane k is x[k ld + j] for j < w, 0 < w <= 4 (c[j] for
 * j >= w unspecified); vstore_cols4 writes them back, y[k ld + j] = lane
 * k of c[j] for j < w, nothing else. An 8x4 transpose: the 128-bit pieces
 * of rows k and k + 4 side by side (the loads and stores take the
 * lane-crossing step), then a 4x4 transpose within each half, its own
 * inverse. Always inline: GCC called them, and kept c[] in memory. */
#define VEC_LANE_COLS 16
#define LANES_INLINE static inline __attribute__((always_inline))
LANES_INLINE void transpose4_halves(const vf a[4], vf t[4])
{
    const vf lo01 = _mm256_unpacklo_ps(a[0], a[1]), hi01 = _mm256_unpackhi_ps(a[0], a[1]);
    const vf lo23 = _mm256_unpacklo_ps(a[2], a[3]), hi23 = _mm256_unpackhi_ps(a[2], a[3]);
    t[0] = _mm256_shuffle_ps(lo01, lo23, _MM_SHUFFLE(1, 0, 1, 0));
    t[1] = _mm256_shuffle_ps(lo01, lo23, _MM_SHUFFLE(3, 2, 3, 2));
    t[2] = _mm256_shuffle_ps(hi01, hi23, _MM_SHUFFLE(1, 0, 1, 0));
    t[3] = _mm256_shuffle_ps(hi01, hi23, _MM_SHUFFLE(3, 2, 3, 2));
}
LANES_INLINE void vload_cols4(const float *x, size_t ld, size_t w, vf c[4])
{
    const __m128i m = _mm256_castsi256_si128(tail_mask(w));
    vf a[4];
    for (size_t k = 0; k < 4; k++) {
        const float *r = x + k * ld, *r4 = x + (k + 4) * ld;
        a[k] = w == 4 ? _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_loadu_ps(r)),
                                             _mm_loadu_ps(r4), 1)
                      : _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_maskload_ps(r, m)),
                                             _mm_maskload_ps(r4, m), 1);
    }
    transpose4_halves(a, c);
}
LANES_INLINE void vstore_cols4(float *y, size_t ld, size_t w, const vf c[4])
{
    const __m128i m = _mm256_castsi256_si128(tail_mask(w));
    vf a[4];
    transpose4_halves(c, a);
    for (size_t k = 0; k < 4; k++) {
        float *r = y + k * ld, *r4 = y + (k + 4) * ld;
        if (w == 4) {
            _mm_storeu_ps(r, _mm256_castps256_ps128(a[k]));
            _mm_storeu_ps(r4, _mm256_extractf128_ps(a[k], 1));
        } else {
            _mm_maskstore_ps(r, m, _mm256_castps256_ps128(a[k]));
            _mm_maskstore_ps(r4, m, _mm256_extractf128_ps(a[k], 1));
        }
    }
}

/* VLEN class indices (small: exact in float) as floats, for vselect_eq */
static inline vf vload_index(const int32_t *t)
{
    return _mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)t));
}
/* x where a == b, else y, lane by lane */
static inline vf vselect_eq(vf a, vf b, vf x, vf y)
{
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_EQ_OQ));
}

/* x = 2^k f, f in [sqrt(1/2), sqrt(2)), for a positive normal x: returns
 * f, with k as a float in *k (vlog_pos in src/simd/log.h). The bits of x
 * less those of sqrt(1/2), shifted down by 23, are k; f is x with k taken
 * off its exponent field. */
static inline vf vsplit_sqrt2(vf x, vf *k)
{
    const __m256i b = _mm256_castps_si256(x);
    const __m256i e = _mm256_srai_epi32(_mm256_sub_epi32(b, _mm256_set1_epi32(0x3f3504f3)), 23);
    *k = _mm256_cvtepi32_ps(e);
    return _mm256_castsi256_ps(_mm256_sub_epi32(b, _mm256_slli_epi32(e, 23)));
}
static inline vf vdiv(vf a, vf b) { return _mm256_div_ps(a, b); }
/* 1 if no lane of v is infinite or NaN (v - v is NaN there) */
static inline int vall_finite(vf v)
{
    return _mm256_movemask_ps(_mm256_cmp_ps(_mm256_sub_ps(v, v), _mm256_setzero_ps(), _CMP_UNORD_Q)) == 0;
}

/* A non-temporal store to a VLEN * 4-byte aligned p, for rows larger than
 * the caches: no read for ownership, no eviction of the inputs. */
#define VEC_HAS_STREAM 1
static inline void vstream(float *p, vf v) { _mm256_stream_ps(p, v); }
static inline void vstream_fence(void) { _mm_sfence(); }

static inline vf vadd(vf a, vf b) { return _mm256_add_ps(a, b); }
static inline vf vsub(vf a, vf b) { return _mm256_sub_ps(a, b); }
static inline vf vmul(vf a, vf b) { return _mm256_mul_ps(a, b); }
/* a * b + c, one rounding */
static inline vf vfma(vf a, vf b, vf c) { return _mm256_fmadd_ps(a, b, c); }
/* a * b - c, one rounding */
static inline vf vfmsub(vf a, vf b, vf c) { return _mm256_fmsub_ps(a, b, c); }
/* max/min: where either is NaN the result is b, so NaN in b propagates */
static inline vf vmax(vf a, vf b) { return _mm256_max_ps(a, b); }
static inline vf vmin(vf a, vf b) { return _mm256_min_ps(a, b); }
/* round to the nearest integer, ties to even */
static inline vf vround(vf a)
{
    return _mm256_round_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/* t where q != 0 (or q is NaN), +0 where q == 0 */
static inline vf vkeep_nonzero(vf q, vf t)
{
    return _mm256_and_ps(_mm256_cmp_ps(q, _mm256_setzero_ps(), _CMP_NEQ_UQ), t);
}

/* lanes [0, n) of v, +0 in the others */
static inline vf vkeep_first(vf v, size_t n)
{
    return _mm256_and_ps(_mm256_castsi256_ps(tail_mask(n)), v);
}

static inline float vfirst(vf a) { return _mm256_cvtss_f32(a); }
static inline float vhsum(vf a)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
static inline float vhmax(vf a)
{
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 2^n for integral n in [-126, 127], written into the exponent field. */
static inline vf pow2i(__m256i n)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
}

/* exp support (src/simd/exp.h: the table method, 8 entries). The shifter
 * nb holds 8 (floor(n) + 127) + index in its low mantissa bits, so a
 * shift by 20 moves the biased exponent of 2^floor(n) into place.
 * For x >= ln(FLT_MIN), floor(n) >= -126 and 2^floor(n) is a normal float.
 * exp_nonpos clamps x to VEXP_LO, where n = -127 exactly and the field
 * built is 0: -inf and every x below VEXP_LO give +0.
 * The general version splits 2^m = 2^(m/2) * 2^(m - m/2) so that m in
 * [-159, 128] rounds correctly into subnormals, to 0 and to inf. */
#define VEXP_TABLE_BITS 3
/* nb's table index and biased exponent, shifted to the exponent field */
#define VEXP_FIELD_SHIFT (23 - VEXP_TABLE_BITS)
#define VEXP_LO (-88.0f)
/* vscale_any takes 8 vector ops more than exp_nonpos's scaling: the
 * kernels check for x <= 0 to use exp_nonpos where they may
 * (backward_tmpl.c) */
#define VEXP_ANY_COSTLY 1
/* table[low 3 bits of each lane of idx] (vpermps) */
static inline vf vlookup(const float table[8], vf idx)
{
    return _mm256_permutevar8x32_ps(_mm256_loadu_ps(table), _mm256_castps_si256(idx));
}
/* T[j] 2^floor(n) for exp_nonpos (x in [VEXP_LO, 0]) in integer operations:
 * nb << 20 holds the biased exponent floor(n) + 127 above the index j
 * (bits 20-22), so adding it to the bits of T[j] less (127 << 23 | j << 20)
 * gives the bits of T[j] 2^floor(n). That is exact where the result is a
 * normal float; at floor(n) = -127 it is (T[j] - 1) 2^-126, below FLT_MIN,
 * and +0 at the clamp itself (n = -127 exactly, j = 0). One shift and one
 * add, where shift, mask and multiply take one multiply more: softmax,
 * log-softmax, logsumexp and cross-entropy 3-5% faster, the log-softmax
 * VJP 7-10%. */
static inline vf vlookup_scaled(const float table[8], vf nb)
{
    const __m256i j = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i bias = _mm256_or_si256(_mm256_set1_epi32(127 << 23), _mm256_slli_epi32(j, VEXP_FIELD_SHIFT));
    const __m256i t = _mm256_sub_epi32(_mm256_castps_si256(_mm256_loadu_ps(table)), bias);
    const __m256i b = _mm256_castps_si256(nb);
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_permutevar8x32_epi32(t, b),
                                                _mm256_slli_epi32(b, VEXP_FIELD_SHIFT)));
}
/* Lanes at exp_any's low clamp lo are multiplied by +0 instead of a factor
 * that underflows, as Intel cores take a microcode assist for that (see
 * vec_avx512.h). NaN stays. */
static inline vf vscale_any(vf y, vf n, vf nb, vf xc, vf lo)
{
    (void)n;
    /* floor(n) + 127, a 9-bit signed field of nb's mantissa */
    const __m256i b = _mm256_srai_epi32(_mm256_slli_epi32(_mm256_castps_si256(nb), VEXP_FIELD_SHIFT), 23);
    const __m256i m = _mm256_sub_epi32(b, _mm256_set1_epi32(127)), half = _mm256_srai_epi32(m, 1);
    const vf live = _mm256_cmp_ps(xc, lo, _CMP_NEQ_UQ);
    return _mm256_mul_ps(_mm256_mul_ps(y, pow2i(half)),
                         _mm256_and_ps(live, pow2i(_mm256_sub_epi32(m, half))));
}

/* SLEEF's exp, 1.0 ulp: kept as a measured alternative (bench). */
static inline vf vexp_sleef(vf x) { return Sleef_expf8_u10avx2(x); }

#endif /* SMX_VEC_AVX2_H */
