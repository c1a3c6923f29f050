/* SPDX-License-Identifier: MIT */
/*
 * The vector vocabulary of src/simd/ kernels, for AVX-512 (F, DQ, VL, BW):
 * 16 floats, tails by mask registers (masked-off lanes never fault), 2^n in
 * integer arithmetic for exp of x <= 0 and by vscalefps for any x.
 */
#ifndef SMX_VEC_AVX512_H
#define SMX_VEC_AVX512_H

#include <immintrin.h>
#include <sleef.h>
#include <stddef.h>

#define VEC_ISA avx512
#define VEC_ISA_ENUM SMX_ISA_AVX512
#define VLEN 16
#define VEC_REGS 32 /* zmm0-31 */
/* out_range aligns its stores: a 64-byte store off that alignment
 * crosses a cache line, and Intel cores split it (see there) */
#define VEC_ALIGN_STORES 1

typedef __m512 vf;

static inline vf vzero(void) { return _mm512_setzero_ps(); }
static inline vf vset1(float a) { return _mm512_set1_ps(a); }
static inline vf vload(const float *p) { return _mm512_loadu_ps(p); }
static inline void vstore(float *p, vf v) { _mm512_storeu_ps(p, v); }

static inline __mmask16 tail_mask(size_t n) /* lanes [0, n), n < 16 */
{
    return (__mmask16)((1u << n) - 1u);
}
/* n < VLEN elements from p; the other lanes hold `fill`. */
static inline vf vload_part(const float *p, size_t n, float fill)
{
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), tail_mask(n), p);
}
static inline void vstore_part(float *p, vf v, size_t n)
{
    _mm512_mask_storeu_ps(p, tail_mask(n), v);
}

/* A non-temporal store to a VLEN * 4-byte aligned p, for rows larger than
 * the caches: no read for ownership, no eviction of the inputs. */
#define VEC_HAS_STREAM 1
static inline void vstream(float *p, vf v) { _mm512_stream_ps(p, v); }
static inline void vstream_fence(void) { _mm_sfence(); }

static inline vf vadd(vf a, vf b) { return _mm512_add_ps(a, b); }
static inline vf vsub(vf a, vf b) { return _mm512_sub_ps(a, b); }
static inline vf vmul(vf a, vf b) { return _mm512_mul_ps(a, b); }
/* a * b + c, one rounding */
static inline vf vfma(vf a, vf b, vf c) { return _mm512_fmadd_ps(a, b, c); }
/* a * b - c, one rounding */
static inline vf vfmsub(vf a, vf b, vf c) { return _mm512_fmsub_ps(a, b, c); }
/* max/min: where either is NaN the result is b, so NaN in b propagates */
static inline vf vmax(vf a, vf b) { return _mm512_max_ps(a, b); }
static inline vf vmin(vf a, vf b) { return _mm512_min_ps(a, b); }
/* round to the nearest integer, ties to even */
static inline vf vround(vf a)
{
    return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
/* acc + q t where q != 0 (or q is NaN), acc where q == 0: one masked
 * multiply-add, where the generic form (blocks_tmpl.c) takes three */
#define VEC_HAS_FMA_NONZERO 1
static inline vf vfma_nonzero(vf q, vf t, vf acc)
{
    return _mm512_mask3_fmadd_ps(q, t, acc, _mm512_cmp_ps_mask(q, _mm512_setzero_ps(), _CMP_NEQ_UQ));
}

/* Short rows packed R to a vector (R = 2 or 4), one per segment of VLEN /
 * R lanes (rows of up to 8 or 4 floats: a lone row leaves most lanes idle
 * and pays a whole row's reductions). vload_pack puts row j (x + j ld)
 * [0, n) in lanes [j VLEN / R, j VLEN / R + n), `fill` elsewhere;
 * vpack_max and vpack_sum give each lane the max or sum of its segment,
 * by exchanges of its halves, quarters (R = 2) and lanes: the two
 * operands of each add are the same in every lane of a segment, so all of
 * them get the same bits. */
#define VEC_MAX_PACK 4
static inline vf vload_pack(int R, const float *x, size_t ld, size_t n, float fill)
{
    const __mmask8 k = (__mmask8)((1u << n) - 1);
    if (R == 2) {
        const __m256 f = _mm256_set1_ps(fill);
        return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_mask_loadu_ps(f, k, x)),
                                  _mm256_mask_loadu_ps(f, k, x + ld), 1);
    }
    const __m128 f = _mm_set1_ps(fill);
    const __m256 lo = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_mask_loadu_ps(f, k, x)),
                                           _mm_mask_loadu_ps(f, k, x + ld), 1);
    const __m256 hi = _mm256_insertf128_ps(_mm256_castps128_ps256(_mm_mask_loadu_ps(f, k, x + 2 * ld)),
                                           _mm_mask_loadu_ps(f, k, x + 3 * ld), 1);
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}
/* Each segment is extracted to a register that the empty asm makes opaque,
 * then stored by a masked store of its own width. Without the asm, GCC
 * fuses the extract (even of the low half or quarter) and the store into
 * one vextractf32x8/x4 to memory, whose masked lanes may fault (no fault
 * suppression), and did, against a guard page. A masked 512-bit store of
 * the shuffled vector avoids that too, but crosses a cache line more
 * often: AVX-512 softmax 4096x8 4% slower. */
