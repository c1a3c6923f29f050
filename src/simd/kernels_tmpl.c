/* SPDX-License-Identifier: MIT */
/*
 * Every operation, written once against the vector vocabulary of a
 * vec_<isa>.h header, which the including file (kernels_<isa>.c) provides.
 *
 * Structure:
 * - Rows are processed in blocks of BLOCK elements. Sums are taken in float
 *   within a block (at most BLOCK / (4 VLEN) terms per lane) and added up in
 *   double across blocks, which keeps the accuracy bar for rows of 2^20 and
 *   more, where a running float sum would not.
 * - Row statistics (max M and S = sum exp(x - M)) come from one pass over
 *   memory, "online" by block: each block's max is taken while the block is
 *   in L1, S is rescaled when M grows, then the block's exps are summed.
 * - Softmax and cross-entropy (class or soft targets, with a gradient) of
 *   rows that fit in cache store exp(x - M) during the sum and turn it into
 *   the output afterwards (one exp per element); log-softmax stores x - M
 *   and subtracts log S. Longer rows recompute the exp (or x - M) in the
 *   output pass instead (two reads of x, one write of y, rather than two
 *   reads and two writes). Rows of up to 8 vectors stay in registers from
 *   load to store.
 * - Backward ops write row r while they reduce row r + 1 (one loop, so the
 *   reduction's loads issue beside the output's stores).
 * - A row whose maximum is NaN or infinite is handed to the scalar reference,
 *   which defines those limits; a NaN elsewhere shows up as a NaN sum, and
 *   the row's results are NaN. So is a soft cross-entropy row whose targets
 *   sum to inf or NaN.
 */
#include <math.h>
#include <stdint.h>

#include "../kernels.h"
#include "../scalar/scalar.h"
#include "exp.h"
#include "log.h"

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)

#define BLOCK 2048                 /* elements; 8 KiB stays in L1 */
#define SHORT_ROW ((size_t)1 << 18) /* store-then-scale up to this (1 MiB) */
/* Rows up to GROUP_ROW elements are processed GROUP at a time, phase by
 * phase (all maxima, then all sums, then all outputs): each row alone is a
 * serial chain of reductions, and side by side the chains overlap. */
#define GROUP 4
#define GROUP_ROW 1024 /* <= BLOCK: a grouped row is one block */

/* ---- building blocks ---------------------------------------------------- */

static float block_max(const float *x, size_t n)
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

/* Hints the cache lines (64 bytes) of [p, p + 4 VLEN) towards L1, or
 * towards L2 only. row_stats's exp pass over a block prefetches the next
 * block to L1 and the one PREFETCH_L2 elements past that to L2. Without
 * the first, the max pass over a block from memory stalls with the core
 * idle, and the exps wait for it: with it, AVX-512 logsumexp 1x4M is 20%
 * faster, softmax and cross-entropy 1x4M 10-13% (interleaved A/B). The
 * second, which keeps more of memory's latency covered, adds 8-12% to
 * AVX-512 logsumexp, softmax and log-softmax 1x4M in three runs of four
 * (2% to cross-entropy; AVX2 -2% to +5%). */
#define PREFETCH_L2 (4 * BLOCK)
static ALWAYS_INLINE void prefetch_4_vecs(const float *p, int to_l1)
{
    for (size_t o = 0; o < 4 * VLEN; o += 64 / sizeof(float)) {
        if (to_l1)
            __builtin_prefetch(p + o, 0, 3);
        else
            __builtin_prefetch(p + o, 0, 2);
    }
}

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
            prefetch_4_vecs(ahead + i, 1);
        if (i + 4 * VLEN + PREFETCH_L2 <= ahead_n)
            prefetch_4_vecs(ahead + PREFETCH_L2 + i, 0);
        EXP_STEP(y + i, vload(x + i), s0);
        EXP_STEP(y + i + VLEN, vload(x + i + VLEN), s1);
        EXP_STEP(y + i + 2 * VLEN, vload(x + i + 2 * VLEN), s2);
        EXP_STEP(y + i + 3 * VLEN, vload(x + i + 3 * VLEN), s3);
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
 * the JVPs and VJPs below). */
#ifndef VEXP_ANY_COSTLY
#define VEXP_ANY_COSTLY 0
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
    OUT_LSM_VJP_NONPOS /* the same where every x <= 0 (VEXP_ANY_COSTLY) */
};

typedef struct out_params {
    vf m, a, b;
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
    default: return vfma(exp_nonpos(x), p->a, x2);
    }
}

/* y[i] = out_value(x[i], x2[i]) for i in [0, n); `stream` needs y aligned
 * to the vector size. Padding lanes of the tail compute garbage that is
 * never stored. */
