/* SPDX-License-Identifier: MIT */
/*
 * Rows of 2 <= n <= VEC_LANE_COLS floats (2 to 16), VLEN rows at a time,
 * one row per lane: the vector layer transposes them, four columns at a
 * time (vload_cols4, vstore_cols4), so a row's max and sum are n - 1
 * vertical operations across the vectors, where a row alone in a vector
 * takes a horizontal reduction for each, a chain of shuffles that the
 * next steps wait on (packed rows, one reduction within each segment).
 * One vlog_pos serves VLEN rows' logs. The rows past the last whole VLEN
 * go the usual way.
 * A part of the kernel template: kernels_tmpl.c includes it, in order,
 * after the parts it builds on; not a standalone header.
 */

#ifndef VEC_LANE_COLS /* a vector layer without vload_cols4 */
#define VEC_LANE_COLS 0
#endif

#if VEC_LANE_COLS
#if !VEC_MAX_PACK
#error "rows one per lane need the packed rows: soft cross-entropy's lanes fall back to xent_soft_rows"
#endif
/* Whether rows of n floats go this way: VLEN of them or more, of 2 floats
 * or more (a row of one needs no reduction). Rows of 2 to 4 went packed
 * two or four to a vector before (rows_packed_tmpl.c), which stays for
 * fewer rows; one per lane they are faster: Intel Xeon, interleaved A/B,
 * softmax 4096x4 AVX2 0.63 -> 0.38 ns per element, AVX-512 0.47 -> 0.30,
 * 4096x2 AVX2 1.39 -> 0.67, AVX-512 0.93 -> 0.53. */
static int lane_rows(size_t rows, size_t n)
{
    return rows >= VLEN && n >= 2 && n <= VEC_LANE_COLS;
}

/* The kernels below take the row length n and a constant cap >= n, 4, 8
 * or VEC_LANE_COLS, that bounds the vectors they use. LANES_BY_LENGTH(n,
 * f, ...) calls f(n, cap, ...) in the copies they are compiled in: n
 * constant where it is 4, 8 or VEC_LANE_COLS (straight-line code, see
 * rowwise), else variable under the smallest cap. Intel Xeon, interleaved
 * A/B: on AVX-512 the copy of cap 16 ran rows of 5 to 8 1.2-1.7x slower
 * than the copy of cap 8; without the constant copies, rows of 8 and 16
 * took 1.04-1.34x as long. The copies are most of the code these kernels
 * add (the x86 objects' text went from 215 and 212 KB to 470 and 543 KB,
 * AVX2 and AVX-512, release build). */
#define LANES_BY_LENGTH(n, f, ...)                                          \
    ((n) == VEC_LANE_COLS ? f(VEC_LANE_COLS, VEC_LANE_COLS, __VA_ARGS__)    \
     : (n) > 8            ? f((n), VEC_LANE_COLS, __VA_ARGS__)              \
     : (n) == 8           ? f(8, 8, __VA_ARGS__)                            \
     : (n) > 4            ? f((n), 8, __VA_ARGS__)                          \
     : (n) == 4           ? f(4, 4, __VA_ARGS__)                            \
                          : f((n), 4, __VA_ARGS__))

/* VLEN rows of n floats x + k ld transposed into c: lane k of c[j] is
 * x[k ld + j], j < n (c[j] for n <= j < cap unspecified, past cap
 * untouched). cap 4 takes 2 <= n <= 4, cap 8 4 < n <= 8, cap 16 8 < n <=
 * 16. Each group of four columns by a call of its own, its width constant
 * where it can be (as a loop, GCC kept c[] in memory). */
static ALWAYS_INLINE void lanes_load(const float *x, size_t ld, size_t n,
                                     size_t cap, vf c[VEC_LANE_COLS])
{
    if (cap == 4) {
        vload_cols4(x, ld, n, c);
        return;
    }
    vload_cols4(x, ld, 4, c);
    if (cap == 8) {
        vload_cols4(x + 4, ld, n - 4, c + 4);
        return;
    }
    vload_cols4(x + 4, ld, 4, c + 4);
    if (n <= 12) {
        vload_cols4(x + 8, ld, n - 8, c + 8);
        for (size_t j = 12; j < VEC_LANE_COLS; j++) /* tells GCC c[] is set */
            c[j] = vzero();
    } else {
        vload_cols4(x + 8, ld, 4, c + 8);
        vload_cols4(x + 12, ld, n - 12, c + 12);
    }
}

