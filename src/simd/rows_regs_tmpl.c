/* SPDX-License-Identifier: MIT */
/*
 * Rows of up to REG_VECS vectors held in registers from load to store.
 * A part of the kernel template: kernels_tmpl.c includes it, in order,
 * after the parts it builds on; not a standalone header.
 */

/* Softmax of a row of at most REG_VECS vectors: loaded once and kept in
 * registers through max, exp and sum to its one output store; no second
 * read of x, no stored exps read back. On rows of 128 floats (AVX-512) it
 * took 15-20% less time than the grouped passes (forward_tmpl.c) on AMD
 * Zen 4. On an Intel Xeon (Sapphire Rapids) the grouped passes are the
 * faster, by 15-20%, on rows of 64 and 128 floats held in L2 (512x128,
 * 1024x64), and 2% slower on 4096x128 from L3: the choice stays Zen 4's.
 * Log-softmax and logsumexp measured 10-20% slower this way on many rows
 * (log-softmax on AVX-512 4096x128: 12-15% slower still, with the
 * constant-length copy of `rowwise`): their grouped passes overlap four
 * rows' chains of reductions and log, which one row at a time serializes.
 * They use it only for a lone row. Cross-entropy, whose per-row log was
 * that chain's end, takes it for 8 rows and more since its losses' logs
 * come from a log_batch (rows_packed_tmpl.c), a vector of rows at a time:
 * see xent_regs and xent_soft_regs. Softmax rows software-pipelined
 * (row r + 1 loaded and its max taken before row r's exps) measured no
 * faster than in order: the core already overlaps consecutive rows.
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

/* Prefetches to L1 the whole vectors of row r + 2 of x (rows ld apart),
 * if the call has it: the loops over register rows, whose row after next
 * would otherwise wait on L2 or L3 (softmax 4096x128 3-9% faster). */
static ALWAYS_INLINE void prefetch_row_after_next(const float *x, size_t ld,
                                                  size_t r, size_t rows,
                                                  size_t cols)
{
    if (r + 2 < rows)
        prefetch_vecs(x + (r + 2) * ld, cols / VLEN, 1);
}

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

/* y = out_value(k, v, x2) over the row; x2, vectors as the row's, is NULL
 * for the kinds that take one operand */
static ALWAYS_INLINE void reg_row_store(const reg_row *r, const vf *x2,
                                       enum out_kind k, const out_params *p,
                                       float *y)
{
    UNROLL_ALL
    for (size_t j = 0; j < REG_VECS; j++) {
        const vf o = out_value(k, r->v[j], x2 ? x2[j] : vzero(), p);
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
        reg_row_store(&r, NULL, OUT_LOG_SOFTMAX, &p, y);
    } else {
        const out_params p = params(0.0f, (float)(1.0 / (double)s), 0.0f);
        reg_row_store(&r, NULL, OUT_AFFINE, &p, y);
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