static ALWAYS_INLINE void out_range(enum out_kind k, const float *x,
                                    const float *x2, float *y, size_t n,
                                    const out_params *p, int stream)
{
    const int two = k >= OUT_JVP;
    size_t i = 0;
    for (; i + 2 * VLEN <= n; i += 2 * VLEN) {
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
    const out_params p = {vset1(m), vset1(a), vset1(b)};
    return p;
}

/* ---- rows held in registers ----------------------------------------------- */

/* Softmax of a row of at most REG_VECS vectors: loaded once and kept in
 * registers through max, exp and sum to its one output store; no second
 * read of x, no stored exps read back. On rows of 128 floats (AVX-512) it
 * took 15-20% less time than the grouped passes below. Log-softmax,
 * logsumexp and cross-entropy measured 10-20% slower this way on many
 * rows (log-softmax on AVX-512 4096x128: 15% slower still, after its
 * grouped passes began to store x - M): their grouped passes overlap four
 * rows' chains of reductions and log, which one row at a time serializes.
 * They use it only for a lone row.
 * The loops over j are unrolled completely, so v[] lives in registers;
 * the j < nv tests are per row, and predicted. */
#define REG_VECS 8
#if defined(__clang__)
#define UNROLL_ALL _Pragma("unroll")
#elif defined(__GNUC__)
#define UNROLL_ALL _Pragma("GCC unroll 16")
#else
#define UNROLL_ALL
#endif

typedef struct reg_row {
    vf v[REG_VECS];
    size_t nv;   /* vectors in use, >= 1 */
    size_t last; /* elements of the row in v[nv - 1], 1..VLEN */
} reg_row;

/* Loads x[0, n), 0 < n <= REG_VECS VLEN, the last vector's padding lanes
 * -inf (exp gives 0 there); returns the max. */
static ALWAYS_INLINE float reg_row_load_max(reg_row *r, const float *x,
                                            size_t n)
{
    r->nv = (n + VLEN - 1) / VLEN;
    r->last = n - (r->nv - 1) * VLEN;
    vf m0 = vset1(-INFINITY), m1 = m0;
    UNROLL_ALL
    for (size_t j = 0; j < REG_VECS; j++) {
        if (j + 1 < r->nv || (j + 1 == r->nv && r->last == VLEN))
            r->v[j] = vload(x + j * VLEN);
        else if (j + 1 == r->nv)
            r->v[j] = vload_part(x + j * VLEN, r->last, -INFINITY);
        else
            r->v[j] = vset1(-INFINITY); /* never used */
        if (j < r->nv) {
            if (j & 1)
                m1 = vmax(m1, r->v[j]);
            else
                m0 = vmax(m0, r->v[j]);
        }
    }
    return vhmax(vmax(m0, m1));
}

/* The sum of exp(v - m); the exps replace v when `keep` is set. */
static ALWAYS_INLINE float reg_row_exp_sum(reg_row *r, float m, int keep)
{
    const vf vm = vset1(m);
    vf s0 = vzero(), s1 = s0;
    UNROLL_ALL
    for (size_t j = 0; j < REG_VECS; j++) {
        if (j < r->nv) {
            const vf e = exp_nonpos(vsub(r->v[j], vm));
            if (keep)
                r->v[j] = e;
            if (j & 1)
                s1 = vadd(s1, e);
            else
                s0 = vadd(s0, e);
        }
    }
    return vhsum(vadd(s0, s1));
}

/* y = out_value(k, v) over the row */
static ALWAYS_INLINE void reg_row_store(const reg_row *r, enum out_kind k,
                                       const out_params *p, float *y)
{
    UNROLL_ALL
    for (size_t j = 0; j < REG_VECS; j++) {
        const vf o = out_value(k, r->v[j], vzero(), p);
        if (j + 1 < r->nv || (j + 1 == r->nv && r->last == VLEN))
            vstore(y + j * VLEN, o);
        else if (j + 1 == r->nv)
            vstore_part(y + j * VLEN, o, r->last);
    }
}

/* The scalar reference's softmax (log_domain 0) or log-softmax of a row */
static void rowwise_row_scalar(int log_domain, size_t n, const float *x,
                               float *y)
{
    if (log_domain)
        smx_log_softmax_row_scalar(n, x, y);
    else
        smx_softmax_row_scalar(n, x, y);
}

/* Softmax (log_domain 0) or log-softmax of one register row. Log-softmax
 * goes this way only for a lone row: with nothing to overlap its chain of
 * reductions and log with, that chain's latency is the time (1x64
 * logsumexp on AVX-512: 72 -> 48 ns a call). */
static ALWAYS_INLINE void rowwise_row_regs(int log_domain, size_t n,
                                           const float *x, float *y)
{
    reg_row r;
    const float m = reg_row_load_max(&r, x, n);
    if (!isfinite(m)) {
        rowwise_row_scalar(log_domain, n, x, y);
        return;
    }
    const float s = reg_row_exp_sum(&r, m, !log_domain);
    if (isnan(s)) {
        fill(y, n, NAN);
        return;
    }
    if (log_domain) {
        const out_params p = params(m, (float)log_inline(s), 0.0f);
        reg_row_store(&r, OUT_LOG_SOFTMAX, &p, y);
    } else {
        const out_params p = params(0.0f, (float)(1.0 / (double)s), 0.0f);
        reg_row_store(&r, OUT_AFFINE, &p, y);
    }
}

static float logsumexp_row_regs(size_t n, const float *x)
{
    reg_row r;
    const float m = reg_row_load_max(&r, x, n);
    if (!isfinite(m))
        return smx_logsumexp_row_scalar(n, x);
    const float s = reg_row_exp_sum(&r, m, 0); /* NaN gives NaN */
    return (float)((double)m + log_inline(s));
}

/* ---- softmax, log-softmax, logsumexp -------------------------------------- */

/* Softmax (log_domain 0) or log-softmax of up to GROUP rows that fit in
 * cache: max, exp-sum storing exp(x - M) (softmax) or x - M (log-softmax),
 * then the output from the stored values, each phase over all the rows
 * before the next. Log-softmax stores x - M to subtract log S alone at the
 * end: y = (x - M) - log S as before, two roundings, so |d| large and |y|
 * small stays accurate (x - (M + log S) would not), with one subtraction
 * fewer in the last pass. `next`, if not NULL, is the first of g more rows
 * (ldx apart, as long) to prefetch during the exp-sum phase, for the next
 * group's max phase: AVX-512 softmax and log-softmax 1024x1024 5-8%
 * faster, 4096x128 2-4%, 64x1000 2% (AVX2: -3% to +3%). */
static ALWAYS_INLINE void rowwise_rows_short(int log_domain, size_t g,
                                             size_t n, const float *x,
                                             size_t ldx, float *y, size_t ldy,
                                             vf (*expfn)(vf), const float *next)
{
    float m[GROUP];
    double s[GROUP] = {0}; /* read only where set, as GCC cannot always see */
    for (size_t k = 0; k < g; k++)
        m[k] = block_max(x + k * ldx, n);
    for (size_t k = 0; k < g; k++) {
        const float *xk = x + k * ldx;
        float *yk = y + k * ldy;
        if (!isfinite(m[k])) {
            rowwise_row_scalar(log_domain, n, xk, yk);
            continue;
        }
        s[k] = row_exp_store_sum(xk, n, m[k], yk, expfn, log_domain,
                                 next ? next + k * ldx : NULL);
    }
    for (size_t k = 0; k < g; k++) {
        float *yk = y + k * ldy;
        if (!isfinite(m[k]))
            continue;
        if (isnan(s[k]))
            fill(yk, n, NAN);
        else if (log_domain) {
            const out_params p = params(0.0f, (float)log_inline(s[k]), 0.0f);
            out_row(OUT_SHIFT, yk, NULL, yk, n, &p);
        } else {
            const out_params p = params(0.0f, (float)(1.0 / s[k]), 0.0f);
            out_row(OUT_AFFINE, yk, NULL, yk, n, &p);
        }
    }
}

/* Long rows: one statistics pass, then y = exp(x - M) / S (softmax) or
 * (x - M) - log S (log-softmax). */
static void rowwise_row_long(int log_domain, size_t n, const float *x,
                             float *y)
{
    float m;
    double s;
    if (!row_stats(x, n, &m, &s)) {
        rowwise_row_scalar(log_domain, n, x, y);
        return;
    }
    if (isnan(s)) {
        fill(y, n, NAN);
        return;
    }
    if (log_domain) {
        const out_params p = params(m, (float)log_inline(s), 0.0f);
        out_row(OUT_LOG_SOFTMAX, x, NULL, y, n, &p);
    } else {
        const out_params p = params(m, (float)(1.0 / s), 0.0f);
        out_row(OUT_SOFTMAX, x, NULL, y, n, &p);
    }
}

/* A lone row of at most REG_VECS vectors goes through registers (see
 * there); from two rows on, the grouped passes overlap their chains. */
static int lone_short_row(size_t rows, size_t cols)
{
    return rows == 1 && cols <= REG_VECS * VLEN;
}

/* Softmax (log_domain 0) or log-softmax, the structure chosen by row
 * length. Softmax keeps every row of up to REG_VECS vectors in registers,
 * log-softmax only a lone one (see rowwise_row_regs). */
static ALWAYS_INLINE void rowwise(int log_domain, size_t rows, size_t cols,
                                  const float *x, size_t ldx, float *y,
                                  size_t ldy)
{
    if (log_domain ? lone_short_row(rows, cols) : cols <= REG_VECS * VLEN) {
        /* Full rows get a copy with their length constant: straight-line
         * code. With the length variable, GCC's register allocation for
         * it depends on the code around it: a change elsewhere in this
         * function made it spill the row's sum on AVX2 (1x64 softmax 32
         * -> 43 ns a call); the constant-length copy measured 30.5. */
        if (cols == REG_VECS * VLEN)
            for (size_t r = 0; r < rows; r++)
                rowwise_row_regs(log_domain, REG_VECS * VLEN, x + r * ldx,
                                 y + r * ldy);
        else
            for (size_t r = 0; r < rows; r++)
                rowwise_row_regs(log_domain, cols, x + r * ldx, y + r * ldy);
        return;
    }
    if (cols > SHORT_ROW) {
        for (size_t r = 0; r < rows; r++)
            rowwise_row_long(log_domain, cols, x + r * ldx, y + r * ldy);
        return;
    }
    const size_t group = cols <= GROUP_ROW ? GROUP : 1;
    for (size_t r = 0; r < rows; r += group) {
        const size_t g = rows - r < group ? rows - r : group;
        rowwise_rows_short(log_domain, g, cols, x + r * ldx, ldx, y + r * ldy,
                           ldy, exp_nonpos,
                           r + 2 * group <= rows ? x + (r + group) * ldx : NULL);
    }
}

static void softmax(size_t rows, size_t cols, const float *x, size_t ldx,
                    float *y, size_t ldy)
{
    rowwise(0, rows, cols, x, ldx, y, ldy);
}

static void log_softmax(size_t rows, size_t cols, const float *x, size_t ldx,
                        float *y, size_t ldy)
{
    rowwise(1, rows, cols, x, ldx, y, ldy);
}

/* The same structure with SLEEF's exp (declared in kernels.h). */
void CAT(smx_softmax_sleef, VEC_ISA)(size_t rows, size_t cols,
                                     const float *x, size_t ldx, float *y,
                                     size_t ldy)
{
    for (size_t r = 0; r < rows; r++)
        rowwise_rows_short(0, 1, cols, x + r * ldx, ldx, y + r * ldy, ldy,
                           vexp_sleef, NULL);
}

/* Row statistics for up to GROUP rows, phase by phase. */
typedef struct stats {
    float max;
    double sum;
    int finite; /* 0: the max is NaN or infinite, see row_stats */
} stats;

static size_t group_stats(size_t rows, size_t cols, const float *x,
                          size_t ldx, stats *st)
{
    const size_t g = cols > GROUP_ROW ? 1 : rows < GROUP ? rows : GROUP;
    if (g == 1) {
        st[0].finite = row_stats(x, cols, &st[0].max, &st[0].sum);
        return 1;
    }
    /* Rows of one block: all maxima, then all sums (see GROUP). */
    for (size_t k = 0; k < g; k++) {
        st[k].max = block_max(x + k * ldx, cols);
        st[k].finite = isfinite(st[k].max);
    }
    for (size_t k = 0; k < g; k++)
        if (st[k].finite)
            st[k].sum = block_exp_sum(x + k * ldx, cols, st[k].max, NULL,
                                      exp_nonpos, 0, NULL, 0);
    return g;
}

static void logsumexp(size_t rows, size_t cols, const float *x, size_t ldx,
                      float *lse)
{
    if (lone_short_row(rows, cols)) {
        lse[0] = logsumexp_row_regs(cols, x);
        return;
    }
    stats st[GROUP];
    for (size_t r = 0; r < rows;) {
        const size_t g = group_stats(rows - r, cols, x + r * ldx, ldx, st);
        for (size_t k = 0; k < g; k++, r++)
            lse[r] = st[k].finite /* a NaN sum gives NaN */
                         ? (float)((double)st[k].max + log_inline(st[k].sum))
                         : smx_logsumexp_row_scalar(cols, x + r * ldx);
    }
}

/* ---- JVPs and VJPs ---------------------------------------------------------- */

/* The per-row constant of a backward op: <y, v> (softmax), <exp(y), v>
 * (log-softmax JVP) or sum(v) (log-softmax VJP, v = g). */
enum dot_kind { DOT_Y_V, DOT_EXPY_V, DOT_EXPY_V_NONPOS, SUM_V };

/* Whether the reduction for output kind k also takes max(y) (see
 * VEXP_ANY_COSTLY): the log-softmax JVP's to know whether the exps it took
 * with exp_nonpos were right, the VJP's to choose the exp of its output
 * pass. Folded into the reduction, the check needs no pass of its own
 * over each block: AVX2 log-softmax JVP 3-6% and VJP 3-19% faster on most
 * bench shapes (interleaved A/B; 4096x128 JVP and 1024x1024 VJP 2-3%
 * slower). */
static ALWAYS_INLINE int tracks_ymax(enum out_kind k)
{
    return VEXP_ANY_COSTLY &&
           (k == OUT_LSM_JVP || k == OUT_LSM_VJP || k == OUT_LSM_VJP_NONPOS);
}

/* One step of that reduction: acc + w(y) v, or acc + v (y's load, unused,
 * is dropped by the compiler). */
static ALWAYS_INLINE vf dot_term(enum dot_kind d, vf y, vf v, vf acc)
{
    switch (d) {
    case DOT_Y_V: return vfma(y, v, acc);
    case DOT_EXPY_V: return vfma(exp_any(y), v, acc);
    case DOT_EXPY_V_NONPOS: return vfma(exp_nonpos(y), v, acc);
    default: return vadd(acc, v);
    }
}

/* With ymax, also its max with y, as vmax(y, m): x86's max returns its
 * second operand when either is NaN, so NaNs are skipped rather than
 * displacing an earlier +inf (the reverse order lets them: a fuzzer find).
 * A NaN y gives NaN through either exp. */
static ALWAYS_INLINE vf dot_step(enum dot_kind d, vf y, vf v, vf acc,
                                 vf *ymax)
{
    if (ymax)
        *ymax = vmax(y, *ymax);
    return dot_term(d, y, v, acc);
}

/* The reduction over n <= BLOCK elements, in float (4 chains in flight),
 * and max(y) into *ymax unless ymax is NULL. Padding lanes of the tail give
 * w(y) * 0 = 0 (exp(-inf) = 0). */
static ALWAYS_INLINE float block_dot(enum dot_kind d, const float *y,
                                     const float *v, size_t n, vf *ymax)
{
    vf s0 = vzero(), s1 = s0, s2 = s0, s3 = s0;
#define STEP(s, i) s = dot_step(d, vload(y + (i)), vload(v + (i)), s, ymax)
    size_t i = 0;
    for (; i + 4 * VLEN <= n; i += 4 * VLEN) {
        STEP(s0, i);
        STEP(s1, i + VLEN);
        STEP(s2, i + 2 * VLEN);
        STEP(s3, i + 3 * VLEN);
    }
    for (; i + VLEN <= n; i += VLEN)
        STEP(s0, i);
#undef STEP
    if (i < n) {
        const float fill = d == DOT_EXPY_V || d == DOT_EXPY_V_NONPOS ? -INFINITY : 0.0f;
        s1 = dot_step(d, vload_part(y + i, n - i, fill),
                      vload_part(v + i, n - i, 0.0f), s1, ymax);
    }
    return vhsum(vadd(vadd(s0, s1), vadd(s2, s3)));
}

/* The reduction of kind d as taken first for output kind k: the tracked
 * JVP takes its exps with exp_nonpos (see block_dot_end) */
static ALWAYS_INLINE enum dot_kind dot_first(enum out_kind k, enum dot_kind d)
{
    return tracks_ymax(k) && d == DOT_EXPY_V ? DOT_EXPY_V_NONPOS : d;
}

/* After a block [0, n) of y, v reduced as dot_first(k, d) into `sum`, with
 * max(y) in *bmax where tracked: a JVP block with some y > 0 is taken again
 * with exp_any (nothing is written from it). Adds the block's max(y) to
 * *ymax; returns the block's reduction. */
static ALWAYS_INLINE float block_dot_end(enum out_kind k, enum dot_kind d,
                                         const float *y, const float *v,
                                         size_t n, float sum, vf bmax,
                                         float *ymax)
{
    if (!tracks_ymax(k))
        return sum;
    const float m = vhmax(bmax);
    if (m > *ymax)
        *ymax = m;
    if (d == DOT_EXPY_V && m > 0.0f)
        return block_dot(DOT_EXPY_V, y, v, n, NULL);
    return sum;
}

/* A row's reduction, float within blocks, double across; *ymax (tracked
 * kinds only) gets max(y) */
static ALWAYS_INLINE double row_dot(enum out_kind k, enum dot_kind d,
                                    const float *y, const float *v, size_t n,
                                    float *ymax)
{
    double s = 0.0;
    *ymax = -INFINITY;
    for (size_t b = 0; b < n; b += BLOCK) {
        const size_t len = n - b < BLOCK ? n - b : BLOCK;
        vf bmax = vset1(-INFINITY);
        const float bs = block_dot(dot_first(k, d), y + b, v + b, len,
                                   tracks_ymax(k) ? &bmax : NULL);
        s += block_dot_end(k, d, y + b, v + b, len, bs, bmax, ymax);
    }
    return s;
}

/* One block [b, b + len) of out_row_dot_next (below) */
static ALWAYS_INLINE double out_block_dot_next(enum out_kind k, enum dot_kind d,
                                              const float *y, const float *v,
                                              float *o, const out_params *p,
                                              const float *yn, const float *vn,
                                              size_t b, size_t len,
                                              float *ymax_next, int stream)
{
    const enum dot_kind d1 = dot_first(k, d);
    vf bmax = vset1(-INFINITY);
    vf *const track = tracks_ymax(k) ? &bmax : NULL;
    vf s0 = vzero(), s1 = s0, s2 = s0, s3 = s0;
#define STEP(s, i) s = dot_step(d1, vload(yn + (i)), vload(vn + (i)), s, track)
    size_t i = b;
    for (; i + 4 * VLEN <= b + len; i += 4 * VLEN) {
        STEP(s0, i);
        STEP(s1, i + VLEN);
        STEP(s2, i + 2 * VLEN);
        STEP(s3, i + 3 * VLEN);
        for (size_t j = i; j < i + 4 * VLEN; j += VLEN) {
            const vf out = out_value(k, vload(y + j), vload(v + j), p);
            if (stream)
                vstream(o + j, out);
            else
                vstore(o + j, out);
        }
    }
#undef STEP
    float sum = vhsum(vadd(vadd(s0, s1), vadd(s2, s3)));
    if (i < b + len) {
        sum += block_dot(d1, yn + i, vn + i, b + len - i, track);
        out_range(k, y + i, v + i, o + i, b + len - i, p, 0);
    }
    /* row r + 1 is not written yet: its block may be taken again */
    return block_dot_end(k, d, yn + b, vn + b, len, sum, bmax, ymax_next);
}

/* Writes one row's output (kind k, from y, v) while it takes the next row's
 * reduction (from yn, vn), a vector of each per step: the reduction's loads
 * then issue beside the output's stores, which two passes would serialize.
 * With `stream` (o aligned to the vector size), the whole vectors of the
 * output go with non-temporal stores. Returns the next row's constant, and
 * its max(y) where tracked. */
static ALWAYS_INLINE double out_row_dot_next(enum out_kind k, enum dot_kind d,
                                             const float *y, const float *v,
                                             float *o, const out_params *p,
                                             const float *yn, const float *vn,
                                             size_t n, float *ymax_next,
                                             int stream)
{
    double total = 0.0;
    *ymax_next = -INFINITY;
    for (size_t b = 0; b < n; b += BLOCK)
        total += out_block_dot_next(k, d, y, v, o, p, yn, vn, b,
                                    n - b < BLOCK ? n - b : BLOCK, ymax_next,
                                    stream);
    return total;
}

/* out_range over a row of n > 0 elements, block by block from the last */
static ALWAYS_INLINE void out_row_from_end(enum out_kind k, const float *y,
                                           const float *v, float *o, size_t n,
                                           const out_params *p)
{
    for (size_t b = (n - 1) / BLOCK * BLOCK;; b -= BLOCK) {
        out_range(k, y + b, v + b, o + b, n - b < BLOCK ? n - b : BLOCK, p, 0);
        if (b == 0)
            break;
    }
}

/* The output pass over a row whose reduction pass just ended. Softmax's
 * JVP walks a row of more than one block from the last block, whose
 * inputs that pass left in L1 and L2; forwards, a row that barely fits L2
 * (y and v of 8x128256) finds each block evicted just before it reads it.
 * Softmax JVP/VJP 1x32000 and 8x32000 3-7% faster, 8x128256 2-4%
 * (interleaved A/B, AVX-512 and AVX2). The log-softmax VJP's last row,
 * whose exps make it less bound by its loads, made 8x32000 3-6% slower
 * that way. Rows past SHORT_ROW go forwards, streamed (see out_row). */
static ALWAYS_INLINE void out_row_after_dot(enum out_kind k, const float *y,
                                            const float *v, float *o, size_t n,
                                            const out_params *p)
{
    if (k == OUT_JVP && n > BLOCK && n <= SHORT_ROW)
        out_row_from_end(k, y, v, o, n, p);
    else
        out_row(k, y, v, o, n, p);
}

/* Row r's output (kind k), and the reduction of row r + 1 unless r is the
 * last: pipelined (see backward_rows), with non-temporal stores if
 * `stream`, or in a pass of its own. */
static ALWAYS_INLINE double backward_row(enum out_kind k, enum dot_kind d,
                                         int pipelined, int stream, int last,
                                         const float *yr, size_t ldy,
                                         const float *vr, size_t ldv,
                                         float *o, size_t cols,
                                         const out_params *p, float *ymax)
{
    if (last) {
        out_row_after_dot(k, yr, vr, o, cols, p);
        return 0.0;
    }
    if (pipelined)
        return out_row_dot_next(k, d, yr, vr, o, p, yr + ldy, vr + ldv, cols,
                                ymax, stream);
    out_row_after_dot(k, yr, vr, o, cols, p);
    return row_dot(k, d, yr + ldy, vr + ldv, cols, ymax);
}

/* Batches of y, v and out larger than this many bytes are taken to come
 * from memory, not from a typical last-level cache (see backward_rows) */
#define CACHED_BATCH ((size_t)16 << 20)

/* backward_rows with its pass structure chosen; `stream` is a constant in
 * each use, so that the copy without it is the code it was before */
static ALWAYS_INLINE void backward_rows_as(enum out_kind k, enum dot_kind d,
                                           float sign, size_t rows,
                                           size_t cols, const float *y,
                                           size_t ldy, const float *v,
                                           size_t ldv, float *out, size_t ldo,
                                           int pipelined, int stream)
{
    float ymax = 0.0f; /* of the row to write next, where tracked */
    double c = rows ? row_dot(k, d, y, v, cols, &ymax) : 0.0;
    for (size_t r = 0; r < rows; r++) {
        const out_params p = params(0.0f, sign * (float)c, 0.0f);
        const int last = r + 1 == rows;
        const float *yr = y + r * ldy, *vr = v + r * ldv;
        float *o = out + r * ldo;
        const int stream_row =
            stream && (uintptr_t)o % (VLEN * sizeof(float)) == 0;
        if (k == OUT_LSM_VJP && tracks_ymax(k) && ymax <= 0.0f)
            c = backward_row(OUT_LSM_VJP_NONPOS, d, pipelined, stream_row,
                             last, yr, ldy, vr, ldv, o, cols, &p, &ymax);
        else
            c = backward_row(k, d, pipelined, stream_row, last, yr, ldy, vr,
                             ldv, o, cols, &p, &ymax);
    }
    if (stream)
        vstream_fence(); /* order the streamed stores before the return */
}

/* out = f(y, v, c) row by row, c the row's reduction (see dot_kind). Rows
 * of up to SHORT_ROW elements may be software-pipelined: row r is written
 * while row r + 1 is reduced. Rows do not overlap and `out` aliases an input only
 * exactly, so writing row r never changes row r + 1.
 * Measured (AVX-512, Zen4): 10-20% faster for the log-softmax ops on every
 * multi-row shape. Softmax, whose plain dot pass is cheap, gains only when
 * the rows stream from memory: pipelined, 256x32000 is 10-15% faster,
 * but 8x32000 and 8x128256 (held in L2 and L3) are up to 7% slower, and
 * 1024x1024 (rows of one block) 15% slower. So softmax pipelines only rows
 * longer than a block in batches too large for a typical last-level
 * cache.
 * Pipelined rows of such batches write with non-temporal stores where the
 * row is aligned to the vector size: the output is not read back soon,
 * and those stores skip the read for ownership from memory. 256x32000:
 * softmax JVP/VJP 8-27% faster (most on AVX-512), log-softmax JVP/VJP
 * 5-11% on AVX-512 and within noise on AVX2 (-8% to +10% between runs). */
static ALWAYS_INLINE void backward_rows(enum out_kind k, enum dot_kind d,
                                        float sign, size_t rows, size_t cols,
                                        const float *y, size_t ldy,
                                        const float *v, size_t ldv,
                                        float *out, size_t ldo)
{
    const int from_memory = rows * cols > CACHED_BATCH / (3 * sizeof(float));
    const int pipelined = cols <= SHORT_ROW &&
                          (d != DOT_Y_V || (cols > BLOCK && from_memory));
    if (VEC_HAS_STREAM && pipelined && from_memory)
        backward_rows_as(k, d, sign, rows, cols, y, ldy, v, ldv, out, ldo, 1, 1);
    else
        backward_rows_as(k, d, sign, rows, cols, y, ldy, v, ldv, out, ldo,
                         pipelined, 0);
}

/* out = y * (v - <y, v>) */
static void softmax_jvp(size_t rows, size_t cols, const float *y, size_t ldy,
                        const float *v, size_t ldv, float *out, size_t ldo)
{
    backward_rows(OUT_JVP, DOT_Y_V, 1.0f, rows, cols, y, ldy, v, ldv, out, ldo);
}

/* out = v - <exp(y), v> */
static void log_softmax_jvp(size_t rows, size_t cols, const float *y,
                            size_t ldy, const float *v, size_t ldv,
                            float *out, size_t ldo)
{
    backward_rows(OUT_LSM_JVP, DOT_EXPY_V, 1.0f, rows, cols, y, ldy, v, ldv,
                  out, ldo);
}

/* out = g - exp(y) * sum(g) */
static void log_softmax_vjp(size_t rows, size_t cols, const float *y,
                            size_t ldy, const float *g, size_t ldg,
                            float *out, size_t ldo)
{
    backward_rows(OUT_LSM_VJP, SUM_V, -1.0f, rows, cols, y, ldy, g, ldg, out,
                  ldo);
}

/* ---- cross-entropy -------------------------------------------------------- */

/* The loss from the row statistics, with lse - z_j written as
 * (m - z_j) + log S so that log S survives a large |m|:
 * (1 - e)((m - z_t) + log S) + e (log S + sum(m - z) / n), each term only
 * when its weight is not zero. */
static float xent_loss(float m, double log_s, double zt, double keep,
                       double e, double sum_m_minus_z, size_t cols)
{
    double l = 0.0;
    if (keep != 0.0)
        l += keep * (((double)m - zt) + log_s);
    if (e != 0.0)
        l += e * (log_s + sum_m_minus_z / (double)cols);
    return (float)l;
}

/* The gradient scale (p - q), q = keep onehot(t) + spread: off the target,
 * a exp(z - m) + b with these constants (p = exp(z - m) / S); at the
 * target, from its probability p_t. */
static out_params xent_grad_params(float m, double scale, double s,
                                   double spread)
{
    return params(m, (float)(scale / s), (float)(-scale * spread));
}

static float xent_target_grad(double scale, double p_t, double keep,
                              double spread)
{
    return (float)(scale * (p_t - keep - spread));
}

/* Rows up to SHORT_ROW with a gradient, GROUP at a time: the max pass finds
 * edge rows before anything is written (the gradient may overwrite the
 * logits), the exps are stored into the gradient while summed, and a last
 * in-cache pass scales them: one exp per element. */
static void xent_rows_short(size_t g, size_t cols, const float *z, size_t ldz,
                            const int32_t *t, const smx_xent_params *prm,
                            float *loss, float *grad, size_t ldg)
{
    const double e = prm->smoothing, keep = 1.0 - e, spread = e / (double)cols;
    const double scale = prm->grad_scale;
    float m[GROUP], zt[GROUP];
    double s[GROUP], sum_z[GROUP];
    int live[GROUP]; /* not ignored, finite max */
    for (size_t k = 0; k < g; k++) {
        const float *zk = z + k * ldz;
        live[k] = t[k] != prm->ignore_index;
        if (!live[k])
            continue;
        m[k] = block_max(zk, cols);
        zt[k] = zk[t[k]];
        sum_z[k] = e != 0.0 ? row_affine_sum(zk, cols, -1.0f, m[k]) : 0.0;
        if (!isfinite(m[k])) {
            const float l = smx_xent_row_scalar(cols, zk, t[k], prm, grad + k * ldg);
            if (loss)
                loss[k] = l;
            live[k] = 0;
        }
    }
    for (size_t k = 0; k < g; k++) {
        float *gk = grad + k * ldg;
        if (t[k] == prm->ignore_index) {
            if (loss)
                loss[k] = 0.0f;
            fill(gk, cols, 0.0f);
            continue;
        }
        if (!live[k])
            continue;
        s[k] = row_exp_store_sum(z + k * ldz, cols, m[k], gk, exp_nonpos, 0, NULL);
    }
    for (size_t k = 0; k < g; k++) {
        if (!live[k])
            continue;
        float *gk = grad + k * ldg;
        if (isnan(s[k])) {
            if (loss)
                loss[k] = NAN;
            fill(gk, cols, NAN);
            continue;
        }
        if (loss) /* log S only for the loss */
            loss[k] = xent_loss(m[k], log_inline(s[k]), zt[k], keep, e, sum_z[k],
                                cols);
        /* grad = scale (e / S - spread), in place over the stored exps; the
         * target's e_t is read first: p_t = e_t / S, no second exp */
        const double p_t = (double)gk[t[k]] / s[k];
        const out_params p = xent_grad_params(0.0f, scale, s[k], spread);
        out_row(OUT_AFFINE, gk, NULL, gk, cols, &p);
        gk[t[k]] = xent_target_grad(scale, p_t, keep, spread);
    }
}

/* Long rows, or the loss alone: one statistics pass reads the logits for
 * max, sum and the target logit (plus their sum when smoothing), and one
 * more pass recomputes the exps to write the gradient, in place or not. */
static void xent_row_long(size_t cols, const float *z, int32_t t,
                          const smx_xent_params *prm, float *loss, float *g)
{
    const double e = prm->smoothing, keep = 1.0 - e, spread = e / (double)cols;
    const double scale = prm->grad_scale;
    if (t == prm->ignore_index) {
        *loss = 0.0f;
        if (g)
            fill(g, cols, 0.0f);
        return;
    }
    float m;
    double s;
    if (!row_stats(z, cols, &m, &s)) {
        *loss = smx_xent_row_scalar(cols, z, t, prm, g);
        return;
    }
    if (isnan(s)) {
        *loss = NAN;
        if (g)
            fill(g, cols, NAN);
        return;
    }
    const double zt = z[t], log_s = log_inline(s);
    *loss = xent_loss(m, log_s, zt, keep, e,
                      e != 0.0 ? row_affine_sum(z, cols, -1.0f, m) : 0.0, cols);
    if (g) {
        /* grad = a exp(z - m) + b: a and b fold 1/S, the scale and the
         * uniform part of the target; the target element is fixed below */
        const out_params p = xent_grad_params(m, scale, s, spread);
        out_row(OUT_GRAD, z, NULL, g, cols, &p);
        g[t] = xent_target_grad(scale, exp((zt - (double)m) - log_s), keep, spread);
    }
}

/* A lone row in registers (see lone_short_row): everything is read before
 * the gradient, which may overwrite the logits, is written. */
static float xent_row_regs(size_t cols, const float *z, int32_t t,
                           const smx_xent_params *prm, int want_loss, float *g)
{
    const double e = prm->smoothing, keep = 1.0 - e, spread = e / (double)cols;
    const double scale = prm->grad_scale;
    if (t == prm->ignore_index) {
        if (g)
            fill(g, cols, 0.0f);
        return 0.0f;
    }
    reg_row r;
    const float m = reg_row_load_max(&r, z, cols);
    if (!isfinite(m))
        return smx_xent_row_scalar(cols, z, t, prm, g);
    const float zt = z[t];
    const double sum_z = e != 0.0 ? row_affine_sum(z, cols, -1.0f, m) : 0.0;
    const double s = reg_row_exp_sum(&r, m, g != NULL);
    if (isnan(s)) {
        if (g)
            fill(g, cols, NAN);
        return NAN;
    }
    if (g) {
        /* the target's exp as its lane has it: the same function of the
         * same float zt - m */
        const double p_t = (double)vfirst(exp_nonpos(vset1(zt - m))) / s;
        const out_params p = xent_grad_params(0.0f, scale, s, spread);
        reg_row_store(&r, OUT_AFFINE, &p, g);
        g[t] = xent_target_grad(scale, p_t, keep, spread);
    }
    return want_loss ? xent_loss(m, log_inline(s), zt, keep, e, sum_z, cols) : 0.0f;
}

static void xent(size_t rows, size_t cols, const float *z, size_t ldz,
                 const int32_t *targets, const smx_xent_params *prm,
                 float *loss, float *grad, size_t ldg)
{
    if (lone_short_row(rows, cols)) {
        const float l = xent_row_regs(cols, z, targets[0], prm, loss != NULL, grad);
        if (loss)
            loss[0] = l;
        return;
    }
    if (grad && cols <= SHORT_ROW) {
        const size_t group = cols <= GROUP_ROW ? GROUP : 1;
        float l[GROUP];
        for (size_t r = 0; r < rows; r += group) {
            const size_t g = rows - r < group ? rows - r : group;
            xent_rows_short(g, cols, z + r * ldz, ldz, targets + r, prm,
                            loss ? loss + r : l, grad + r * ldg, ldg);
        }
        return;
    }
    for (size_t r = 0; r < rows; r++) {
        float l;
        xent_row_long(cols, z + r * ldz, targets[r], prm, &l,
                      grad ? grad + r * ldg : NULL);
        if (loss)
            loss[r] = l;
    }
}

/* The smoothed target q = (1 - e) p + e / n, as keep p + spread */
static ALWAYS_INLINE vf soft_q(vf p, int smooth, vf keep, vf spread)
{
    return smooth ? vfma(p, keep, spread) : p;
}

/* The soft cross-entropy gradient a exp(d) - c q, with nc = -c */
static ALWAYS_INLINE vf soft_grad(vf e, vf q, vf a, vf nc)
{
    return vfma(e, a, vmul(q, nc));
}

/* loss terms q (log S - (z - M)) where q != 0, and grad = a exp(z - M) - c q
 * over n <= BLOCK elements; returns the block's loss. */
static ALWAYS_INLINE float xent_soft_block(const float *z, const float *p,
                                          size_t n, float m, float log_s,
                                          float keep, float spread, int smooth,
                                          float a, float c, float *grad)
{
    const vf vm = vset1(m), vls = vset1(log_s), vkeep = vset1(keep);
    const vf vspread = vset1(spread), va = vset1(a), vnc = vset1(-c);
    vf acc = vzero();
    size_t i = 0;
    for (; i < n; i += VLEN) {
        const size_t t = n - i < VLEN ? n - i : VLEN;
        const vf zv = t == VLEN ? vload(z + i) : vload_part(z + i, t, m);
        const vf pv = t == VLEN ? vload(p + i) : vload_part(p + i, t, 0.0f);
        vf q = soft_q(pv, smooth, vkeep, vspread);
        if (t < VLEN) /* padding lanes have q = spread: drop them */
            q = vkeep_first(q, t);
        const vf d = vsub(zv, vm);
        acc = vfma_nonzero(q, vsub(vls, d), acc);
        if (grad) {
            const vf gv = soft_grad(exp_nonpos(d), q, va, vnc);
            if (t == VLEN)
                vstore(grad + i, gv);
            else
                vstore_part(grad + i, gv, t);
        }
    }
    return vhsum(acc);
}

/* One vector of xent_soft_exp_block: returns exp(z - m), adds it to *se
 * and q (z - m) to *sqd where q != 0 (z = -inf with q = 0 would add NaN). */
static ALWAYS_INLINE vf soft_exp_step(vf z, vf q, vf m, vf *se, vf *sqd)
{
    const vf d = vsub(z, m), ev = exp_nonpos(d);
    *se = vadd(*se, ev);
    *sqd = vfma_nonzero(q, d, *sqd);
    return ev;
}

/* exp(z - m) stored to e over n <= BLOCK elements; adds their sum to *s
 * and sum(q (z - m)) over q != 0 to *qd, and sum(q) to *sq unless sq is
 * NULL: float in runs of SOFT_SQ_RUN elements (16 terms per lane, as
 * row_affine_sum_max, and at most two more in the last), double across
 * them. */
#define SOFT_SQ_RUN (32 * VLEN)
static ALWAYS_INLINE void xent_soft_exp_block(const float *z, const float *p,
                                              size_t n, float m, float keep,
                                              float spread, int smooth,
                                              float *e, double *s, double *qd,
                                              double *sq)
{
    const vf vm = vset1(m), vkeep = vset1(keep), vspread = vset1(spread);
    vf se0 = vzero(), se1 = se0, sqd0 = se0, sqd1 = se0, sq0 = se0, sq1 = se0;
    size_t i = 0;
    while (i + 2 * VLEN <= n) {
        const size_t end = n - i < SOFT_SQ_RUN ? n : i + SOFT_SQ_RUN;
        for (; i + 2 * VLEN <= end; i += 2 * VLEN) {
            const vf q0 = soft_q(vload(p + i), smooth, vkeep, vspread);
            const vf q1 = soft_q(vload(p + i + VLEN), smooth, vkeep, vspread);
            vstore(e + i, soft_exp_step(vload(z + i), q0, vm, &se0, &sqd0));
            vstore(e + i + VLEN, soft_exp_step(vload(z + i + VLEN), q1, vm, &se1, &sqd1));
            if (sq) {
                sq0 = vadd(sq0, q0);
                sq1 = vadd(sq1, q1);
            }
        }
        if (sq && i + 2 * VLEN <= n) { /* the last run goes with the tail */
            *sq += vhsum(vadd(sq0, sq1));
            sq0 = sq1 = vzero();
        }
    }
    for (; i + VLEN <= n; i += VLEN) {
        const vf q = soft_q(vload(p + i), smooth, vkeep, vspread);
        vstore(e + i, soft_exp_step(vload(z + i), q, vm, &se0, &sqd0));
        if (sq)
            sq0 = vadd(sq0, q);
    }
    if (i < n) { /* padding lanes: z = -inf gives exp 0; q = spread, dropped */
        const size_t t = n - i;
        const vf q = vkeep_first(soft_q(vload_part(p + i, t, 0.0f), smooth, vkeep, vspread), t);
        vstore_part(e + i, soft_exp_step(vload_part(z + i, t, -INFINITY), q, vm, &se1, &sqd1), t);
        if (sq)
            sq1 = vadd(sq1, q);
    }
    *s += vhsum(vadd(se0, se1));
    *qd += vhsum(vadd(sqd0, sqd1));
    if (sq)
        *sq += vhsum(vadd(sq0, sq1));
}

/* sum(q) over [0, n) of p, and max(z) into *zmax, from one loop. Without
 * smoothing the weights are constant (1 and 0), and that copy drops the
 * multiply-add (see row_affine_sum_max). */
static ALWAYS_INLINE double soft_sum_q_max(const float *p, size_t n, int smooth,
                                           float keep, float spread,
                                           const float *z, float *zmax)
{
    return smooth ? row_affine_sum_max(p, n, keep, spread, z, zmax)
                  : row_affine_sum_max(p, n, 1.0f, 0.0f, z, zmax);
}

/* g = a e - c q in place over the exps e held in g */
static void xent_soft_grad_from_exps(float *g, const float *p, size_t n,
                                     float a, float c, float keep,
                                     float spread, int smooth)
{
    const vf va = vset1(a), vnc = vset1(-c), vkeep = vset1(keep);
    const vf vspread = vset1(spread);
#define SOFT_GRAD(ev, pv) soft_grad(ev, soft_q(pv, smooth, vkeep, vspread), va, vnc)
    size_t i = 0;
    for (; i + 2 * VLEN <= n; i += 2 * VLEN) {
        vstore(g + i, SOFT_GRAD(vload(g + i), vload(p + i)));
        vstore(g + i + VLEN, SOFT_GRAD(vload(g + i + VLEN), vload(p + i + VLEN)));
    }
    for (; i + VLEN <= n; i += VLEN)
        vstore(g + i, SOFT_GRAD(vload(g + i), vload(p + i)));
    if (i < n)
        vstore_part(g + i, SOFT_GRAD(vload_part(g + i, n - i, 0.0f),
                                     vload_part(p + i, n - i, 0.0f)), n - i);
#undef SOFT_GRAD
}

/* Soft cross-entropy of one row (sum_q = sum(q), finite) from two passes
 * over z and p: statistics, then the loss terms q (log S - d) beside the
 * gradient a e - c q, with a second exp. g may be NULL, z or p. */
static float xent_soft_row_two_pass(size_t cols, const float *z,
                                    const float *p, const smx_xent_params *prm,
                                    double sum_q, float *g)
{
    const double e = prm->smoothing, keep = 1.0 - e, spread = e / (double)cols;
    const double scale = prm->grad_scale;
    float m;
    double s;
    if (!row_stats(z, cols, &m, &s))
        return smx_xent_soft_row_scalar(cols, z, p, prm, g);
    if (isnan(s)) {
        if (g)
            fill(g, cols, NAN);
        return NAN;
    }
    const float log_s = (float)log_inline(s), a = (float)(scale * sum_q / s);
    double l = 0.0;
    for (size_t b = 0; b < cols; b += BLOCK) {
        const size_t len = cols - b < BLOCK ? cols - b : BLOCK;
        l += xent_soft_block(z + b, p + b, len, m, log_s, (float)keep,
                             (float)spread, e != 0.0, a, (float)scale,
                             g ? g + b : NULL);
    }
    return (float)l;
}

/* Soft cross-entropy of up to GROUP rows that fit in cache (one row when
 * they are longer than SOFT_GROUP_ROW), with gradients g != p (g may be z;
 * rows longer than a block with g apart from z go block by block instead:
 * xent_soft_row_online),
 * phase by phase as rowwise_rows_short:
 * 1. max(z), nothing written: a row whose max is not finite goes to the
 *    scalar reference whole;
 * 2. the exps stored into g while summed, beside sum(q d) (d = z - M), so
 *    loss = log S sum(q) - sum(q d) needs no second look at z, and sum(q):
 *    a row whose sum(q) is not finite goes to the scalar reference, which
 *    overwrites the exps;
 * 3. the gradient a e - c q from g and p alone.
 * One exp per element where the two-pass row takes two. With g = z, the
 * exps overwrite z, so sum(q) must be known first: phase 1 takes it beside
 * the max, from a read of p that the other case saves (interleaved A/B:
 * AVX-512 3-12% faster, AVX2 2-7% on rows of 1000 and more, 1% slower on
 * 4096x128, up to 7% on a lone row of 64, where the instructions are the
 * same but sum(q) joins the exp pass's chains). */
static ALWAYS_INLINE void xent_soft_rows_short_as(int q_first, size_t g,
                                                  size_t cols, const float *z,
                                                  size_t ldz, const float *p,
                                                  size_t ldp,
                                                  const smx_xent_params *prm,
                                                  float *loss, float *grad,
                                                  size_t ldg)
{
    const double e = prm->smoothing, scale = prm->grad_scale;
    const float keep = (float)(1.0 - e), spread = (float)(e / (double)cols);
    const int smooth = e != 0.0;
    float m[GROUP];
    double sum_q[GROUP], s[GROUP], qd[GROUP];
    int live[GROUP];
    for (size_t k = 0; k < g; k++) {
        const float *zk = z + k * ldz, *pk = p + k * ldp;
        if (q_first) {
            sum_q[k] = soft_sum_q_max(pk, cols, smooth, keep, spread, zk, &m[k]);
        } else {
            m[k] = block_max(zk, cols);
            sum_q[k] = 0.0;
        }
        live[k] = isfinite(m[k]) && isfinite(sum_q[k]);
        if (!live[k]) /* see xent_soft */
            loss[k] = smx_xent_soft_row_scalar(cols, zk, pk, prm, grad + k * ldg);
    }
    for (size_t k = 0; k < g; k++) {
        if (!live[k])
            continue;
        s[k] = qd[k] = 0.0;
        for (size_t b = 0; b < cols; b += BLOCK)
            xent_soft_exp_block(z + k * ldz + b, p + k * ldp + b,
                                cols - b < BLOCK ? cols - b : BLOCK, m[k], keep,
                                spread, smooth, grad + k * ldg + b, &s[k], &qd[k],
                                q_first ? NULL : &sum_q[k]);
    }
    for (size_t k = 0; k < g; k++) {
        if (!live[k])
            continue;
        float *gk = grad + k * ldg;
        if (!q_first && !isfinite(sum_q[k])) {
            loss[k] = smx_xent_soft_row_scalar(cols, z + k * ldz, p + k * ldp, prm, gk);
            continue;
        }
        if (isnan(s[k])) {
            fill(gk, cols, NAN);
            loss[k] = NAN;
            continue;
        }
        xent_soft_grad_from_exps(gk, p + k * ldp, cols, (float)(scale * sum_q[k] / s[k]),
                                 (float)scale, keep, spread, smooth);
        loss[k] = (float)(log_inline(s[k]) * sum_q[k] - qd[k]);
    }
}

static void xent_soft_rows_short(size_t g, size_t cols, const float *z,
                                 size_t ldz, const float *p, size_t ldp,
                                 const smx_xent_params *prm, float *loss,
                                 float *grad, size_t ldg)
{
    if (grad == z)
        xent_soft_rows_short_as(1, g, cols, z, ldz, p, ldp, prm, loss, grad, ldg);
    else
        xent_soft_rows_short_as(0, g, cols, z, ldz, p, ldp, prm, loss, grad, ldg);
}

/* A soft row longer than a block, with g apart from z and p (the API
 * admits no partial overlap): phases 1 and 2 of xent_soft_rows_short block
 * by block, so that the exp pass reads a block that its max pass has just
 * brought to L1, where the whole-row phases read z and p twice from L2 or
 * beyond (256x32000 15-19% faster on AVX-512 and AVX2; rows held in L2 or
 * L3, 1x32000, 8x32000 and 8x128256, about 1% slower). The exps of block b
 * are stored relative to the running max m_b (S and sum(q d) are rescaled
 * as it grows, as in row_stats) and the gradient pass scales them by
 * exp(m_b - M). A row found not finite (max or sum(q)) goes whole to the
 * scalar reference, which overwrites the blocks already written: z and p
 * are intact. Blocks masked to -inf before any finite max are summed
 * against 0 instead (their exps are 0, their q d -inf where q != 0, for
 * any finite max) and scaled by exp(-inf) = 0. */
static float xent_soft_row_online(size_t cols, const float *z, const float *p,
                                  const smx_xent_params *prm, float *g)
{
    const double e = prm->smoothing, scale = prm->grad_scale;
    const float keep = (float)(1.0 - e), spread = (float)(e / (double)cols);
    const int smooth = e != 0.0;
    float mb[SHORT_ROW / BLOCK];
    float m = -INFINITY;
    double sum_q = 0.0, s = 0.0, qd = 0.0;
    for (size_t b = 0; b < cols; b += BLOCK) {
        const size_t len = cols - b < BLOCK ? cols - b : BLOCK;
        const float bm = block_max(z + b, len);
        if (isnan(bm) || bm == INFINITY)
            return smx_xent_soft_row_scalar(cols, z, p, prm, g);
        if (bm > m) {
            if (m != -INFINITY) { /* sum(q (z - bm)) = qd + sum(q) (m - bm) */
                s *= exp((double)m - (double)bm);
                qd += sum_q * ((double)m - (double)bm);
            }
            m = bm;
        }
        mb[b / BLOCK] = m;
        xent_soft_exp_block(z + b, p + b, len, m == -INFINITY ? 0.0f : m, keep,
                            spread, smooth, g + b, &s, &qd, &sum_q);
    }
    if (m == -INFINITY || !isfinite(sum_q))
        return smx_xent_soft_row_scalar(cols, z, p, prm, g);
    if (isnan(s)) {
        fill(g, cols, NAN);
        return NAN;
    }
    const double a = scale * sum_q / s;
    for (size_t b = 0; b < cols; b += BLOCK)
        xent_soft_grad_from_exps(g + b, p + b, cols - b < BLOCK ? cols - b : BLOCK,
                                 (float)(a * exp((double)mb[b / BLOCK] - (double)m)),
                                 (float)scale, keep, spread, smooth);
    return (float)(log_inline(s) * sum_q - qd);
}

/* Soft rows are grouped up to 256 elements: four rows of z, p and g then
 * take 12 KiB. Grouped rows of 1024 (48 KiB, past L1) measured 5-10% slower
 * on 1024x1024; grouped rows of 128 gain 12-15% on 4096x128. */
#define SOFT_GROUP_ROW 256
static void xent_soft(size_t rows, size_t cols, const float *z, size_t ldz,
                      const float *p, size_t ldp, const smx_xent_params *prm,
                      float *loss, float *grad, size_t ldg)
{
    const double e = prm->smoothing;
    const float keep = (float)(1.0 - e), spread = (float)(e / (double)cols);
    if (grad && grad != p && grad != z && cols > BLOCK && cols <= SHORT_ROW) {
        for (size_t r = 0; r < rows; r++) {
            const float l = xent_soft_row_online(cols, z + r * ldz, p + r * ldp,
                                                 prm, grad + r * ldg);
            if (loss)
                loss[r] = l;
        }
        return;
    }
    if (grad && grad != p && cols <= SHORT_ROW) {
        const size_t group = cols <= SOFT_GROUP_ROW ? GROUP : 1;
        float l[GROUP];
        for (size_t r = 0; r < rows; r += group) {
            const size_t g = rows - r < group ? rows - r : group;
            xent_soft_rows_short(g, cols, z + r * ldz, ldz, p + r * ldp, ldp,
                                 prm, loss ? loss + r : l, grad + r * ldg, ldg);
        }
        return;
    }
    for (size_t r = 0; r < rows; r++) {
        const float *zr = z + r * ldz, *pr = p + r * ldp;
        float *g = grad ? grad + r * ldg : NULL;
        const double sum_q = row_affine_sum(pr, cols, keep, spread);
        float l;
        /* Targets that are infinite or NaN (not probabilities) go to the
         * scalar reference, which defines their limits: where log S - d
         * rounds to 0 in float but not in double, q (log S - d) would be
         * inf * 0 here and inf there (the fuzzer found it in both paths). */
        if (!isfinite(sum_q))
            l = smx_xent_soft_row_scalar(cols, zr, pr, prm, g);
        else
            l = xent_soft_row_two_pass(cols, zr, pr, prm, sum_q, g);
        if (loss)
            loss[r] = l;
    }
}

/* ---- the table ------------------------------------------------------------ */

const smx_kernels CAT(smx_kernels, VEC_ISA) = {
    .isa = VEC_ISA_ENUM,
    .softmax = softmax,
    .log_softmax = log_softmax,
    .logsumexp = logsumexp,
    .softmax_jvp = softmax_jvp,
    .log_softmax_jvp = log_softmax_jvp,
    .log_softmax_vjp = log_softmax_vjp,
    .xent = xent,
    .xent_soft = xent_soft,
};
