/* SPDX-License-Identifier: MIT */
/*
 * Rows of VEC_LANE_COLS / 2 < n <= VEC_LANE_COLS floats (5 to 8), VLEN rows
 * at a time, one row per lane: the vector layer transposes them
 * (vload_lanes, vstore_lanes), so
 * a row's max and sum are n - 1 vertical operations across the vectors,
 * where a row alone in a vector takes a horizontal reduction for each,
 * a chain of shuffles that the next steps wait on. One vlog_pos serves
 * VLEN rows' logs. The rows past the last whole VLEN go the usual way.
 * A part of the kernel template: kernels_tmpl.c includes it, in order,
 * after the parts it builds on; not a standalone header.
 */

#ifndef VEC_LANE_COLS /* a vector layer without vload_lanes */
#define VEC_LANE_COLS 0
#endif

#if VEC_LANE_COLS
/* Whether rows of n floats go this way: VLEN of them or more */
static int lane_rows(size_t rows, size_t n)
{
    return rows >= VLEN && n > VEC_LANE_COLS / 2 && n <= VEC_LANE_COLS;
}

/* VLEN rows' logits transposed into c[0, n); returns each lane's row max */
static ALWAYS_INLINE vf lanes_load_max(const float *x, size_t ld, size_t n,
                                       vf c[VEC_LANE_COLS])
{
    vload_lanes(x, ld, n, c);
    vf m0 = c[0], m1 = c[1];
    UNROLL_ALL
    for (size_t j = 2; j < VEC_LANE_COLS; j++) {
        if (j < n) {
            if (j & 1)
                m1 = vmax(m1, c[j]);
            else
                m0 = vmax(m0, c[j]);
        }
    }
    return vmax(m0, m1);
}

/* The sum S of exp(c[j] - m); c[j] becomes the exp where `keep_exps` is
 * set, else c[j] - m. */
static ALWAYS_INLINE vf lanes_exp_sum(size_t n, int keep_exps,
                                      vf c[VEC_LANE_COLS], vf m)
{
    vf s0 = vzero(), s1 = s0;
    UNROLL_ALL
    for (size_t j = 0; j < VEC_LANE_COLS; j++) {
        if (j < n) {
            const vf d = vsub(c[j], m), e = exp_nonpos(d);
            c[j] = keep_exps ? e : d;
            if (j & 1)
                s1 = vadd(s1, e);
            else
                s0 = vadd(s0, e);
        }
    }
    return vadd(s0, s1);
}

/* Both, with the max in *m and S in *s. Returns 0 if a row's max is not
 * finite (c then holds the logits, S unset), or 0 after the sum if an S
 * is NaN: those rows go one by one to the paths that define them. */
static ALWAYS_INLINE int lanes_stats(const float *x, size_t ld, size_t n,
                                     int keep_exps, vf c[VEC_LANE_COLS], vf *m,
                                     vf *s)
{
    *m = lanes_load_max(x, ld, n, c);
    if (!vall_finite(*m))
        return 0;
    *s = lanes_exp_sum(n, keep_exps, c, *m);
    return vall_finite(*s); /* S <= n unless a NaN */
}

/* Softmax (log_domain 0): exp(x - M) (1 / S); log-softmax: (x - M) -
 * log S, rounded as the other paths round them. */
static ALWAYS_INLINE void rowwise_lanes_as(int log_domain, size_t rows,
                                           size_t n, const float *x,
                                           size_t ldx, float *y, size_t ldy)
{
    for (size_t r = 0; r + VLEN <= rows; r += VLEN) {
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy;
        vf c[VEC_LANE_COLS], m, s;
        if (!lanes_stats(xr, ldx, n, !log_domain, c, &m, &s)) {
            for (size_t k = 0; k < VLEN; k++)
                rowwise_row_regs(log_domain, n, xr + k * ldx, yr + k * ldy);
            continue;
        }
        const vf f = log_domain ? vlog_pos(s) : vdiv(vset1(1.0f), s);
        UNROLL_ALL
        for (size_t j = 0; j < VEC_LANE_COLS; j++)
            if (j < n)
                c[j] = log_domain ? vsub(c[j], f) : vmul(c[j], f);
        vstore_lanes(yr, ldy, n, c);
    }
}

/* Softmax or log-softmax of the whole VLENs of rows; returns how many */
static NOINLINE size_t rowwise_lanes(int log_domain, size_t rows, size_t n,
                                     const float *x, size_t ldx, float *y,
                                     size_t ldy)
{
    if (log_domain && n == VEC_LANE_COLS) /* straight-line code: see rowwise */
        rowwise_lanes_as(1, rows, VEC_LANE_COLS, x, ldx, y, ldy);
    else if (log_domain)
        rowwise_lanes_as(1, rows, n, x, ldx, y, ldy);
    else if (n == VEC_LANE_COLS)
        rowwise_lanes_as(0, rows, VEC_LANE_COLS, x, ldx, y, ldy);
    else
        rowwise_lanes_as(0, rows, n, x, ldx, y, ldy);
    return rows / VLEN * VLEN;
}

/* logsumexp M + log S of the whole VLENs of rows; returns how many */
static NOINLINE size_t logsumexp_lanes(size_t rows, size_t n, const float *x,
                                       size_t ldx, float *lse)
{
    for (size_t r = 0; r + VLEN <= rows; r += VLEN) {
        const float *xr = x + r * ldx;
        vf c[VEC_LANE_COLS], m, s;
        if (!lanes_stats(xr, ldx, n, 0, c, &m, &s)) {
            for (size_t k = 0; k < VLEN; k++)
                lse[r + k] = logsumexp_row_regs(n, xr + k * ldx);
            continue;
        }
        vstore(lse + r, vadd(m, vlog_pos(s)));
    }
    return rows / VLEN * VLEN;
}
#endif
