/* SPDX-License-Identifier: MIT */
/*
 * Cross-entropy with class targets: loss and gradient.
 * A part of the kernel template: kernels_tmpl.c includes it, in order,
 * after the parts it builds on; not a standalone header.
 */

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
 * in-cache pass scales them: one exp per element. `next`, if not NULL, is
 * the first of g more rows to prefetch during the exp pass, as softmax's
 * grouped rows do. Interleaved A/B on an Intel Xeon with AVX-512 (2 MiB
 * L2): 4096x128 25-27% faster on AVX-512 and AVX2, whose max pass
 * otherwise waits on L3; 64x1000 and 1024x1024 1-5%. On Zen4 (1 MiB L2)
 * it measured neutral on AVX-512 and up to 4% slower on AVX2 64x1000, and
 * was not kept then. */
static void xent_rows_short(size_t g, size_t cols, const float *z, size_t ldz,
                            const int32_t *t, const smx_xent_params *prm,
                            float *loss, float *grad, size_t ldg,
                            const float *next)
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
        s[k] = row_exp_store_sum(z + k * ldz, cols, m[k], gk, exp_nonpos, 0,
                                 next ? next + k * ldz : NULL);
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

/* The loss alone (no gradient) of up to GROUP rows of one block, phase by
 * phase as xent_rows_short: the maxima, then the sums (prefetching `next`
 * as there), and no exps stored. Ignored rows are not read. */
static void xent_rows_loss(size_t g, size_t cols, const float *z, size_t ldz,
                           const int32_t *t, const smx_xent_params *prm,
                           float *loss, const float *next)
{
    const double e = prm->smoothing, keep = 1.0 - e;
    float m[GROUP];
    int live[GROUP]; /* not ignored, finite max */
    for (size_t k = 0; k < g; k++) {
        const float *zk = z + k * ldz;
        live[k] = t[k] != prm->ignore_index;
        if (!live[k]) {
            loss[k] = 0.0f;
            continue;
        }
        m[k] = block_max(zk, cols);
        if (!isfinite(m[k])) {
            loss[k] = smx_xent_row_scalar(cols, zk, t[k], prm, NULL);
            live[k] = 0;
        }
    }
    for (size_t k = 0; k < g; k++) {
        if (!live[k])
            continue;
        const float *zk = z + k * ldz;
        const double s = block_exp_sum(zk, cols, m[k], NULL, exp_nonpos, 0,
                                       next ? next + k * ldz : NULL,
                                       next ? cols : 0);
        /* a NaN sum (a NaN logit) gives a NaN log S, so a NaN loss */
        loss[k] = xent_loss(m[k], log_inline(s), zk[t[k]], keep, e,
                            e != 0.0 ? row_affine_sum(zk, cols, -1.0f, m[k]) : 0.0,
                            cols);
    }
}

/* Up to GROUP rows as the grouped rows take them, with a gradient (loss
 * may then be NULL) or the loss alone, nothing prefetched: where the
 * packed, lane and register rows send the rows they do not define. */
static ALWAYS_INLINE void xent_rows_fallback(size_t g, size_t cols,
                                             const float *z, size_t ldz,
                                             const int32_t *t,
                                             const smx_xent_params *prm,
                                             float *loss, float *grad,
                                             size_t ldg)
{
    if (grad)
        xent_rows_short(g, cols, z, ldz, t, prm, loss, grad, ldg, NULL);
    else
        xent_rows_loss(g, cols, z, ldz, t, prm, loss, NULL);
}

/* Long rows, or the loss alone of rows past GROUP_ROW: one statistics
 * pass reads the logits for max, sum and the target logit (plus their sum
 * when smoothing), and one more pass recomputes the exps to write the
 * gradient, in place or not. */
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
        reg_row_store(&r, NULL, OUT_AFFINE, &p, g);
        g[t] = xent_target_grad(scale, p_t, keep, spread);
    }
    return want_loss ? xent_loss(m, log_inline(s), zt, keep, e, sum_z, cols) : 0.0f;
}

