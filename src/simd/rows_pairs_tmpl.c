/* SPDX-License-Identifier: MIT */
/*
 * Softmax of rows of at most half a vector, two rows per vector.
 * A part of the kernel template: kernels_tmpl.c includes it, in order,
 * after the parts it builds on; not a standalone header.
 */

#ifndef VEC_HAS_PAIRS /* a vector layer without the pair operations */
#define VEC_HAS_PAIRS 0
#endif

#if VEC_HAS_PAIRS
/* Rows of n <= VLEN / 2 floats (a router's softmax over 8 experts, a
 * binary or 4-way classifier) paired in one vector: one load, one max and
 * one sum reduction, one exp and one store per two rows, where a register
 * row (rows_regs_tmpl.c) pays each of them for one row in a mostly idle
 * vector. y = exp(x - M) / S by a division, one rounding where 1 / S then
 * a multiply take two. A pair with a max that is not finite, or a NaN
 * sum, goes row by row through rowwise_row_regs, which defines those
 * rows; so does the last row of an odd count. Intel Xeon, interleaved
 * A/B: AVX-512 4096x8 1.24 -> 0.44 ns per element, 4096x7 1.39 -> 0.52,
 * 4096x2 4.85 -> 1.79; AVX2 4096x4 1.73 -> 0.63, 4096x2 3.49 -> 1.26;
 * two rows of 8 (AVX-512) 1.65 -> 0.95. */
static void softmax_pairs(size_t rows, size_t n, const float *x, size_t ldx,
                          float *y, size_t ldy)
{
    size_t r = 0;
    for (; r + 2 <= rows; r += 2) {
        const float *xa = x + r * ldx, *xb = xa + ldx;
        float *ya = y + r * ldy, *yb = ya + ldy;
        const vf v = vload_pair(xa, xb, n, -INFINITY), m = vpair_max(v);
        if (vall_finite(m)) {
            const vf e = exp_nonpos(vsub(v, m)), s = vpair_sum(e);
            if (vall_finite(s)) { /* no NaN (S <= n otherwise) */
                vstore_pair(ya, yb, vdiv(e, s), n);
                continue;
            }
        }
        rowwise_row_regs(0, n, xa, ya);
        rowwise_row_regs(0, n, xb, yb);
    }
    if (r < rows)
        rowwise_row_regs(0, n, x + r * ldx, y + r * ldy);
}
#endif
