/* SPDX-License-Identifier: MIT */
/*
 * The vector vocabulary of src/simd/ kernels, for AVX-512 (F, DQ, VL, BW):
 * 16 floats, tails by mask registers (masked-off lanes never fault), 2^n by
 * vscalefps.
 */
#ifndef SMX_VEC_AVX512_H
#define SMX_VEC_AVX512_H

#include <immintrin.h>
#include <sleef.h>
#include <stddef.h>

#define VEC_ISA avx512
#define VEC_ISA_ENUM SMX_ISA_AVX512
#define VLEN 16

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

/* lanes [0, n) of v, +0 in the others */
static inline vf vkeep_first(vf v, size_t n) { return _mm512_maskz_mov_ps(tail_mask(n), v); }

static inline float vfirst(vf a) { return _mm512_cvtss_f32(a); }
static inline float vhsum(vf a) { return _mm512_reduce_add_ps(a); }
static inline float vhmax(vf a) { return _mm512_reduce_max_ps(a); }

/* exp support (src/simd/exp.h: the table method, 16 entries). scalef
 * computes y * 2^floor(n) for any n, rounding correctly into subnormals
 * and to 0 or inf, so one clamp range serves both versions: below -110 the
 * result (< 2^-150) rounds to +0; above 89, to +inf. */
#define VEXP_TABLE_BITS 4
#define VEXP_LO (-110.0f)
/* table[low 4 bits of each lane of idx] (vpermps) */
static inline vf vlookup(const float table[16], vf idx)
{
    return _mm512_permutexvar_ps(_mm512_castps_si512(idx), _mm512_loadu_ps(table));
}
static inline vf vscale_nonpos(vf y, vf n, vf nb)
{
    (void)nb;
    return _mm512_scalef_ps(y, n);
}
/* scalef also covers exp_any's range */
static inline vf vscale_any(vf y, vf n, vf nb) { return vscale_nonpos(y, n, nb); }

/* SLEEF's exp, 1.0 ulp: kept as a measured alternative (bench). */
static inline vf vexp_sleef(vf x) { return Sleef_expf16_u10avx512f(x); }

#endif /* SMX_VEC_AVX512_H */