#if VEC_MAX_PACK
/* Rows of at most REG_VECS vectors with no smoothing, each in registers
 * from its loads to its gradient store, as softmax takes them: max, then
 * the exps kept in the registers beside their sum, then scale (p -
 * onehot(t)) stored; the losses (M - z_t) + log S from a log_batch. The
 * logits are read once, where the grouped passes read them twice and the
 * stored exps once. Everything is read before the gradient, which may
 * overwrite the logits, is written. An ignored target, a max that is not
 * finite or a NaN sum goes to xent_rows_short (xent_rows_loss for the
 * loss alone). Taken from REG_BATCH_ROWS rows; a lone row has
 * xent_row_regs. Intel Xeon, interleaved A/B against the grouped passes:
 * AVX-512 4096x17 0.67 of the time, 4096x100 0.85, 4096x64 0.93, 8x100
 * 0.87; rows of exactly 128 1.01-1.03 (512x128, 4096x128, where the
 * grouped passes prefetch a whole group ahead; without the prefetch here
 * 1.06) and 1.03-1.08 in calls of 8 and 16 rows: on the Xeon the grouped
 * passes also beat softmax's register rows on full rows held in cache,
 * where on Zen 4 they lost by 15-20% (rows_regs_tmpl.c); AVX2 4096x8
 * 0.66, 4096x64 0.94, 8x64 0.95; the loss alone 0.85-0.94. Out of line,
 * as xent_soft_regs. */
static ALWAYS_INLINE void xent_row_regs_batched(size_t cols, const float *z,
                                                const int32_t *t,
                                                const smx_xent_params *prm,
                                                log_batch *lb, float *g)
{
    reg_row r;
    float m = NAN, s = NAN;
    if (*t != prm->ignore_index) { /* an ignored row is not read */
        m = reg_row_load_max(&r, z, cols);
        if (isfinite(m))
            s = reg_row_exp_sum(&r, m, g != NULL);
    }
    if (isnan(s)) {
        float l;
        xent_rows_fallback(1, cols, z, cols, t, prm, &l, g, cols);
        if (lb)
            log_batch_put_value(lb, l);
        return;
    }
    const float zt = z[*t]; /* before g, which may be z, is written */
    if (g) {
        /* scale p, then scale (p_t - 1) at the target from the scale p_t
         * just stored: an exp of z_t - M to take p_t again cost 7% */
        const double scale = prm->grad_scale;
        const out_params p = xent_grad_params(0.0f, scale, s, 0.0);
        reg_row_store(&r, NULL, OUT_AFFINE, &p, g);
        g[*t] -= (float)scale;
    }
    if (lb)
        log_batch_put_row(lb, s, 1.0f, m - zt);
}

/* Rows of one length, with a gradient or not: each a constant in its copy */
static ALWAYS_INLINE void xent_rows_regs_as(int want_grad, size_t rows,
                                            size_t cols, const float *z,
                                            size_t ldz, const int32_t *t,
                                            const smx_xent_params *prm,
                                            log_batch *lb, float *grad,
                                            size_t ldg)
{
    for (size_t r = 0; r < rows; r++) {
        prefetch_row_after_next(z, ldz, r, rows, cols);
        xent_row_regs_batched(cols, z + r * ldz, t + r, prm, lb,
                              want_grad ? grad + r * ldg : NULL);
    }
}

static NOINLINE void xent_regs(size_t rows, size_t cols, const float *z,
                               size_t ldz, const int32_t *t,
                               const smx_xent_params *prm, float *loss,
                               float *grad, size_t ldg)
{
    log_batch batch = log_batch_to(loss, rows, cols), *lb = loss ? &batch : NULL;
    if (cols == REG_VECS * VLEN) { /* straight-line code: see rowwise */
        if (grad)
            xent_rows_regs_as(1, rows, REG_VECS * VLEN, z, ldz, t, prm, lb, grad, ldg);
        else
            xent_rows_regs_as(0, rows, REG_VECS * VLEN, z, ldz, t, prm, lb, grad, ldg);
    } else if (grad) {
        xent_rows_regs_as(1, rows, cols, z, ldz, t, prm, lb, grad, ldg);
    } else {
        xent_rows_regs_as(0, rows, cols, z, ldz, t, prm, lb, grad, ldg);
    }
    if (lb)
        log_batch_flush(lb);
}

/* Rows of n <= VLEN / R with no smoothing, R to a vector (see
 * rows_packed_tmpl.c): p = exp(z - M) / S by a division, the gradient
 * (if wanted) scale (p - onehot(t)), the loss (M - z_t) + log S, the logs
 * from a log_batch (AVX-512 4096x8 2.37 -> 1.17 ns per element,
 * 4096x4 4.77 -> 1.36, 4096x2 9.58 -> 2.77; AVX2 4096x4 4.27 -> 1.71,
 * 4096x2 8.55 -> 3.46; Intel Xeon, interleaved A/B). The one-hot targets
 * and z_t come from the vector (vpack_onehot), where scalar fix-ups of
 * each row's target element cost 13-23% more (4096x2 to 4096x8). A pack
 * with an ignored target, a max that is not finite or a NaN sum goes to
 * xent_rows_short (xent_rows_loss for the loss alone). */