/* y[k ld + j] = lane k of c[j], j < n, nothing else */
static ALWAYS_INLINE void lanes_store(float *y, size_t ld, size_t n, size_t cap,
                                      const vf c[VEC_LANE_COLS])
{
    if (cap == 4) {
        vstore_cols4(y, ld, n, c);
        return;
    }
    vstore_cols4(y, ld, 4, c);
    if (cap == 8) {
        vstore_cols4(y + 4, ld, n - 4, c + 4);
        return;
    }
    vstore_cols4(y + 4, ld, 4, c + 4);
    if (n <= 12) {
        vstore_cols4(y + 8, ld, n - 8, c + 8);
    } else {
        vstore_cols4(y + 8, ld, 4, c + 8);
        vstore_cols4(y + 12, ld, n - 12, c + 12);
    }
}

/* VLEN rows' logits transposed into c[0, n); returns each lane's row max */
static ALWAYS_INLINE vf lanes_load_max(const float *x, size_t ld, size_t n,
                                       size_t cap, vf c[VEC_LANE_COLS])
{
    lanes_load(x, ld, n, cap, c);
    vf m0 = c[0], m1 = c[1];
    UNROLL_ALL
    for (size_t j = 2; j < VEC_LANE_COLS; j++) {
        if (j < cap && j < n) {
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
static ALWAYS_INLINE vf lanes_exp_sum(size_t n, size_t cap, int keep_exps,
                                      vf c[VEC_LANE_COLS], vf m)
{
    vf s0 = vzero(), s1 = s0;
    UNROLL_ALL
    for (size_t j = 0; j < VEC_LANE_COLS; j++) {
        if (j < cap && j < n) {
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
                                     size_t cap, int keep_exps,
                                     vf c[VEC_LANE_COLS], vf *m, vf *s)
{
    *m = lanes_load_max(x, ld, n, cap, c);
    if (!vall_finite(*m))
        return 0;
    *s = lanes_exp_sum(n, cap, keep_exps, c, *m);
    return vall_finite(*s); /* S <= n unless a NaN */
}

/* Softmax (log_domain 0): exp(x - M) (1 / S); log-softmax: (x - M) -
 * log S, rounded as the other paths round them. */
static ALWAYS_INLINE void rowwise_lanes_as(size_t n, size_t cap, int log_domain,
                                           size_t rows, const float *x,
                                           size_t ldx, float *y, size_t ldy)
{
    for (size_t r = 0; r + VLEN <= rows; r += VLEN) {
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy;
        vf c[VEC_LANE_COLS], m, s;
        if (!lanes_stats(xr, ldx, n, cap, !log_domain, c, &m, &s)) {
            for (size_t k = 0; k < VLEN; k++)
                rowwise_row_regs(log_domain, n, xr + k * ldx, yr + k * ldy);
            continue;
        }
        const vf f = log_domain ? vlog_pos(s) : vdiv(vset1(1.0f), s);
        UNROLL_ALL
        for (size_t j = 0; j < VEC_LANE_COLS; j++)
            if (j < cap && j < n)
                c[j] = log_domain ? vsub(c[j], f) : vmul(c[j], f);
        lanes_store(yr, ldy, n, cap, c);
    }
}

/* Softmax or log-softmax of the whole VLENs of rows; returns how many */
static NOINLINE size_t rowwise_lanes(int log_domain, size_t rows, size_t n,
                                     const float *x, size_t ldx, float *y,
                                     size_t ldy)
{
    if (log_domain)
        LANES_BY_LENGTH(n, rowwise_lanes_as, 1, rows, x, ldx, y, ldy);
    else
        LANES_BY_LENGTH(n, rowwise_lanes_as, 0, rows, x, ldx, y, ldy);
    return rows / VLEN * VLEN;
}

/* logsumexp M + log S */
static ALWAYS_INLINE void logsumexp_lanes_as(size_t n, size_t cap, size_t rows,
                                             const float *x, size_t ldx,
                                             float *lse)
{
    for (size_t r = 0; r + VLEN <= rows; r += VLEN) {
        const float *xr = x + r * ldx;
        vf c[VEC_LANE_COLS], m, s;
        if (!lanes_stats(xr, ldx, n, cap, 0, c, &m, &s)) {
            for (size_t k = 0; k < VLEN; k++)
                lse[r + k] = logsumexp_row_regs(n, xr + k * ldx);
            continue;
        }
        vstore(lse + r, vadd(m, vlog_pos(s)));
    }
}

/* logsumexp of the whole VLENs of rows; returns how many */
static NOINLINE size_t logsumexp_lanes(size_t rows, size_t n, const float *x,
                                       size_t ldx, float *lse)
{
    LANES_BY_LENGTH(n, logsumexp_lanes_as, rows, x, ldx, lse);
    return rows / VLEN * VLEN;
}
#endif