#define OPAQUE(x) __asm__("" : "+v"(x))
static inline void vstore_pack(int R, float *y, size_t ld, vf v, size_t n)
{
    const __mmask8 k = (__mmask8)((1u << n) - 1);
    if (R == 2) {
        __m256 lo = _mm512_castps512_ps256(v), hi = _mm512_extractf32x8_ps(v, 1);
        OPAQUE(lo);
        OPAQUE(hi);
        _mm256_mask_storeu_ps(y, k, lo);
        _mm256_mask_storeu_ps(y + ld, k, hi);
        return;
    }
    __m128 q0 = _mm512_castps512_ps128(v), q1 = _mm512_extractf32x4_ps(v, 1);
    __m128 q2 = _mm512_extractf32x4_ps(v, 2), q3 = _mm512_extractf32x4_ps(v, 3);
    OPAQUE(q0);
    OPAQUE(q1);
    OPAQUE(q2);
    OPAQUE(q3);
    _mm_mask_storeu_ps(y, k, q0);
    _mm_mask_storeu_ps(y + ld, k, q1);
    _mm_mask_storeu_ps(y + 2 * ld, k, q2);
    _mm_mask_storeu_ps(y + 3 * ld, k, q3);
}
static inline vf vpack_max(int R, vf v)
{
    if (R == 2)
        v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm512_max_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
}
static inline vf vpack_sum(int R, vf v)
{
    if (R == 2)
        v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
    v = _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(1, 0, 3, 2)));
    return _mm512_add_ps(v, _mm512_permute_ps(v, _MM_SHUFFLE(2, 3, 0, 1)));
}
/* dst[j] = lane j VLEN / R of v (one row's value of each segment), j < R.
 * The low quarter is made OPAQUE as vstore_pack's segments are: without
 * it GCC stored it by a masked vextractf32x4 to memory, which faulted on
 * a guard page past dst. */
static inline void vstore_firsts(int R, float *dst, vf v)
{
    const __m512i idx = _mm512_setr_epi32(0, R == 2 ? 8 : 4, 8, 12, 0, 0, 0, 0,
                                          0, 0, 0, 0, 0, 0, 0, 0);
    __m128 f = _mm512_castps512_ps128(_mm512_permutexvar_ps(idx, v));
    OPAQUE(f);
    _mm_mask_storeu_ps(dst, (__mmask8)((1u << R) - 1), f);
}
/* Rows of 2 <= n <= VEC_LANE_COLS floats, VLEN at a time, one per lane,
 * four columns at a time, as in vec_avx2.h: a 16x4 transpose, the 128-bit
 * quarters of rows k, k + 4, k + 8 and k + 12 side by side, then a 4x4
 * transpose within each quarter. Partial pieces (w < 4) are stored from
 * OPAQUE registers (see vstore_pack). Always inline (see vec_avx2.h). */