static ALWAYS_INLINE void xent_packed_as(int R, size_t rows, size_t cols,
                                         const float *z, size_t ldz,
                                         const int32_t *t,
                                         const smx_xent_params *prm,
                                         log_batch *lb, float *grad, size_t ldg)
{
    const double scale = prm->grad_scale;
    float l[4];
    size_t r = 0;
    for (; r + R <= rows; r += R) {
        const float *zr = z + r * ldz;
        float *gr = grad ? grad + r * ldg : NULL;
        int ignored = 0;
        for (int j = 0; j < R; j++)
            ignored |= t[r + j] == prm->ignore_index;
        vf v, m, e, s;
        if (ignored || !pack_stats(R, zr, ldz, cols, &v, &m, &e, &s)) {
            xent_rows_fallback(R, cols, zr, ldz, t + r, prm, l, gr, ldg);
            for (int j = 0; lb && j < R; j++)
                log_batch_put_value(lb, l[j]);
            continue;
        }
        const vf hot = vpack_onehot(R, t + r);
        if (lb) { /* z_t by segment: a sum of one term (the others skipped) */
            const vf zt = vpack_sum(R, vfma_nonzero(hot, v, vzero()));
            log_batch_put_pack(R, lb, s, vset1(1.0f), vsub(m, zt));
        }
        if (grad) /* scale (p - onehot(t)) */
            vstore_pack(R, gr, ldg, vmul(vsub(vdiv(e, s), hot), vset1((float)scale)), cols);
    }
    if (R > 2 && rows - r >= 2) { /* a pair of the rows left */
        xent_packed_as(2, rows - r, cols, z + r * ldz, ldz, t + r, prm, lb,
                       grad ? grad + r * ldg : NULL, ldg);
        return;
    }
    if (r == rows)
        return;
    xent_rows_fallback(1, cols, z + r * ldz, ldz, t + r, prm, l,
                       grad ? grad + r * ldg : NULL, ldg);
    if (lb)
        log_batch_put_value(lb, l[0]);
}

static void xent_packed(size_t rows, size_t cols, const float *z, size_t ldz,
                        const int32_t *t, const smx_xent_params *prm,
                        float *loss, float *grad, size_t ldg)
{
    log_batch batch = log_batch_to(loss, rows, cols), *lb = loss ? &batch : NULL;
    if (pack_rows(cols) == 4)
        xent_packed_as(4, rows, cols, z, ldz, t, prm, lb, grad, ldg);
    else
        xent_packed_as(2, rows, cols, z, ldz, t, prm, lb, grad, ldg);
    if (lb)
        log_batch_flush(lb);
}
#endif

#if VEC_LANE_COLS
/* VLEN rows as the grouped rows take them: the lanes' fallback */
static NOINLINE void xent_lanes_fallback(size_t n, const float *z, size_t ldz,
                                         const int32_t *t,
                                         const smx_xent_params *prm,
                                         float *loss, float *grad, size_t ldg)
{
    for (size_t k = 0; k < VLEN; k += GROUP)
        xent_rows_fallback(GROUP, n, z + k * ldz, ldz, t + k, prm,
                           loss ? loss + k : NULL, grad ? grad + k * ldg : NULL,
                           ldg);
}

/* Rows of 2 to 16 with no smoothing, VLEN at a time one per lane
 * (rows_lanes_tmpl.c): z_t picked from the transposed logits by each
 * lane's target (vselect_eq), the exps kept beside S, the gradient
 * scale exp(d) / S - scale onehot(t) by one multiply-add, the losses
 * (M - z_t) + log S from one vlog_pos, stored as a vector. Everything is
 * read before the gradient, which may overwrite the logits, is written.
 * VLEN rows with an ignored target (whose logits are not read), a max
 * that is not finite or a NaN sum go as the grouped rows do. */
