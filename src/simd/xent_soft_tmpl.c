/* SPDX-License-Identifier: MIT */
/*
 * Cross-entropy with soft targets (probabilities): loss and gradient.
 * A part of the kernel template: kernels_tmpl.c includes it, in order,
 * after the parts it builds on; not a standalone header.
 */

/* The smoothed target q = (1 - e) p + e / n, as keep p + spread */
static ALWAYS_INLINE vf soft_q(vf p, int smooth, vf keep, vf spread)
{
    return smooth ? vfma(p, keep, spread) : p;
}

/* loss terms q (log S - (z - M)) where q != 0, and grad = a exp(z - M) - c q
 * over n <= BLOCK elements; returns the block's loss. Prefetches z and p
 * STREAM_AHEAD ahead to L2 within their first `avail` elements, and with
 * `stream` (grad aligned to the vector size) writes the whole vectors of
 * grad with non-temporal stores, as out_row does past the caches. */
static ALWAYS_INLINE float xent_soft_block(const float *z, const float *p,
                                          size_t n, float m, float log_s,
                                          float keep, float spread, int smooth,
                                          float a, float c, float *grad,
                                          int stream, size_t avail)
{
    const vf vm = vset1(m), vls = vset1(log_s), vkeep = vset1(keep);
    const vf vspread = vset1(spread), va = vset1(a), vnc = vset1(-c);
    vf acc = vzero();
    size_t i = 0;
    for (; i < n; i += VLEN) {
        const size_t t = n - i < VLEN ? n - i : VLEN;
        if (i % (64 / sizeof(float)) == 0 && i + STREAM_AHEAD + VLEN <= avail) {
            __builtin_prefetch(z + i + STREAM_AHEAD, 0, 2);
            __builtin_prefetch(p + i + STREAM_AHEAD, 0, 2);
        }
        const vf zv = t == VLEN ? vload(z + i) : vload_part(z + i, t, m);
        const vf pv = t == VLEN ? vload(p + i) : vload_part(p + i, t, 0.0f);
        vf q = soft_q(pv, smooth, vkeep, vspread);
        if (t < VLEN) /* padding lanes have q = spread: drop them */
            q = vkeep_first(q, t);
        const vf d = vsub(zv, vm);
        acc = vfma_nonzero(q, vsub(vls, d), acc);
        if (grad) {
            const vf gv = soft_grad(exp_nonpos(d), q, va, vnc);
            if (t == VLEN && stream)
                vstream(grad + i, gv);
            else if (t == VLEN)
                vstore(grad + i, gv);
            else
                vstore_part(grad + i, gv, t);
        }
    }
    return vhsum(acc);
}

/* One vector of xent_soft_exp_block: returns exp(z - m), adds it to *se
 * and q (z - m) to *sqd where q != 0 (z = -inf with q = 0 would add NaN).
 * A plain multiply-add, with the block's sum taken again where it came out
 * NaN, measured up to 3% faster on AVX-512 and 1-6% on AVX2 on rows
 * without -inf (the test of q is one operation there, two on AVX2), but
 * 9-19% slower on rows with -inf masks in every block (Intel Xeon,
 * interleaved A/B): not taken. */
static ALWAYS_INLINE vf soft_exp_step(vf z, vf q, vf m, vf *se, vf *sqd)
{
    const vf d = vsub(z, m), ev = exp_nonpos(d);
    *se = vadd(*se, ev);
    *sqd = vfma_nonzero(q, d, *sqd);
    return ev;
}

/* exp(z - m) stored to e (unless e is NULL) over n <= BLOCK elements;
 * adds their sum to *s and sum(q (z - m)) over q != 0 to *qd, and sum(q)
 * to *sq unless sq is NULL: float in runs of SOFT_SQ_RUN elements (16
 * terms per lane, as row_affine_sum_max, and at most two more in the
 * last), double across them. Meanwhile it prefetches the first ahead_n
 * elements of az and ap (the same row of the next group; ahead_n 0 for
 * none) to L1: interleaved A/B on an Intel Xeon, 4096x128 6% faster on
 * AVX-512 and 18% on AVX2, 1024x1024 5%, other shapes within 1.5%. */