#define VEC_LANE_COLS 16
#define LANES_INLINE static inline __attribute__((always_inline))
LANES_INLINE void transpose4_quarters(const vf a[4], vf t[4])
{
    const vf lo01 = _mm512_unpacklo_ps(a[0], a[1]), hi01 = _mm512_unpackhi_ps(a[0], a[1]);
    const vf lo23 = _mm512_unpacklo_ps(a[2], a[3]), hi23 = _mm512_unpackhi_ps(a[2], a[3]);
    t[0] = _mm512_shuffle_ps(lo01, lo23, _MM_SHUFFLE(1, 0, 1, 0));
    t[1] = _mm512_shuffle_ps(lo01, lo23, _MM_SHUFFLE(3, 2, 3, 2));
    t[2] = _mm512_shuffle_ps(hi01, hi23, _MM_SHUFFLE(1, 0, 1, 0));
    t[3] = _mm512_shuffle_ps(hi01, hi23, _MM_SHUFFLE(3, 2, 3, 2));
}
/* x[0, w) of rows x, x + 4 ld, x + 8 ld and x + 12 ld, zero-padded */
LANES_INLINE vf load_quarters(const float *x, size_t ld, size_t w)
{
    const __mmask8 k = (__mmask8)((1u << w) - 1);
    __m128 q[4];
    for (size_t i = 0; i < 4; i++)
        q[i] = w == 4 ? _mm_loadu_ps(x + 4 * i * ld) : _mm_maskz_loadu_ps(k, x + 4 * i * ld);
    const __m256 lo = _mm256_insertf128_ps(_mm256_castps128_ps256(q[0]), q[1], 1);
    const __m256 hi = _mm256_insertf128_ps(_mm256_castps128_ps256(q[2]), q[3], 1);
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}
LANES_INLINE void store_quarters(float *y, size_t ld, size_t w, vf v)
{
    const __mmask8 k = (__mmask8)((1u << w) - 1);
    __m128 q[4] = {_mm512_castps512_ps128(v), _mm512_extractf32x4_ps(v, 1),
                   _mm512_extractf32x4_ps(v, 2), _mm512_extractf32x4_ps(v, 3)};
    for (size_t i = 0; i < 4; i++) {
        if (w == 4) {
            _mm_storeu_ps(y + 4 * i * ld, q[i]);
        } else {
            OPAQUE(q[i]);
            _mm_mask_storeu_ps(y + 4 * i * ld, k, q[i]);
        }
    }
}
LANES_INLINE void vload_cols4(const float *x, size_t ld, size_t w, vf c[4])
{
    vf a[4];
    for (size_t k = 0; k < 4; k++)
        a[k] = load_quarters(x + k * ld, ld, w);
    transpose4_quarters(a, c);
}
LANES_INLINE void vstore_cols4(float *y, size_t ld, size_t w, const vf c[4])
{
    vf a[4];
    transpose4_quarters(c, a);
    for (size_t k = 0; k < 4; k++)
        store_quarters(y + k * ld, ld, w, a[k]);
}
/* VLEN class indices (small: exact in float) as floats, for vselect_eq */
static inline vf vload_index(const int32_t *t)
{
    return _mm512_cvtepi32_ps(_mm512_loadu_si512(t));
}
/* x where a == b, else y, lane by lane */
static inline vf vselect_eq(vf a, vf b, vf x, vf y)
{
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ), y, x);
}
#undef OPAQUE
/* 1.0f in lane j VLEN / R + t[j] (t[j] < VLEN / R, j < R), +0 in the
 * others: the one-hot targets of a pack of class cross-entropy rows. The
 * load takes t[0, R) alone. */
static inline vf vpack_onehot(int R, const int32_t *t)
{
    const __m512i tv = _mm512_permutexvar_epi32(
        R == 2 ? _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1)
               : _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
        _mm512_castsi128_si512(_mm_maskz_loadu_epi32((__mmask8)((1u << R) - 1), t)));
    const __m512i lane = R == 2 ? _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7)
                                : _mm512_setr_epi32(0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3);
    return _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(tv, lane), _mm512_set1_ps(1.0f));
}
/* x = 2^k f, f in [sqrt(1/2), sqrt(2)): as vec_avx2.h's */
static inline vf vsplit_sqrt2(vf x, vf *k)
{
    const __m512i b = _mm512_castps_si512(x);
    const __m512i e = _mm512_srai_epi32(_mm512_sub_epi32(b, _mm512_set1_epi32(0x3f3504f3)), 23);
    *k = _mm512_cvtepi32_ps(e);
    return _mm512_castsi512_ps(_mm512_sub_epi32(b, _mm512_slli_epi32(e, 23)));
}
static inline vf vdiv(vf a, vf b) { return _mm512_div_ps(a, b); }
/* 1 if no lane of v is infinite or NaN */
static inline int vall_finite(vf v)
{
    return _mm512_fpclass_ps_mask(v, 0x99) == 0; /* QNaN, SNaN, +inf, -inf */
}