static ALWAYS_INLINE void xent_lanes_as(size_t n, size_t cap, int want_loss,
                                        int want_grad, size_t rows,
                                        const float *z, size_t ldz,
                                        const int32_t *t,
                                        const smx_xent_params *prm,
                                        float *loss, float *grad, size_t ldg)
{
    const vf vscale = vset1(prm->grad_scale), vnscale = vset1(-prm->grad_scale);
    for (size_t r = 0; r + VLEN <= rows; r += VLEN) {
        const float *zr = z + r * ldz;
        float *lr = want_loss ? loss + r : NULL, *gr = want_grad ? grad + r * ldg : NULL;
        int ignored = 0;
        for (size_t k = 0; k < VLEN; k++)
            ignored |= t[r + k] == prm->ignore_index;
        if (ignored) {
            xent_lanes_fallback(n, zr, ldz, t + r, prm, lr, gr, ldg);
            continue;
        }
        vf c[VEC_LANE_COLS];
        const vf m = lanes_load_max(zr, ldz, n, cap, c);
        if (!vall_finite(m)) {
            xent_lanes_fallback(n, zr, ldz, t + r, prm, lr, gr, ldg);
            continue;
        }
        const vf tf = vload_index(t + r);
        vf zt = c[0];
        UNROLL_ALL
        for (size_t j = 1; j < VEC_LANE_COLS; j++)
            if (j < cap && j < n)
                zt = vselect_eq(tf, vset1((float)j), c[j], zt);
        const vf s = lanes_exp_sum(n, cap, want_grad, c, m);
        if (!vall_finite(s)) {
            xent_lanes_fallback(n, zr, ldz, t + r, prm, lr, gr, ldg);
            continue;
        }
        if (want_loss)
            vstore(lr, vadd(vsub(m, zt), vlog_pos(s)));
        if (want_grad) {
            const vf a = vdiv(vscale, s);
            UNROLL_ALL
            for (size_t j = 0; j < VEC_LANE_COLS; j++)
                if (j < cap && j < n)
                    c[j] = vfma(c[j], a, vselect_eq(tf, vset1((float)j), vnscale, vzero()));
            lanes_store(gr, ldg, n, cap, c);
        }
    }
}

/* The whole VLENs of rows; returns how many */
static NOINLINE size_t xent_lanes(size_t rows, size_t n, const float *z,
                                  size_t ldz, const int32_t *t,
                                  const smx_xent_params *prm, float *loss,
                                  float *grad, size_t ldg)
{
    if (loss && grad)
        LANES_BY_LENGTH(n, xent_lanes_as, 1, 1, rows, z, ldz, t, prm, loss, grad, ldg);
    else if (grad)
        LANES_BY_LENGTH(n, xent_lanes_as, 0, 1, rows, z, ldz, t, prm, loss, grad, ldg);
    else
        LANES_BY_LENGTH(n, xent_lanes_as, 1, 0, rows, z, ldz, t, prm, loss, grad, ldg);
    return rows / VLEN * VLEN;
}
#endif

/* Where the vector unit reads subnormals as 0 (VEC_FLUSHES_SUBNORMALS), a
 * subnormal grad_scale would scale every gradient to 0: such calls go to
 * the scalar reference, whose scalar floating point does not flush. */
static int scale_flushes(const smx_xent_params *prm)
{
    return VEC_FLUSHES_SUBNORMALS && prm->grad_scale != 0.0 &&
           fabs(prm->grad_scale) < FLT_MIN;
}

static void xent(size_t rows, size_t cols, const float *z, size_t ldz,
                 const int32_t *targets, const smx_xent_params *prm,
                 float *loss, float *grad, size_t ldg)
{
    if (scale_flushes(prm)) {
        smx_xent_scalar(rows, cols, z, ldz, targets, prm, loss, grad, ldg);
        return;
    }
    if (lone_short_row(rows, cols)) {
        const float l = xent_row_regs(cols, z, targets[0], prm, loss != NULL, grad);
        if (loss)
            loss[0] = l;
        return;
    }
#if VEC_LANE_COLS
    if (lane_rows(rows, cols) && prm->smoothing == 0.0f) {
        const size_t done = xent_lanes(rows, cols, z, ldz, targets, prm, loss,
                                       grad, ldg);
        if (done == rows)
            return;
        rows -= done;
        z += done * ldz;
        targets += done;
        loss = loss ? loss + done : NULL;
        grad = grad ? grad + done * ldg : NULL;
    }
#endif
#if VEC_MAX_PACK
    if (cols <= VLEN / 2 && prm->smoothing == 0.0f) {
        xent_packed(rows, cols, z, ldz, targets, prm, loss, grad, ldg);
        return;
    }
    if (cols <= REG_VECS * VLEN && rows >= REG_BATCH_ROWS && prm->smoothing == 0.0f) {
        xent_regs(rows, cols, z, ldz, targets, prm, loss, grad, ldg);
        return;
    }
#endif
    if (grad ? cols <= SHORT_ROW : cols <= GROUP_ROW) {
        const size_t group = cols <= GROUP_ROW ? GROUP : 1;
        float l[GROUP];
        for (size_t r = 0; r < rows; r += group) {
            const size_t g = rows - r < group ? rows - r : group;
            const float *next = r + 2 * group <= rows ? z + (r + group) * ldz : NULL;
            if (grad)
                xent_rows_short(g, cols, z + r * ldz, ldz, targets + r, prm,
                                loss ? loss + r : l, grad + r * ldg, ldg, next);
            else
                xent_rows_loss(g, cols, z + r * ldz, ldz, targets + r, prm,
                               loss + r, next);
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
