/* SPDX-License-Identifier: MIT */
/*
 * Softmax, log-softmax and logsumexp of rows of at most half a vector,
 * packed two or four rows to a vector; and the batch of per-row logs
 * (log_batch) that logsumexp and the cross-entropy losses share.
 * A part of the kernel template: kernels_tmpl.c includes it, in order,
 * after the parts it builds on; not a standalone header.
 */

#ifndef VEC_MAX_PACK /* a vector layer without the packed-row operations */
#define VEC_MAX_PACK 0
#endif

#if VEC_MAX_PACK
/* Rows of n <= VLEN / 2 floats (a router's softmax over 8 experts, a
 * binary or 4-way classifier) packed R to a vector, one per segment of
 * VLEN / R lanes: one load, one max and one sum reduction and one exp per
 * R rows, where a register row (rows_regs_tmpl.c) or a grouped row pays
 * each of them for one row in a mostly idle vector. R is 4 where the
 * vector layer has it and the rows fit (AVX-512, n <= 4), else 2. */
static int pack_rows(size_t n)
{
    return VEC_MAX_PACK >= 4 && n <= VLEN / 4 ? 4 : 2;
}

/* Per-row results a log S + b whose logs wait to be taken a whole vector
 * of rows at a time: rows go in, in order (whole packs, or one row with
 * its result already known), and each full batch goes to `out` from one
 * vlog_pos. Where each pack took its own vlog_pos on R distinct values,
 * the log was half of logsumexp's time on packed rows (AVX-512 4096x8
 * 0.69 -> 0.46 ns per element batched). A call of fewer than two batches
 * of rows (32 on AVX-512, 16 on AVX2) takes each pack's logs at once
 * (`direct`): there the batch's loads, waiting on the stores just made,
 * cost more than the logs saved (batched, two rows of 8 went 1.2 -> 2.0
 * ns per element, nine rows of 4 on AVX2 24% slower; direct, such calls
 * are within 2-7% of the per-pack logs before the batch). */
typedef struct log_batch {
    float s[VLEN], a[VLEN], b[VLEN];
    size_t n;   /* rows held */
    float *out; /* the result of the first row held, or the next row's */
    int direct; /* no batch: each pack's results go out as they come */
} log_batch;

/* Calls of rows held in registers (rows_regs_tmpl.c) batch their logs
 * from this many rows: fewer measured 3-7% slower batched (2 to 4 soft
 * cross-entropy rows of 64 and 128, AVX-512), 8 rows 9-10% faster. The
 * cross-entropies take their register rows from there on. */
#define REG_BATCH_ROWS 8

/* A batch for `rows` rows of `cols` floats each */
static log_batch log_batch_to(float *out, size_t rows, size_t cols)
{
    log_batch lb;
    lb.n = 0;
    lb.out = out;
    lb.direct = rows < (cols <= VLEN / 2 ? 2 * VLEN : REG_BATCH_ROWS);
    return lb;
}

static ALWAYS_INLINE void log_batch_flush(log_batch *lb)
{
    const size_t n = lb->n;
    if (n == 0)
        return;
    const vf s = n == VLEN ? vload(lb->s) : vload_part(lb->s, n, 1.0f);
    const vf a = n == VLEN ? vload(lb->a) : vload_part(lb->a, n, 0.0f);
    const vf b = n == VLEN ? vload(lb->b) : vload_part(lb->b, n, 0.0f);
    const vf r = vfma(vlog_pos(s), a, b);
    if (n == VLEN)
        vstore(lb->out, r);
    else
        vstore_part(lb->out, r, n);
    lb->out += n;
    lb->n = 0;
}

/* A pack's R rows: S, a and b as the segments hold them */
static ALWAYS_INLINE void log_batch_put_pack(int R, log_batch *lb, vf s, vf a,
                                             vf b)
{
    if (lb->direct) {
        vstore_firsts(R, lb->out, vfma(vlog_pos(s), a, b));
        lb->out += R;
        return;
    }
    if (lb->n + (size_t)R > VLEN)
        log_batch_flush(lb);
    vstore_firsts(R, lb->s + lb->n, s);
    vstore_firsts(R, lb->a + lb->n, a);
    vstore_firsts(R, lb->b + lb->n, b);
    lb->n += (size_t)R;
}

/* One row's S, a and b */
static ALWAYS_INLINE void log_batch_put_row(log_batch *lb, float s, float a,
                                            float b)
{
    if (lb->direct) {
        *lb->out++ = (float)((double)a * log_inline(s) + (double)b);
        return;
    }
    if (lb->n == VLEN)
        log_batch_flush(lb);
    lb->s[lb->n] = s;
    lb->a[lb->n] = a;
    lb->b[lb->n] = b;
    lb->n++;
}

/* A row whose result is known: log 1 = 0, so 0 * 0 + value */
static ALWAYS_INLINE void log_batch_put_value(log_batch *lb, float value)
{
    if (lb->direct)
        *lb->out++ = value;
    else
        log_batch_put_row(lb, 1.0f, 0.0f, value);
}

