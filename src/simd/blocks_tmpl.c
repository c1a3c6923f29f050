/* SPDX-License-Identifier: MIT */
/*
 * The building blocks (block max, sums, the exp-sum pass, row statistics) and
 * the output passes every operation ends with.
 * A part of the kernel template: kernels_tmpl.c includes it, in order,
 * after the parts it builds on; not a standalone header.
 */

/* max of x[0, n). Inlined everywhere: GCC left it out of line in
 * cross-entropy's grouped rows, where the call per row cost AVX-512
 * 4096x128 3%. */
static ALWAYS_INLINE float block_max(const float *x, size_t n)
{
    vf m0 = vset1(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    size_t i = 0;
    for (; i + 4 * VLEN <= n; i += 4 * VLEN) {
        m0 = vmax(m0, vload(x + i));
        m1 = vmax(m1, vload(x + i + VLEN));
        m2 = vmax(m2, vload(x + i + 2 * VLEN));
        m3 = vmax(m3, vload(x + i + 3 * VLEN));
    }
    for (; i + VLEN <= n; i += VLEN)
        m0 = vmax(m0, vload(x + i));
    if (i < n)
        m1 = vmax(m1, vload_part(x + i, n - i, -INFINITY));
    return vhmax(vmax(vmax(m0, m1), vmax(m2, m3)));
}

/* sum of a x + b over n elements: float within blocks, double across. Used
 * for sum(max - z) (a = -1, b = max), whose terms are small where z is
 * large, and for sum(q) = sum((1 - e) p + e / n) with its weights applied
 * before anything is added. Its float runs are short: these sums feed
 * every gradient element of soft cross-entropy. With z not NULL, also the
 * max of z[0, n) (as block_max) into *zmax, from the same loop. Weights 1
 * and 0 are skipped (a multiply-add per vector: soft CE without smoothing). */
#define SUM_BLOCK 256 /* <= 16 float terms per lane with 4-lane vectors */
static ALWAYS_INLINE double row_affine_sum_max(const float *x, size_t n,
                                               float a, float b,
                                               const float *z, float *zmax)
{
    const vf va = vset1(a), vb = vset1(b);
    const int plain = a == 1.0f && b == 0.0f;
#define AFFINE(v) (plain ? (v) : vfma((v), va, vb))
    vf m0 = vset1(-INFINITY), m1 = m0;
    double total = 0.0;
    for (size_t blk = 0; blk < n; blk += SUM_BLOCK) {
        const size_t len = n - blk < SUM_BLOCK ? n - blk : SUM_BLOCK;
        const float *xb = x + blk, *zb = z ? z + blk : NULL;
        vf s0 = vzero(), s1 = s0, s2 = s0, s3 = s0; /* as in block_dot */
        size_t i = 0;
        for (; i + 4 * VLEN <= len; i += 4 * VLEN) {
            s0 = vadd(s0, AFFINE(vload(xb + i)));
            s1 = vadd(s1, AFFINE(vload(xb + i + VLEN)));
            s2 = vadd(s2, AFFINE(vload(xb + i + 2 * VLEN)));
            s3 = vadd(s3, AFFINE(vload(xb + i + 3 * VLEN)));
            if (z) {
                m0 = vmax(m0, vmax(vload(zb + i), vload(zb + i + VLEN)));
                m1 = vmax(m1, vmax(vload(zb + i + 2 * VLEN), vload(zb + i + 3 * VLEN)));
            }
        }
        for (; i + VLEN <= len; i += VLEN) {
            s0 = vadd(s0, AFFINE(vload(xb + i)));
            if (z)
                m0 = vmax(m0, vload(zb + i));
        }
        if (i < len) { /* padding lanes would add b: keep only the row's */
            s1 = vadd(s1, vkeep_first(AFFINE(vload_part(xb + i, len - i, 0.0f)),
                                      len - i));
            if (z)
                m1 = vmax(m1, vload_part(zb + i, len - i, -INFINITY));
        }
        total += vhsum(vadd(vadd(s0, s1), vadd(s2, s3)));
    }
    if (z)
        *zmax = vhmax(vmax(m0, m1));
    return total;
#undef AFFINE
}

static double row_affine_sum(const float *x, size_t n, float a, float b)
{
    return row_affine_sum_max(x, n, a, b, NULL, NULL);
}

/* Hints the cache lines (64 bytes) of [p, p + nv VLEN) towards L1, or
 * towards L2 only. row_stats's exp pass over a block prefetches the next
 * block to L1 and the one PREFETCH_L2 elements past that to L2. Without
 * the first, the max pass over a block from memory stalls with the core
 * idle, and the exps wait for it: with it, AVX-512 logsumexp 1x4M is 20%
 * faster, softmax and cross-entropy 1x4M 10-13% (interleaved A/B). The
 * second, which keeps more of memory's latency covered, adds 8-12% to
 * AVX-512 logsumexp, softmax and log-softmax 1x4M in three runs of four
 * (2% to cross-entropy; AVX2 -2% to +5%). */
#define PREFETCH_L2 (4 * BLOCK)
static ALWAYS_INLINE void prefetch_vecs(const float *p, size_t nv, int to_l1)
{
    for (size_t o = 0; o < nv * VLEN; o += 64 / sizeof(float)) {
        if (to_l1)
            __builtin_prefetch(p + o, 0, 3);
        else
            __builtin_prefetch(p + o, 0, 2);
    }
}

/* With 16 vector registers (VEC_REGS: AVX2, and 32-bit NEON, not
 * measured there), the exp-sum loop's constants, four exps in flight and
 * four accumulators do not fit: GCC kept three accumulators on the stack,
 * each add a load and a store. Two chains instead, where the adds'
 * latency still hides behind the exps.
 * Interleaved A/B, AVX2 on an Intel Xeon, 42 cases of softmax,
 * log-softmax, logsumexp and class cross-entropy: 1024x1024 0.90-0.98 of
 * the time, 4096x128 0.95-1.02, 64x1000 0.97-1.00, the rest 0.96-1.01.
 * (One chain of pairwise sums, or two chains each adding a pair, measured
 * 0.92-1.07.) */
#define VEC_FEW_REGS (VEC_REGS < 32)
/* The third and fourth of four chains of sums s0-s3: with few registers,
 * the first and second again */
#if VEC_FEW_REGS
#define CHAIN_S2 s0
#define CHAIN_S3 s1
#else
#define CHAIN_S2 s2
#define CHAIN_S3 s3
#endif

/* sum of expfn(x - m) over n <= BLOCK elements, also stored to y unless y
 * is NULL; with store_diff, y gets x - m instead (log-softmax). Meanwhile
 * it prefetches from `ahead`, whose first ahead_n elements are readable
 * (see prefetch_4_vecs): the whole 4-vector groups of [0, min(n, ahead_n))
 * to L1, and of [PREFETCH_L2, PREFETCH_L2 + n) within those ahead_n to L2.
 * Inlined with constant arguments, so each use is specialized. */
static ALWAYS_INLINE float block_exp_sum(const float *x, size_t n, float m,
                                         float *y, vf (*expfn)(vf),
                                         int store_diff, const float *ahead,
                                         size_t ahead_n)
{
    const vf vm = vset1(m);
    vf s0 = vzero(), s1 = s0, s2 = s0, s3 = s0;
#define EXP_STEP(dst, src, acc)                                                \
    do {                                                                       \
        const vf d_ = vsub(src, vm), e_ = expfn(d_);                           \
        if (y)                                                                 \
            vstore(dst, store_diff ? d_ : e_);                                 \
        acc = vadd(acc, e_);                                                   \
    } while (0)
    size_t i = 0;
    for (; i + 4 * VLEN <= n; i += 4 * VLEN) {
        if (i + 4 * VLEN <= ahead_n) /* never past the row */
            prefetch_vecs(ahead + i, 4, 1);
        if (i + 4 * VLEN + PREFETCH_L2 <= ahead_n)
            prefetch_vecs(ahead + PREFETCH_L2 + i, 4, 0);
        EXP_STEP(y + i, vload(x + i), s0);
        EXP_STEP(y + i + VLEN, vload(x + i + VLEN), s1);
        EXP_STEP(y + i + 2 * VLEN, vload(x + i + 2 * VLEN), CHAIN_S2);
        EXP_STEP(y + i + 3 * VLEN, vload(x + i + 3 * VLEN), CHAIN_S3);
    }
    for (; i + VLEN <= n; i += VLEN)
        EXP_STEP(y + i, vload(x + i), s0);
#undef EXP_STEP
    if (i < n) { /* -inf fill: exp gives 0 there */
        const vf d = vsub(vload_part(x + i, n - i, -INFINITY), vm), e = expfn(d);
        if (y)
            vstore_part(y + i, store_diff ? d : e, n - i);
        s1 = vadd(s1, e);
    }
    return vhsum(vadd(vadd(s0, s1), vadd(s2, s3)));
}

/* sum of exp(x - m) over a row of n <= SHORT_ROW elements whose max is m,
 * the exps (or x - m, see block_exp_sum) stored to y: float by block,
 * double across blocks. A row of one block prefetches the n elements at
 * `ahead` (if not NULL) meanwhile, as block_exp_sum does. */
static ALWAYS_INLINE double row_exp_store_sum(const float *x, size_t n,
                                              float m, float *y,
                                              vf (*expfn)(vf), int store_diff,
                                              const float *ahead)
{
    if (n <= BLOCK)
        return block_exp_sum(x, n, m, y, expfn, store_diff, ahead, ahead ? n : 0);
    double s = 0.0;
    /* (longer rows prefetching their next block measured no gain) */
    for (size_t b = 0; b < n; b += BLOCK)
        s += block_exp_sum(x + b, n - b < BLOCK ? n - b : BLOCK, m, y + b,
                           expfn, store_diff, NULL, 0);
    return s;
}

/* Row statistics in one pass over memory. Returns 0 (and leaves *max_out
 * NaN or infinite) when the row's maximum is not finite, for the scalar
 * reference to handle. *sum_out is NaN when the row holds a NaN. */
static int row_stats(const float *x, size_t n, float *max_out,
                     double *sum_out)
{
    float m = -INFINITY;
    double s = 0.0;
    for (size_t b = 0; b < n; b += BLOCK) {
        const size_t len = n - b < BLOCK ? n - b : BLOCK;
        const float bm = block_max(x + b, len);
        if (bm == -INFINITY)
            continue; /* a fully masked block adds nothing */
        if (!isfinite(bm)) {
            *max_out = bm;
            return 0;
        }
        if (bm > m) {
            if (s != 0.0) /* the first block has nothing to rescale */
                s *= exp((double)m - (double)bm);
            m = bm;
        }
        s += block_exp_sum(x + b, len, m, NULL, exp_nonpos, 0, x + b + len,
                           n - b - len); /* the next block's max is next */
    }
    *max_out = m;
    *sum_out = s;
    return m != -INFINITY;
}

static void fill(float *y, size_t n, float v)
{
    const vf vv = vset1(v);
    size_t i = 0;
    for (; i + VLEN <= n; i += VLEN)
        vstore(y + i, vv);
    if (i < n)
        vstore_part(y + i, vv, n - i);
}

/* ---- output passes ----------------------------------------------------------- */

/* The log-softmax ops take exp of their input y, which is <= 0 for any
 * log-softmax output, but any y must work. Where the vector layer's exp_any
 * costs much more than exp_nonpos (VEXP_ANY_COSTLY: AVX2, 8 vector ops),
 * the reduction pass of each row also takes max(y), and where no y is
 * positive, exp_nonpos serves: a third fewer operations per element (see
 * the JVPs and VJPs, backward_tmpl.c). */
#ifndef VEXP_ANY_COSTLY
#define VEXP_ANY_COSTLY 0
#endif

#ifndef VEC_FLUSHES_SUBNORMALS /* ARMv7 NEON reads and writes them as 0 */
#define VEC_FLUSHES_SUBNORMALS 0
#endif

#ifndef VEC_HAS_STREAM /* a vector layer without non-temporal stores */
#define VEC_HAS_STREAM 0
static inline void vstream(float *p, vf v) { vstore(p, v); }
static inline void vstream_fence(void) {}
#endif

#ifndef VEC_HAS_FMA_NONZERO
/* acc + q t where q != 0 (or q is NaN), acc where q == 0 */
static inline vf vfma_nonzero(vf q, vf t, vf acc)
{
    return vfma(q, vkeep_nonzero(q, t), acc);
}
#endif

/* What the last pass of each operation computes, element by element, from
 * x (and x2 for the backward ops) with per-row constants m, a, b. */
enum out_kind {
    OUT_AFFINE,      /* a x + b                         (scale a stored exp) */
    OUT_SOFTMAX,     /* a exp(x - m)                    a = 1 / S */
    OUT_LOG_SOFTMAX, /* (x - m) - a                     a = log S */
    OUT_GRAD,        /* a exp(x - m) + b                cross-entropy */
    OUT_SHIFT,       /* x - a                (a stored x - m: log-softmax) */
    OUT_JVP,         /* x (x2 - a)                      softmax JVP, a = <y, v> */
    OUT_LSM_JVP,     /* x2 - a                          a = <exp(y), v> */
    OUT_LSM_VJP,     /* exp(x) a + x2                   a = -sum(g) */
    OUT_LSM_VJP_NONPOS, /* the same where every x <= 0 (VEXP_ANY_COSTLY) */
    OUT_SOFT_GRAD,   /* a x + (m x2 + b) c  soft CE, x = exp(d), x2 = p:
                        m = keep, b = spread, c = -scale */
    OUT_SOFT_GRAD_Q, /* a x + x2 c          the same from q: x2 = q, or p
                                            without smoothing */
    OUT_SOFT_GRAD_UNIT /* a x - x2          the same with scale 1 */
};

/* The soft cross-entropy gradient a exp(d) - c q, with nc = -c */
static ALWAYS_INLINE vf soft_grad(vf e, vf q, vf a, vf nc)
{
    return vfma(e, a, vmul(q, nc));
}

typedef struct out_params {
    vf m, a, b, c; /* c: the soft gradient's only (params sets it 0) */
} out_params;

static ALWAYS_INLINE vf out_value(enum out_kind k, vf x, vf x2,
                                  const out_params *p)
{
    switch (k) {
    case OUT_AFFINE: return vfma(x, p->a, p->b);
    case OUT_SOFTMAX: return vmul(exp_nonpos(vsub(x, p->m)), p->a);
    case OUT_LOG_SOFTMAX: return vsub(vsub(x, p->m), p->a);
    case OUT_GRAD: return vfma(exp_nonpos(vsub(x, p->m)), p->a, p->b);
    case OUT_SHIFT: return vsub(x, p->a);
    case OUT_JVP: return vmul(x, vsub(x2, p->a));
    case OUT_LSM_JVP: return vsub(x2, p->a);
    case OUT_LSM_VJP: return vfma(exp_any(x), p->a, x2);
    case OUT_SOFT_GRAD: return soft_grad(x, vfma(x2, p->m, p->b), p->a, p->c);
    case OUT_SOFT_GRAD_Q: return soft_grad(x, x2, p->a, p->c);
    case OUT_SOFT_GRAD_UNIT: return vfmsub(x, p->a, x2);
    default: return vfma(exp_nonpos(x), p->a, x2);
    }
}

#ifndef VEC_ALIGN_STORES /* see out_head */
#define VEC_ALIGN_STORES 0
#endif

/* Where the vector layer asks (VEC_ALIGN_STORES), a row of 4 vectors or
 * more first writes y[0, h) = out_value(x, x2) from a partial vector, up
 * to the vector size's alignment, so that no store of the rest crosses a
 * cache line; returns h. AVX-512 on an Intel Xeon, which splits such
 * stores, interleaved A/B: softmax 64x1001 7% faster, 64x1000 (every
 * other row 32 bytes off) 5%, CE 64x1000 3-4%; aligned rows within 1%.
 * AVX2 does not ask: softmax 64x1001 gained 3%, but aligned rows, all of
 * the bench's for 8-float vectors, lost 2-7%. Each element is computed
 * alone, so its bits do not depend on the alignment. Padding lanes compute
 * garbage that is never stored. */
static ALWAYS_INLINE size_t out_head(enum out_kind k, const float *x,
                                     const float *x2, float *y, size_t n,
                                     const out_params *p)
{
    if (!VEC_ALIGN_STORES || n < 4 * VLEN)
        return 0;
    const size_t h = (VLEN - (uintptr_t)y / sizeof(float) % VLEN) % VLEN;
    if (h) {
        const int two = k >= OUT_JVP;
        vstore_part(y, out_value(k, vload_part(x, h, 0.0f),
                                 two ? vload_part(x2, h, 0.0f) : vzero(), p), h);
    }
    return h;
}

/* A streamed pass (rows past the caches) prefetches the inputs it reads
 * this many elements ahead, to L2: the hardware prefetcher alone left the
 * loads waiting on memory whenever the pass computed an exp. Intel Xeon,
 * the bench's 1x4194304, interleaved, time against before: softmax 0.91
 * (AVX-512) and 0.74 (AVX2), cross-entropy 0.88 and 0.70, log-softmax
 * 0.90, log-softmax JVP 0.91-0.92 and VJP 0.88-0.94, softmax JVP/VJP
 * 0.97-0.99 (at the memory floor). Prefetching to L1 instead gained 2-6%
 * less; half or twice the distance measured the same. */
#define STREAM_AHEAD (2 * BLOCK)

/* y[i] = out_value(x[i], x2[i]) for i in [0, n), aligned as out_head
 * does unless `stream`, which needs y aligned to the vector size. Padding
 * lanes of the tail compute garbage that is never stored. */
static ALWAYS_INLINE void out_range(enum out_kind k, const float *x,
                                    const float *x2, float *y, size_t n,
                                    const out_params *p, int stream)
{
    const int two = k >= OUT_JVP, reads_x = k != OUT_LSM_JVP; /* x2 - a */
    size_t i = stream ? 0 : out_head(k, x, x2, y, n, p);
    for (; i + 2 * VLEN <= n; i += 2 * VLEN) {
        if (stream && i + STREAM_AHEAD + 2 * VLEN <= n) { /* never past the row */
            if (reads_x)
                prefetch_vecs(x + i + STREAM_AHEAD, 2, 0);
            if (two)
                prefetch_vecs(x2 + i + STREAM_AHEAD, 2, 0);
        }
        const vf a = out_value(k, vload(x + i), two ? vload(x2 + i) : vzero(), p);
        const vf b = out_value(k, vload(x + i + VLEN),
                               two ? vload(x2 + i + VLEN) : vzero(), p);
        if (stream) {
            vstream(y + i, a);
            vstream(y + i + VLEN, b);
        } else {
            vstore(y + i, a);
            vstore(y + i + VLEN, b);
        }
    }
    for (; i + VLEN <= n; i += VLEN) {
        const vf a = out_value(k, vload(x + i), two ? vload(x2 + i) : vzero(), p);
        if (stream)
            vstream(y + i, a);
        else
            vstore(y + i, a);
    }
    if (i < n) {
        const vf a = out_value(k, vload_part(x + i, n - i, 0.0f),
                               two ? vload_part(x2 + i, n - i, 0.0f) : vzero(), p);
        vstore_part(y + i, a, n - i);
    }
}

/* The last pass over a row. A row larger than the caches writes its aligned
 * body with non-temporal stores, which skip the read for ownership and
 * leave the cache to the inputs. (Walking such rows backwards, to reuse what
 * the previous pass left in cache, measured slower: it defeats the hardware
 * prefetcher.) */
static ALWAYS_INLINE void out_row(enum out_kind k, const float *x,
                                  const float *x2, float *y, size_t n,
                                  const out_params *p)
{
    if (!VEC_HAS_STREAM || n <= SHORT_ROW) {
        out_range(k, x, x2, y, n, p, 0);
        return;
    }
    const size_t align = VLEN * sizeof(float);
    const size_t head = (align - (uintptr_t)y % align) % align / sizeof(float);
    const size_t body_end = head + (n - head) / VLEN * VLEN;
#define AT(ptr, i) ((ptr) ? (ptr) + (i) : NULL)
    out_range(k, x + body_end, AT(x2, body_end), y + body_end, n - body_end, p, 0);
    out_range(k, x + head, AT(x2, head), y + head, body_end - head, p, 1);
    out_range(k, x, x2, y, head, p, 0);
#undef AT
    vstream_fence(); /* order the streamed stores before the return */
}

static out_params params(float m, float a, float b)
{
    const out_params p = {vset1(m), vset1(a), vset1(b), vzero()};
    return p;
}