#define SOFT_SQ_RUN ((VEC_FEW_REGS ? 16 : 32) * VLEN)
static ALWAYS_INLINE void xent_soft_exp_block_as(const float *z, const float *p,
                                                 size_t n, float m, float keep,
                                                 float spread, int smooth,
                                                 float *e, double *s, double *qd,
                                                 double *sq, const float *az,
                                                 const float *ap, size_t ahead_n)
{
    const vf vm = vset1(m), vkeep = vset1(keep), vspread = vset1(spread);
    vf se0 = vzero(), se1 = se0, sqd0 = se0, sqd1 = se0, sq0 = se0, sq1 = se0;
    size_t i = 0;
    while (i + 2 * VLEN <= n) {
        const size_t end = n - i < SOFT_SQ_RUN ? n : i + SOFT_SQ_RUN;
        for (; i + 2 * VLEN <= end; i += 2 * VLEN) {
            if (i + 2 * VLEN <= ahead_n) { /* never past the row */
                prefetch_vecs(az + i, 2, 1);
                prefetch_vecs(ap + i, 2, 1);
            }
            const vf q0 = soft_q(vload(p + i), smooth, vkeep, vspread);
            const vf q1 = soft_q(vload(p + i + VLEN), smooth, vkeep, vspread);
            const vf e0 = soft_exp_step(vload(z + i), q0, vm, &se0, &sqd0);
            /* One chain of each sum with 16 registers (VEC_FEW_REGS, and
             * runs of half the length, so as many terms a lane): GCC had
             * kept accumulators of the six on the stack. AVX2, Intel
             * Xeon: 1024x1024 0.79 of the time, 4096x128 0.95, the
             * in-cache rows 0.98-1.02. */
            const vf e1 = VEC_FEW_REGS
                              ? soft_exp_step(vload(z + i + VLEN), q1, vm, &se0, &sqd0)
                              : soft_exp_step(vload(z + i + VLEN), q1, vm, &se1, &sqd1);
            if (e) {
                vstore(e + i, e0);
                vstore(e + i + VLEN, e1);
            }
            if (sq) {
                sq0 = vadd(sq0, q0);
                if (VEC_FEW_REGS)
                    sq0 = vadd(sq0, q1);
                else
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
        const vf ev = soft_exp_step(vload(z + i), q, vm, &se0, &sqd0);
        if (e)
            vstore(e + i, ev);
        if (sq)
            sq0 = vadd(sq0, q);
    }
    if (i < n) { /* padding lanes: z = -inf gives exp 0; q = spread, dropped */
        const size_t t = n - i;
        const vf q = vkeep_first(soft_q(vload_part(p + i, t, 0.0f), smooth, vkeep, vspread), t);
        const vf ev = soft_exp_step(vload_part(z + i, t, -INFINITY), q, vm, &se1, &sqd1);
        if (e)
            vstore_part(e + i, ev, t);
        if (sq)
            sq1 = vadd(sq1, q);
    }
    *s += vhsum(vadd(se0, se1));
    *qd += vhsum(vadd(sqd0, sqd1));
    if (sq)
        *sq += vhsum(vadd(sq0, sq1));
}

/* xent_soft_exp_block_as with `smooth` a constant in each copy: left to
 * GCC, the loop tested it every two vectors (a float compare and two
 * branches). */
static ALWAYS_INLINE void xent_soft_exp_block(const float *z, const float *p,
                                              size_t n, float m, float keep,
                                              float spread, int smooth,
                                              float *e, double *s, double *qd,
                                              double *sq, const float *az,
                                              const float *ap, size_t ahead_n)
{
    if (smooth)
        xent_soft_exp_block_as(z, p, n, m, keep, spread, 1, e, s, qd, sq, az,
                               ap, ahead_n);
    else
        xent_soft_exp_block_as(z, p, n, m, keep, spread, 0, e, s, qd, sq, az,
                               ap, ahead_n);
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

/* g = a e - c q in place over the exps e held in g. With the default
 * scale 1 and no smoothing, one operation per vector, a e - p (the same
 * bits as a e + p (-1)); without smoothing, two. AVX-512 stores aligned,
 * as every last pass (out_head). (Folding c into the smoothing's
 * multiply-add, as (-c keep) p + (-c spread), saves one more with
 * smoothing, but c keep underflows where c q does not: the fuzzer found
 * a gradient off by 2^-85 with c = 2^-149.) */
static void xent_soft_grad_from_exps(float *g, const float *p, size_t n,
                                     float a, float c, float keep,
                                     float spread, int smooth)
{
    out_params prm = params(keep, a, spread);
    prm.c = vset1(-c);
    if (smooth)
        out_range(OUT_SOFT_GRAD, g, p, g, n, &prm, 0);
    else if (c == 1.0f)
        out_range(OUT_SOFT_GRAD_UNIT, g, p, g, n, &prm, 0);
    else
        out_range(OUT_SOFT_GRAD_Q, g, p, g, n, &prm, 0);
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
    const float k = (float)keep, sp = (float)spread, c = (float)scale;
    const int smooth = e != 0.0;
    double l = 0.0;
    if (cols <= SHORT_ROW) { /* in cache: prefetching measured 5-10% slower */
        for (size_t b = 0; b < cols; b += BLOCK)
            l += xent_soft_block(z + b, p + b, cols - b < BLOCK ? cols - b : BLOCK,
                                 m, log_s, k, sp, smooth, a, c, g ? g + b : NULL,
                                 0, 0);
        return (float)l;
    }
    /* from memory: prefetch ahead, and stream the whole vectors of g from
     * its first aligned one, as out_row does */
    size_t b = 0;
    if (g && VEC_HAS_STREAM) {
        b = (VLEN - (uintptr_t)g / sizeof(float) % VLEN) % VLEN;
        l += xent_soft_block(z, p, b, m, log_s, k, sp, smooth, a, c, g, 0, 0);
    }
    for (; b < cols; b += BLOCK)
        l += xent_soft_block(z + b, p + b, cols - b < BLOCK ? cols - b : BLOCK, m,
                             log_s, k, sp, smooth, a, c, g ? g + b : NULL,
                             g && VEC_HAS_STREAM, cols - b);
    vstream_fence(); /* order the streamed stores before the return */
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
 * With `ahead`, g more rows of z and p follow these, and phase 2 prefetches
 * them (rows of one block; see xent_soft_exp_block).
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
                                                  size_t ldg, int ahead)
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
                                q_first ? NULL : &sum_q[k],
                                ahead ? z + (g + k) * ldz : NULL,
                                ahead ? p + (g + k) * ldp : NULL,
                                ahead && cols <= BLOCK ? cols : 0);
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

static ALWAYS_INLINE void xent_soft_rows_short(size_t g, size_t cols,
                                               const float *z, size_t ldz,
                                               const float *p, size_t ldp,
                                               const smx_xent_params *prm,
                                               float *loss, float *grad,
                                               size_t ldg, int ahead)
{
    if (grad == z)
        xent_soft_rows_short_as(1, g, cols, z, ldz, p, ldp, prm, loss, grad, ldg,
                                ahead);
    else
        xent_soft_rows_short_as(0, g, cols, z, ldz, p, ldp, prm, loss, grad, ldg,
                                ahead);
}

/* The loss alone of up to GROUP soft rows of one block, phase by phase
 * as xent_soft_rows_short: the maxima (a row whose max is not finite goes
 * to the scalar reference), then S, sum(q d) and sum(q) from one pass over
 * z and p, nothing stored, prefetching the next group's rows with `ahead`.
 * The two-pass row reads z three times (its statistics pass, then the
 * loss terms) and each row alone. */
static void xent_soft_rows_loss(size_t g, size_t cols, const float *z,
                                size_t ldz, const float *p, size_t ldp,
                                const smx_xent_params *prm, float *loss,
                                int ahead)
{
    const double e = prm->smoothing;
    const float keep = (float)(1.0 - e), spread = (float)(e / (double)cols);
    float m[GROUP];
    for (size_t k = 0; k < g; k++) {
        m[k] = block_max(z + k * ldz, cols);
        if (!isfinite(m[k]))
            loss[k] = smx_xent_soft_row_scalar(cols, z + k * ldz, p + k * ldp, prm, NULL);
    }
    for (size_t k = 0; k < g; k++) {
        if (!isfinite(m[k]))
            continue;
        const float *zk = z + k * ldz, *pk = p + k * ldp;
        double s = 0.0, qd = 0.0, sum_q = 0.0;
        xent_soft_exp_block(zk, pk, cols, m[k], keep, spread, e != 0.0, NULL,
                            &s, &qd, &sum_q, ahead ? z + (g + k) * ldz : NULL,
                            ahead ? p + (g + k) * ldp : NULL, ahead ? cols : 0);
        if (!isfinite(sum_q)) /* targets not probabilities: see xent_soft_rows */
            loss[k] = smx_xent_soft_row_scalar(cols, zk, pk, prm, NULL);
        else /* a NaN S (a NaN logit) gives a NaN loss */
            loss[k] = (float)(log_inline(s) * sum_q - qd);
    }
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
 * any finite max) and scaled by exp(-inf) = 0. Each block's exp pass
 * prefetches the next block of z and p to L1 (Intel Xeon, the bench,
 * interleaved, time against before: 256x32000 0.88-0.90, 8x32000 0.89
 * on AVX2 and 0.97 on AVX-512, 8x128256 0.94 and 0.99, 1x32000 0.98 and
 * 0.99; prefetching the next block of g and p before each block of the
 * gradient pass measured 3-12% slower). */
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
        const size_t next = cols - b - len < BLOCK ? cols - b - len : BLOCK;
        xent_soft_exp_block(z + b, p + b, len, m == -INFINITY ? 0.0f : m, keep,
                            spread, smooth, g + b, &s, &qd, &sum_q, z + b + len,
                            p + b + len, next);
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
/* These kernels hold q in float. Where e / n underflows there (e below
 * about n 2^-150), q = e / n > 0 at p = 0 would be 0, and its term, +inf
 * at a -inf logit, dropped (the fuzzer found -inf for NaN): such smoothing
 * goes to the scalar reference, which takes q in double. */
static int soft_q_underflows(const smx_xent_params *prm, size_t cols)
{
    return prm->smoothing != 0.0 &&
           (float)(prm->smoothing / (double)cols) == 0.0f;
}

/* The unpacked rows. xent_soft takes it inline, as before the packed rows
 * (called, the lone row of 1000 measured 3.5% slower on AVX-512); the
 * packs' fallback calls the one copy out of line (xent_soft_rows). Its
 * groups' xent_soft_rows_short stay inline (called, AVX2 4096x8 measured
 * 7% slower). */
static ALWAYS_INLINE void xent_soft_rows_inline(size_t rows, size_t cols,
                                                const float *z, size_t ldz,
                                                const float *p, size_t ldp,
                                                const smx_xent_params *prm,
                                                float *loss, float *grad,
                                                size_t ldg)
{
    const double e = prm->smoothing;
    const float keep = (float)(1.0 - e), spread = (float)(e / (double)cols);
    const int q_underflows = soft_q_underflows(prm, cols);
    const int fast = grad && grad != p && cols <= SHORT_ROW && !q_underflows;
    if (fast && grad != z && cols > BLOCK) {
        for (size_t r = 0; r < rows; r++) {
            const float l = xent_soft_row_online(cols, z + r * ldz, p + r * ldp,
                                                 prm, grad + r * ldg);
            if (loss)
                loss[r] = l;
        }
        return;
    }
    if (fast) {
        const size_t group = cols <= SOFT_GROUP_ROW ? GROUP : 1;
        float l[GROUP];
        for (size_t r = 0; r < rows; r += group) {
            const size_t g = rows - r < group ? rows - r : group;
            xent_soft_rows_short(g, cols, z + r * ldz, ldz, p + r * ldp, ldp,
                                 prm, loss ? loss + r : l, grad + r * ldg, ldg,
                                 r + 2 * group <= rows);
        }
        return;
    }
    if (!grad && cols <= GROUP_ROW && !q_underflows) {
        for (size_t r = 0; r < rows; r += GROUP) {
            const size_t g = rows - r < GROUP ? rows - r : GROUP;
            xent_soft_rows_loss(g, cols, z + r * ldz, ldz, p + r * ldp, ldp,
                                prm, loss + r, r + 2 * GROUP <= rows);
        }
        return;
    }
    for (size_t r = 0; r < rows; r++) {
        const float *zr = z + r * ldz, *pr = p + r * ldp;
        float *g = grad ? grad + r * ldg : NULL;
        const double sum_q = q_underflows ? 0.0 : row_affine_sum(pr, cols, keep, spread);
        float l;
        /* Targets that are infinite or NaN (not probabilities) go to the
         * scalar reference, which defines their limits: where log S - d
         * rounds to 0 in float but not in double, q (log S - d) would be
         * inf * 0 here and inf there (the fuzzer found it in both paths). */
        if (q_underflows || !isfinite(sum_q))
            l = smx_xent_soft_row_scalar(cols, zr, pr, prm, g);
        else
            l = xent_soft_row_two_pass(cols, zr, pr, prm, sum_q, g);
        if (loss)
            loss[r] = l;
    }
}

#if VEC_MAX_PACK
static NOINLINE void xent_soft_rows(size_t rows, size_t cols, const float *z,
                                    size_t ldz, const float *p, size_t ldp,
                                    const smx_xent_params *prm, float *loss,
                                    float *grad, size_t ldg)
{
    xent_soft_rows_inline(rows, cols, z, ldz, p, ldp, prm, loss, grad, ldg);
}

/* A soft row of at most REG_VECS vectors held in registers from its loads
 * to its gradient store (rows_regs_tmpl.c):
 * max(z), then exp(z - M) over the registers beside S, sum(q d) and
 * sum(q), then a exp(d) - c q stored; the losses log S sum(q) - sum(q d)
 * from a log_batch, as the packed rows. z and p are read once, g written
 * once, where the grouped passes read z twice, p twice and the stored exps
 * once, and write g twice. Everything is loaded before the first store,
 * so g may be z or p. A row whose max or sum(q) is not finite, or whose S
 * is NaN, goes to xent_soft_rows. */
static ALWAYS_INLINE void xent_soft_row_regs(size_t cols, const float *z,
                                             const float *p,
                                             const smx_xent_params *prm,
                                             log_batch *lb, float *g)
{
    const double e = prm->smoothing, scale = prm->grad_scale;
    const int smooth = e != 0.0;
    const vf vkeep = vset1((float)(1.0 - e)), vspread = vset1((float)(e / (double)cols));
    reg_row r;
    vf q[REG_VECS];
    const float m = reg_row_load_max(&r, z, cols);
    const vf vm = vset1(m);
    vf se0 = vzero(), se1 = se0, sqd0 = se0, sqd1 = se0, sq0 = se0, sq1 = se0;
    UNROLL_ALL
    for (size_t j = 0; j < REG_VECS; j++) {
        if (j >= r.nv) {
            q[j] = vzero(); /* never used */
            continue;
        }
        if (j + 1 < r.nv || r.last == VLEN) {
            q[j] = soft_q(vload(p + j * VLEN), smooth, vkeep, vspread);
        } else { /* padding lanes: q = spread dropped, z = -inf gives exp 0 */
            q[j] = vkeep_first(soft_q(vload_part(p + j * VLEN, r.last, 0.0f),
                                      smooth, vkeep, vspread), r.last);
        }
        if (j & 1) {
            r.v[j] = soft_exp_step(r.v[j], q[j], vm, &se1, &sqd1);
            sq1 = vadd(sq1, q[j]);
        } else {
            r.v[j] = soft_exp_step(r.v[j], q[j], vm, &se0, &sqd0);
            sq0 = vadd(sq0, q[j]);
        }
    }
    const float s = vhsum(vadd(se0, se1)), sq = vhsum(vadd(sq0, sq1));
    if (!isfinite(m) || !isfinite(sq) || isnan(s)) {
        float l;
        xent_soft_rows(1, cols, z, cols, p, cols, prm, lb ? &l : NULL, g, cols);
        if (lb)
            log_batch_put_value(lb, l);
        return;
    }
    if (g) { /* q is held smoothed */
        out_params gp = params(0.0f, (float)(scale * (double)sq / (double)s), 0.0f);
        gp.c = vset1((float)-scale);
        if (scale == 1.0) /* a e - q, one operation: 64x128 3% faster */
            reg_row_store(&r, q, OUT_SOFT_GRAD_UNIT, &gp, g);
        else
            reg_row_store(&r, q, OUT_SOFT_GRAD_Q, &gp, g);
    }
    if (lb)
        log_batch_put_row(lb, s, sq, -vhsum(vadd(sqd0, sqd1)));
}

/* Rows of one length: a constant in its copy */
static ALWAYS_INLINE void xent_soft_rows_regs_as(size_t rows, size_t cols,
                                                  const float *z, size_t ldz,
                                                  const float *p, size_t ldp,
                                                  const smx_xent_params *prm,
                                                  log_batch *lb, float *grad,
                                                  size_t ldg)
{
    for (size_t r = 0; r < rows; r++) {
        prefetch_row_after_next(z, ldz, r, rows, cols);
        prefetch_row_after_next(p, ldp, r, rows, cols);
        xent_soft_row_regs(cols, z + r * ldz, p + r * ldp, prm, lb,
                           grad ? grad + r * ldg : NULL);
    }
}

/* Rows of at most REG_VECS vectors, one at a time in registers,
 * prefetching the row after next to L1 (1-1.5% faster). Taken for a lone
 * row and from 8 rows: 2 to 4 rows measured 2-8% slower than the grouped
 * passes, which overlap four rows' chains. Intel Xeon, interleaved A/B
 * against the grouped passes: AVX-512 1x64 0.87 of the time, 1x128 0.91,
 * 4096x33 0.80, 4096x100 0.90-0.94, 64x128 and 512x128 0.89-0.96, 4096x128
 * 1.00 (bound by L3 there); AVX2 1x64 0.79, 4096x64 0.78-0.83, 4096x8
 * 0.78; the loss alone 0.82-0.92. Out of line: inline, xent_soft's other
 * paths measured 3% slower (AVX-512 soft rows of 1000; the same loop
 * instructions, placed elsewhere). */
static NOINLINE void xent_soft_regs(size_t rows, size_t cols, const float *z,
                                    size_t ldz, const float *p, size_t ldp,
                                    const smx_xent_params *prm, float *loss,
                                    float *grad, size_t ldg)
{
    log_batch batch = log_batch_to(loss, rows, cols), *lb = loss ? &batch : NULL;
    if (cols == REG_VECS * VLEN) /* straight-line code: see rowwise */
        xent_soft_rows_regs_as(rows, REG_VECS * VLEN, z, ldz, p, ldp, prm, lb,
                               grad, ldg);
    else
        xent_soft_rows_regs_as(rows, cols, z, ldz, p, ldp, prm, lb, grad, ldg);
    if (lb)
        log_batch_flush(lb);
}

/* Soft rows of n <= VLEN / R, R to a vector (see
 * rows_packed_tmpl.c): per pack one load of z and of p, the reductions
 * max(z), sum(q), S and sum(q d) by segment, one exp, the gradient
 * a exp(d) - c q (a = c sum(q) / S) and one store, the losses
 * log S sum(q) - sum(q d) with the logs from a log_batch. Everything
 * is loaded before the gradient is stored, so g may be z or p. A pack
 * with a max or sum(q) that is not finite, or a NaN S, goes to
 * xent_soft_rows, which defines those rows. The loss is log S sum(q) -
 * sum(q d) by one multiply-add in float: both terms are >= 0 (d <= 0), so
 * nothing cancels. Intel Xeon, interleaved A/B, ns per element (before:
 * grouped rows): AVX-512 4096x8 2.54 -> 0.94, 4096x4 5.13 -> 0.94, 4096x2
 * 10.1 -> 1.88; AVX2 4096x4 4.72 -> 1.46. Half of what is left is the
 * loss (0.53 without it at 4096x8): a pack's chain is latency-bound, and
 * a Newton reciprocal for its two divisions measured 10% slower. */
static ALWAYS_INLINE void xent_soft_packed_as(int R, size_t rows, size_t n,
                                              const float *z, size_t ldz,
                                              const float *p, size_t ldp,
                                              const smx_xent_params *prm,
                                              log_batch *lb, float *grad,
                                              size_t ldg)
{
    const double e = prm->smoothing, scale = prm->grad_scale;
    const int smooth = e != 0.0;
    const vf vkeep = vset1((float)(1.0 - e)), vspread = vset1((float)(e / (double)n));
    const vf vscale = vset1((float)scale), vnc = vset1((float)-scale);
    static const float ones[8] = {1, 1, 1, 1, 1, 1, 1, 1}; /* n <= VLEN / 2 <= 8 */
    /* 1 in the rows' lanes, 0 in the padding, whose q = spread is dropped */
    const vf in_row = vload_pack(R, ones, 0, n, 0.0f);
    float l[4];
    size_t r = 0;
    for (; r + R <= rows; r += R) {
        const float *zr = z + r * ldz, *pr = p + r * ldp;
        float *gr = grad ? grad + r * ldg : NULL;
        const vf zv = vload_pack(R, zr, ldz, n, -INFINITY);
        const vf q = smooth ? vmul(soft_q(vload_pack(R, pr, ldp, n, 0.0f), 1,
                                          vkeep, vspread), in_row)
                            : vload_pack(R, pr, ldp, n, 0.0f);
        const vf m = vpack_max(R, zv), sq = vpack_sum(R, q);
        const vf d = vsub(zv, m), ev = exp_nonpos(d);
        const vf s = vpack_sum(R, ev);
        if (!vall_finite(m) || !vall_finite(sq) || !vall_finite(s)) {
            xent_soft_rows(R, n, zr, ldz, pr, ldp, prm, lb ? l : NULL, gr, ldg);
            for (int j = 0; lb && j < R; j++)
                log_batch_put_value(lb, l[j]);
            continue;
        }
        /* padding lanes: q = 0, so no q d = 0 (-inf) term */
        const vf qd = vpack_sum(R, vfma_nonzero(q, d, vzero()));
        const vf a = vdiv(vmul(vscale, sq), s);
        if (grad)
            vstore_pack(R, gr, ldg, soft_grad(ev, q, a, vnc), n);
        if (lb)
            log_batch_put_pack(R, lb, s, sq, vsub(vzero(), qd));
    }
    if (R > 2 && rows - r >= 2) { /* a pair of the rows left */
        xent_soft_packed_as(2, rows - r, n, z + r * ldz, ldz, p + r * ldp, ldp,
                            prm, lb, grad ? grad + r * ldg : NULL, ldg);
        return;
    }
    if (r == rows)
        return;
    xent_soft_rows(1, n, z + r * ldz, ldz, p + r * ldp, ldp, prm, lb ? l : NULL,
                   grad ? grad + r * ldg : NULL, ldg);
    if (lb)
        log_batch_put_value(lb, l[0]);
}

#if VEC_LANE_COLS
/* Soft rows of 2 to 16, VLEN at a time one per lane (rows_lanes_tmpl.c):
 * z and p transposed, then as a packed row: max(z), sum(q), S and
 * sum(q d) across the vectors, the gradient a exp(d) - c q, the losses
 * log S sum(q) - sum(q d) from one vlog_pos, stored as a vector.
 * Everything is loaded before the gradient is stored, so g may be z or
 * p. VLEN rows with a max or sum(q) that is not finite, or a NaN S, go
 * to xent_soft_rows. */
static ALWAYS_INLINE void xent_soft_lanes_as(size_t n, size_t cap,
                                             int want_loss, int want_grad,
                                             size_t rows,
                                             const float *z, size_t ldz,
                                             const float *p, size_t ldp,
                                             const smx_xent_params *prm,
                                             float *loss, float *grad,
                                             size_t ldg)
{
    const double e = prm->smoothing, scale = prm->grad_scale;
    const int smooth = e != 0.0;
    const vf vkeep = vset1((float)(1.0 - e)), vspread = vset1((float)(e / (double)n));
    const vf vscale = vset1((float)scale), vnc = vset1((float)-scale);
    for (size_t r = 0; r + VLEN <= rows; r += VLEN) {
        const float *zr = z + r * ldz, *pr = p + r * ldp;
        float *lr = want_loss ? loss + r : NULL, *gr = want_grad ? grad + r * ldg : NULL;
        vf c[VEC_LANE_COLS], q[VEC_LANE_COLS];
        const vf m = lanes_load_max(zr, ldz, n, cap, c);
        if (!vall_finite(m)) {
            xent_soft_rows(VLEN, n, zr, ldz, pr, ldp, prm, lr, gr, ldg);
            continue;
        }
        lanes_load(pr, ldp, n, cap, q);
        vf sq0 = vzero(), sq1 = sq0, se0 = sq0, se1 = sq0, sqd0 = sq0, sqd1 = sq0;
        UNROLL_ALL
        for (size_t j = 0; j < VEC_LANE_COLS; j++) {
            if (j < cap && j < n) {
                q[j] = soft_q(q[j], smooth, vkeep, vspread);
                if (j & 1) {
                    sq1 = vadd(sq1, q[j]);
                    c[j] = soft_exp_step(c[j], q[j], m, &se1, &sqd1);
                } else {
                    sq0 = vadd(sq0, q[j]);
                    c[j] = soft_exp_step(c[j], q[j], m, &se0, &sqd0);
                }
            }
        }
        const vf sq = vadd(sq0, sq1), s = vadd(se0, se1);
        if (!vall_finite(sq) || !vall_finite(s)) {
            xent_soft_rows(VLEN, n, zr, ldz, pr, ldp, prm, lr, gr, ldg);
            continue;
        }
        if (want_loss)
            vstore(lr, vfma(vlog_pos(s), sq, vsub(vzero(), vadd(sqd0, sqd1))));
        if (want_grad) {
            const vf a = vdiv(vmul(vscale, sq), s);
            UNROLL_ALL
            for (size_t j = 0; j < VEC_LANE_COLS; j++)
                if (j < cap && j < n)
                    c[j] = soft_grad(c[j], q[j], a, vnc);
            lanes_store(gr, ldg, n, cap, c);
        }
    }
}

/* The whole VLENs of rows; returns how many */
static NOINLINE size_t xent_soft_lanes(size_t rows, size_t n, const float *z,
                                       size_t ldz, const float *p, size_t ldp,
                                       const smx_xent_params *prm, float *loss,
                                       float *grad, size_t ldg)
{
    if (loss && grad)
        LANES_BY_LENGTH(n, xent_soft_lanes_as, 1, 1, rows, z, ldz, p, ldp, prm, loss, grad, ldg);
    else if (grad)
        LANES_BY_LENGTH(n, xent_soft_lanes_as, 0, 1, rows, z, ldz, p, ldp, prm, loss, grad, ldg);
    else
        LANES_BY_LENGTH(n, xent_soft_lanes_as, 1, 0, rows, z, ldz, p, ldp, prm, loss, grad, ldg);
    return rows / VLEN * VLEN;
}
#endif
#endif

static void xent_soft(size_t rows, size_t cols, const float *z, size_t ldz,
                      const float *p, size_t ldp, const smx_xent_params *prm,
                      float *loss, float *grad, size_t ldg)
{
    if (scale_flushes(prm)) { /* see xent */
        smx_xent_soft_scalar(rows, cols, z, ldz, p, ldp, prm, loss, grad, ldg);
        return;
    }
#if VEC_LANE_COLS
    if (lane_rows(rows, cols) && !soft_q_underflows(prm, cols)) {
        const size_t done = xent_soft_lanes(rows, cols, z, ldz, p, ldp, prm,
                                            loss, grad, ldg);
        if (done == rows)
            return;
        rows -= done;
        z += done * ldz;
        p += done * ldp;
        loss = loss ? loss + done : NULL;
        grad = grad ? grad + done * ldg : NULL;
    }
#endif
#if VEC_MAX_PACK
    if (cols <= REG_VECS * VLEN && !soft_q_underflows(prm, cols)) {
        if (rows == 1 || (cols > VLEN / 2 && rows >= REG_BATCH_ROWS)) {
            xent_soft_regs(rows, cols, z, ldz, p, ldp, prm, loss, grad, ldg);
            return;
        }
    }
    if (rows > 1 && cols <= VLEN / 2 && !soft_q_underflows(prm, cols)) {
        log_batch batch = log_batch_to(loss, rows, cols), *lb = loss ? &batch : NULL;
        if (pack_rows(cols) == 4)
            xent_soft_packed_as(4, rows, cols, z, ldz, p, ldp, prm, lb, grad, ldg);
        else
            xent_soft_packed_as(2, rows, cols, z, ldz, p, ldp, prm, lb, grad, ldg);
        if (lb)
            log_batch_flush(lb);
        return;
    }
#endif
    xent_soft_rows_inline(rows, cols, z, ldz, p, ldp, prm, loss, grad, ldg);
}