/* Loads R rows (x, ld apart) into *v (padding lanes -inf) and returns 1
 * with each lane's row max in *m, exp(v - m) in *e and their sum in *s;
 * or 0 for a pack with a max that is not finite or a NaN sum, which goes
 * row by row through the paths that define those rows. */
static ALWAYS_INLINE int pack_stats(int R, const float *x, size_t ld, size_t n,
                                    vf *v, vf *m, vf *e, vf *s)
{
    *v = vload_pack(R, x, ld, n, -INFINITY);
    *m = vpack_max(R, *v);
    if (!vall_finite(*m))
        return 0;
    *e = exp_nonpos(vsub(*v, *m));
    *s = vpack_sum(R, *e);
    return vall_finite(*s); /* S <= n unless a NaN */
}

/* Softmax (log_domain 0) or log-softmax of rows of n <= VLEN / R, R at a
 * time. Softmax: y = exp(x - M) / S by a division, one rounding where 1 /
 * S then a multiply take two. Log-softmax: (x - M) - log S, the logs of
 * all R rows from one vlog_pos (log.h). Of the rows past the last whole
 * pack of four, two go as a pair; a last odd row goes alone. Intel Xeon,
 * interleaved A/B (before: one register row or group of four at a
 * time): softmax AVX-512 4096x8 1.24 -> 0.44 ns per element, 4096x7 1.39
 * -> 0.52, 4096x4 2.34 -> 0.43 (0.87 in pairs), 4096x2 4.71 -> 0.86;
 * AVX2 4096x4 1.73 -> 0.63, 4096x2 3.49 -> 1.26; two rows of 8 (AVX-512)
 * 1.65 -> 0.95. Log-softmax AVX-512 4096x8 1.84 -> 0.71, 4096x4 3.59 ->
 * 0.69, AVX2 4096x4 3.08 -> 1.13 (the two logs of a pair as two scalar
 * log_inline: 1.38 and 2.24; as one call of SLEEF's logf: 1.17 and
 * 2.33). */
static ALWAYS_INLINE void rowwise_packed_as(int R, int log_domain, size_t rows,
                                            size_t n, const float *x,
                                            size_t ldx, float *y, size_t ldy)
{
    size_t r = 0;
    for (; r + R <= rows; r += R) {
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy;
        vf v, m, e, s;
        if (!pack_stats(R, xr, ldx, n, &v, &m, &e, &s)) {
            for (int j = 0; j < R; j++)
                rowwise_row_regs(log_domain, n, xr + j * ldx, yr + j * ldy);
        } else if (log_domain) {
            vstore_pack(R, yr, ldy, vsub(vsub(v, m), vlog_pos(s)), n);
        } else {
            vstore_pack(R, yr, ldy, vdiv(e, s), n);
        }
    }
    if (R > 2 && rows - r >= 2) /* a pair of the rows left */
        rowwise_packed_as(2, log_domain, rows - r, n, x + r * ldx, ldx,
                          y + r * ldy, ldy);
    else if (r < rows)
        rowwise_row_regs(log_domain, n, x + r * ldx, y + r * ldy);
}

static void rowwise_packed(int log_domain, size_t rows, size_t n,
                           const float *x, size_t ldx, float *y, size_t ldy)
{
    if (pack_rows(n) == 4)
        rowwise_packed_as(4, log_domain, rows, n, x, ldx, y, ldy);
    else
        rowwise_packed_as(2, log_domain, rows, n, x, ldx, y, ldy);
}

/* logsumexp of rows of n <= VLEN / R, R at a time: M + log S, the logs as
 * rowwise_packed takes them. AVX-512 4096x8 2.03 -> 0.71 ns per element,
 * 4096x4 3.94 -> 0.65, AVX2 4096x4 2.82 -> 1.09. */
static ALWAYS_INLINE void logsumexp_packed_as(int R, size_t rows, size_t n,
                                              const float *x, size_t ldx,
                                              log_batch *lb)
{
    size_t r = 0;
    for (; r + R <= rows; r += R) {
        const float *xr = x + r * ldx;
        vf v, m, e, s;
        if (!pack_stats(R, xr, ldx, n, &v, &m, &e, &s)) {
            for (int j = 0; j < R; j++)
                log_batch_put_value(lb, logsumexp_row_regs(n, xr + j * ldx));
            continue;
        }
        log_batch_put_pack(R, lb, s, vset1(1.0f), m);
    }
    if (R > 2 && rows - r >= 2)
        logsumexp_packed_as(2, rows - r, n, x + r * ldx, ldx, lb);
    else if (r < rows)
        log_batch_put_value(lb, logsumexp_row_regs(n, x + r * ldx));
}

static void logsumexp_packed(size_t rows, size_t n, const float *x,
                             size_t ldx, float *lse)
{
    log_batch lb = log_batch_to(lse, rows, n);
    if (pack_rows(n) == 4)
        logsumexp_packed_as(4, rows, n, x, ldx, &lb);
    else
        logsumexp_packed_as(2, rows, n, x, ldx, &lb);
    log_batch_flush(&lb);
}
#endif
