/* SPDX-License-Identifier: MIT */
/*
 * Softmax, log-softmax and logsumexp of rows of at most half a vector, two
 * rows per vector.
 * A part of the kernel template: kernels_tmpl.c includes it, in order,
 * after the parts it builds on; not a standalone header.
 */

#ifndef VEC_HAS_PAIRS /* a vector layer without the pair operations */
#define VEC_HAS_PAIRS 0
#endif

#if VEC_HAS_PAIRS
/* Rows of n <= VLEN / 2 floats (a router's softmax over 8 experts, a
 * binary or 4-way classifier) paired in one vector: one load, one max and
 * one sum reduction and one exp per two rows, where a register row
 * (rows_regs_tmpl.c) or a grouped row pays each of them for one row in a
 * mostly idle vector. Loads rows a and b into *v (padding lanes -inf) and
 * returns 1 with each lane's row max in *m, exp(v - m) in *e and their
 * sum in *s; or 0 for a pair with a max that is not finite or a NaN sum,
 * which goes row by row through the paths that define those rows. */
static ALWAYS_INLINE int pair_stats(const float *xa, const float *xb, size_t n,
                                    vf *v, vf *m, vf *e, vf *s)
{
    *v = vload_pair(xa, xb, n, -INFINITY);
    *m = vpair_max(*v);
    if (!vall_finite(*m))
        return 0;
    *e = exp_nonpos(vsub(*v, *m));
    *s = vpair_sum(*e);
    return vall_finite(*s); /* S <= n unless a NaN */
}

/* Softmax (log_domain 0) or log-softmax of rows of n <= VLEN / 2, two at
 * a time. Softmax: y = exp(x - M) / S by a division, one rounding where
 * 1 / S then a multiply take two. Log-softmax: (x - M) - log S, both
 * logs from one vlog_pos (log.h). The last row of an odd count goes
 * alone. Intel Xeon, interleaved A/B: softmax AVX-512 4096x8 1.24 -> 0.44
 * ns per element, 4096x7 1.39 -> 0.52, 4096x2 4.85 -> 1.79; AVX2 4096x4
 * 1.73 -> 0.63, 4096x2 3.49 -> 1.26; two rows of 8 (AVX-512) 1.65 ->
 * 0.95. Log-softmax AVX-512 4096x8 1.84 -> 0.71, AVX2 4096x4 3.08 -> 1.13
 * (the log per pair as two scalar log_inline: 1.38 and 2.24; as one call
 * of SLEEF's logf: 1.17 and 2.33). */
static void rowwise_pairs(int log_domain, size_t rows, size_t n,
                          const float *x, size_t ldx, float *y, size_t ldy)
{
    size_t r = 0;
    for (; r + 2 <= rows; r += 2) {
        const float *xa = x + r * ldx, *xb = xa + ldx;
        float *ya = y + r * ldy, *yb = ya + ldy;
        vf v, m, e, s;
        if (!pair_stats(xa, xb, n, &v, &m, &e, &s)) {
            rowwise_row_regs(log_domain, n, xa, ya);
            rowwise_row_regs(log_domain, n, xb, yb);
        } else if (log_domain) {
            vstore_pair(ya, yb, vsub(vsub(v, m), vlog_pos(s)), n);
        } else {
            vstore_pair(ya, yb, vdiv(e, s), n);
        }
    }
    if (r < rows)
        rowwise_row_regs(log_domain, n, x + r * ldx, y + r * ldy);
}

/* logsumexp of rows of n <= VLEN / 2, two at a time: M + log S, the logs
 * as rowwise_pairs takes them. AVX-512 4096x8 2.03 -> 0.71 ns per element,
 * AVX2 4096x4 2.82 -> 1.09. */
static void logsumexp_pairs(size_t rows, size_t n, const float *x,
                            size_t ldx, float *lse)
{
    size_t r = 0;
    for (; r + 2 <= rows; r += 2) {
        const float *xa = x + r * ldx, *xb = xa + ldx;
        vf v, m, e, s;
        if (!pair_stats(xa, xb, n, &v, &m, &e, &s)) {
            lse[r] = logsumexp_row_regs(n, xa);
            lse[r + 1] = logsumexp_row_regs(n, xb);
            continue;
        }
        float out[VLEN];
        vstore(out, vadd(m, vlog_pos(s)));
        lse[r] = out[0];
        lse[r + 1] = out[VLEN / 2];
    }
    if (r < rows)
        lse[r] = logsumexp_row_regs(n, x + r * ldx);
}
#endif