/* lanes [0, n) of v, +0 in the others */
static inline vf vkeep_first(vf v, size_t n) { return _mm512_maskz_mov_ps(tail_mask(n), v); }

static inline float vfirst(vf a) { return _mm512_cvtss_f32(a); }
static inline float vhsum(vf a) { return _mm512_reduce_add_ps(a); }
static inline float vhmax(vf a) { return _mm512_reduce_max_ps(a); }

/* exp support (src/simd/exp.h: the table method, 16 entries). The shifter
 * nb holds 16 (floor(n) + 127) + index in its low mantissa bits, so a
 * shift by 19 moves the biased exponent of 2^floor(n) into place.
 * exp_nonpos clamps x to VEXP_LO, where n = -127 exactly (2^4 x / ln2 =
 * -2032.01) and the field built is 0: -inf and every x below give +0.
 * exp_any scales last with scalef, which computes y 2^floor(n) for any n,
 * rounding correctly into subnormals and to 0 or inf: below -110 the
 * result (< 2^-150) rounds to +0; above 89, to +inf. */
#define VEXP_TABLE_BITS 4
/* nb's table index and biased exponent, shifted to the exponent field */
#define VEXP_FIELD_SHIFT (23 - VEXP_TABLE_BITS)
#define VEXP_LO (-88.03f)
/* table[low 4 bits of each lane of idx] (vpermps) */
static inline vf vlookup(const float table[16], vf idx)
{
    return _mm512_permutexvar_ps(_mm512_castps_si512(idx), _mm512_loadu_ps(table));
}
/* T[j] 2^floor(n) for exp_nonpos (x in [VEXP_LO, 0]) in integer operations,
 * as the AVX2 layer's: nb << 19 holds the biased exponent floor(n) + 127
 * above the index j (bits 19-22), so adding it to the bits of T[j] less
 * (127 << 23 | j << 19) gives the bits of T[j] 2^floor(n), exact where that
 * is a normal float. One permute, one shift and one add, which run on any
 * vector pipe, where scalef takes two cycles of an adder's (exp.h). */
static inline vf vlookup_scaled(const float table[16], vf nb)
{
    const __m512i j = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i bias = _mm512_or_si512(_mm512_set1_epi32(127 << 23), _mm512_slli_epi32(j, VEXP_FIELD_SHIFT));
    const __m512i t = _mm512_sub_epi32(_mm512_castps_si512(_mm512_loadu_ps(table)), bias);
    const __m512i b = _mm512_castps_si512(nb);
    return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_permutexvar_epi32(b, t),
                                                _mm512_slli_epi32(b, VEXP_FIELD_SHIFT)));
}
/* xc is exp_any's clamped input: lanes at the low clamp lo (x a -inf mask,
 * a finite mask such as -1e9, the -inf padding of a tail) get +0 from the
 * mask, unscaled. A scalef whose result underflows takes a microcode assist
 * on Intel cores: log-softmax JVP and VJP with every 7th y at -inf measured
 * 24x slower on an Intel Xeon, and rows with a tail 25% slower. NaN stays
 * (unordered compares not equal). Results in the subnormal range still
 * take the assist. */
static inline vf vscale_any(vf y, vf n, vf nb, vf xc, vf lo)
{
    (void)nb;
    const __mmask16 live = _mm512_cmp_ps_mask(xc, lo, _CMP_NEQ_UQ);
    return _mm512_maskz_scalef_ps(live, y, n);
}

/* SLEEF's exp, 1.0 ulp: kept as a measured alternative (bench). */
static inline vf vexp_sleef(vf x) { return Sleef_expf16_u10avx512f(x); }

#endif /* SMX_VEC_AVX512_H */
