/* SPDX-License-Identifier: MIT */
/*
 * Softmax, log-softmax and logsumexp.
 * A part of the kernel template: kernels_tmpl.c includes it, in order,
 * after the parts it builds on; not a standalone header.
 */

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

/* Softmax of rows of at most REG_VECS vectors, three or more, one at a
 * time in registers, prefetching the row after next to L1 (interleaved
 * A/B on an Intel Xeon: 4096x128 and 4096x100 3-9% faster). Out of line:
 * in rowwise, the same loop made the lone row of 64 3% slower. */
static ALWAYS_INLINE void softmax_rows_regs_as(size_t rows, size_t cols,
                                                const float *x, size_t ldx,
                                                float *y, size_t ldy)
{
    for (size_t r = 0; r < rows; r++) {
        prefetch_row_after_next(x, ldx, r, rows, cols);
        rowwise_row_regs(0, cols, x + r * ldx, y + r * ldy);
    }
}

static NOINLINE void softmax_rows_regs(size_t rows, size_t cols, const float *x,
                                       size_t ldx, float *y, size_t ldy)
{
    if (cols == REG_VECS * VLEN) /* straight-line code: see rowwise */
        softmax_rows_regs_as(rows, REG_VECS * VLEN, x, ldx, y, ldy);
    else
        softmax_rows_regs_as(rows, cols, x, ldx, y, ldy);
}

/* Softmax (log_domain 0) or log-softmax, the structure chosen by row
 * length. Softmax keeps every row of up to REG_VECS vectors in registers,
 * log-softmax only a lone one (see rowwise_row_regs). */
static ALWAYS_INLINE void rowwise(int log_domain, size_t rows, size_t cols,
                                  const float *x, size_t ldx, float *y,
                                  size_t ldy)
{
#if VEC_LANE_COLS
    if (lane_rows(rows, cols)) {
        const size_t done = rowwise_lanes(log_domain, rows, cols, x, ldx, y, ldy);
        if (done == rows)
            return;
        rows -= done;
        x += done * ldx;
        y += done * ldy;
    }
#endif
#if VEC_MAX_PACK
    if (rows > 1 && cols <= VLEN / 2) {
        rowwise_packed(log_domain, rows, cols, x, ldx, y, ldy);
        return;
    }
#endif
    if (!log_domain && rows > 2 && cols <= REG_VECS * VLEN) {
        softmax_rows_regs(rows, cols, x, ldx, y, ldy);
        return;
    }
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
    /* Rows of one block: all maxima, then all sums (see GROUP). The sums
     * prefetch the next group, as rowwise_rows_short does (Intel Xeon,
     * interleaved A/B: AVX-512 1024x1024 39% faster, 4096x128 11%, 64x1000
     * 8%; AVX2 4096x128 17%; rows held in L2 unchanged). */
    for (size_t k = 0; k < g; k++) {
        st[k].max = block_max(x + k * ldx, cols);
        st[k].finite = isfinite(st[k].max);
    }
    const int ahead = rows >= 2 * GROUP; /* the next group is whole */
    for (size_t k = 0; k < g; k++)
        if (st[k].finite)
            st[k].sum = block_exp_sum(x + k * ldx, cols, st[k].max, NULL,
                                      exp_nonpos, 0,
                                      ahead ? x + (GROUP + k) * ldx : NULL,
                                      ahead ? cols : 0);
    return g;
}

static void logsumexp(size_t rows, size_t cols, const float *x, size_t ldx,
                      float *lse)
{
    if (lone_short_row(rows, cols)) {
        lse[0] = logsumexp_row_regs(cols, x);
        return;
    }
#if VEC_LANE_COLS
    if (lane_rows(rows, cols)) {
        const size_t done = logsumexp_lanes(rows, cols, x, ldx, lse);
        rows -= done;
        x += done * ldx;
        lse += done;
    }
#endif
#if VEC_MAX_PACK
    if (cols <= VLEN / 2) {
        logsumexp_packed(rows, cols, x, ldx, lse);
        return;
    }
#endif
    stats st[GROUP];
    for (size_t r = 0; r < rows;) {
        const size_t g = group_stats(rows - r, cols, x + r * ldx, ldx, st);
        for (size_t k = 0; k < g; k++, r++)
            lse[r] = st[k].finite /* a NaN sum gives NaN */
                         ? (float)((double)st[k].max + log_inline(st[k].sum))
                         : smx_logsumexp_row_scalar(cols, x + r * ldx);
    }
}
