/* SPDX-License-Identifier: MIT */
/*
 * Exact reference values for the fuzz target, in double, from the header's
 * definitions (softmax rows from tests/common.c's oracle), each with the
 * header's accuracy bar (tests/common.c's bar functions).
 *
 * Two readings the header needs on arbitrary inputs, where no float
 * evaluation can do better:
 * - a term holding a float intermediate (a probability, exp(y)) carries
 *   that intermediate's bar, its 2^-126 absolute floor included, times its
 *   coefficient: a probability that is rounded at the bottom of the float
 *   range and then multiplied by a large grad_scale is off by that much;
 * - where intermediates of the defining formula may exceed 2^126 (terms
 *   built from huge finite inputs), float evaluation may overflow although
 *   the exact value is finite: the bar is vacuous there and the value is
 *   not checked (skip), only that it was written.
 * Non-finite inputs are left out of those magnitudes: their results follow
 * IEEE arithmetic on the header's formulas, and are checked exactly, except
 * where an infinity meets a weight below 2^-126 (exp(y), a probability):
 * exactly that is an infinity, in float the weight may round to 0 and give
 * NaN, so neither is required (skip). Likewise where exp(y) is infinite
 * and the sum it multiplies lies within that sum's bar of 0 (terms that
 * cancel): float may give that sum either sign, or 0, so +inf, -inf or
 * NaN (skip; the fuzzer found one in CI).
 */
#include <math.h>

#include "common.h"
#include "fuzz.h"

#define OVERFLOW_PRONE 0x1p126

/* A positive weight that float may round to 0 (or to a subnormal). */
static int tiny(double w)
{
    return w > 0.0 && w < 0x1p-126;
}

static expect value(double ref, double bar, double biggest)
{
    expect e = {ref, bar, biggest > OVERFLOW_PRONE, 0};
    return e;
}

void ref_softmax_row(size_t n, const float *x, expect *p, expect *lp,
                     expect *lse)
{
    double P[FZ_MAX_COLS], LP[FZ_MAX_COLS], D[FZ_MAX_COLS], L;
    oracle_softmax_row(n, x, P, LP, D, &L);
    size_t nans = 0, pos_inf = 0;
    for (size_t i = 0; i < n; i++) {
        nans += isnan(x[i]) != 0;
        pos_inf += x[i] == INFINITY;
    }
    for (size_t i = 0; i < n; i++) {
        p[i] = value(P[i], bar_prob(P[i], D[i]), 0.0);
        /* -inf entries, and finite ones beside a +inf, get exactly 0. */
        p[i].zero = !nans && (x[i] == -INFINITY || (pos_inf && x[i] != INFINITY));
        lp[i] = value(LP[i], bar_log(LP[i], D[i]), 0.0);
    }
    *lse = value(L, bar_log(L, 0.0), 0.0);
}

static int finite2(float a, float b)
{
    return isfinite(a) && isfinite(b);
}

/* out = y (v - <y, v>) */
static void softmax_jvp_row(size_t n, const float *y, const float *v,
                            expect *out)
{
    double s = 0.0, s_abs = 0.0;
    for (size_t j = 0; j < n; j++) {
        s += (double)y[j] * v[j];
        if (finite2(y[j], v[j]))
            s_abs += fabs((double)y[j] * v[j]);
    }
    for (size_t i = 0; i < n; i++) {
        const double yi = fabs((double)y[i]), vi = fabs((double)v[i]);
        const double terms = yi * vi + yi * s_abs;
        double big = s_abs;
        if (finite2(y[i], v[i]))
            big = fmax(vi + s_abs, yi * (vi + s_abs));
        out[i] = value((double)y[i] * ((double)v[i] - s),
                       BAR_REL * terms + BAR_ABS * (1.0 + yi), big);
    }
}

/* out = v - <exp(y), v> */
static void log_softmax_jvp_row(size_t n, const float *y, const float *v,
                                expect *out)
{
    double s = 0.0, s_abs = 0.0, s_bar = 0.0, w_max = 0.0;
    int ambiguous = 0;
    for (size_t j = 0; j < n; j++) {
        const double w = exp((double)y[j]);
        s += w * v[j];
        ambiguous |= tiny(w) && isinf(v[j]);
        if (finite2(y[j], v[j])) {
            s_abs += w * fabs((double)v[j]);
            s_bar += bar_prob(w, y[j]) * fabs((double)v[j]);
            w_max = fmax(w_max, w);
        }
    }
    for (size_t i = 0; i < n; i++) {
        const double vi = fabs((double)v[i]);
        out[i] = value((double)v[i] - s, BAR_REL * vi + s_bar + BAR_ABS,
                       fmax(w_max, vi + s_abs));
        out[i].skip |= ambiguous;
    }
}

/* out = g - exp(y) sum(g) */
static void log_softmax_vjp_row(size_t n, const float *y, const float *g,
                                expect *out)
{
    double s = 0.0, s_abs = 0.0;
    for (size_t j = 0; j < n; j++) {
        s += g[j];
        if (isfinite(g[j]))
            s_abs += fabs((double)g[j]);
    }
    for (size_t i = 0; i < n; i++) {
        const double w = exp((double)y[i]), gi = fabs((double)g[i]);
        double big = s_abs;
        if (finite2(y[i], g[i]))
            big = fmax(fmax(big, w), gi + w * s_abs);
        out[i] = value((double)g[i] - w * s,
                       BAR_REL * gi + bar_prob(w, y[i]) * s_abs + BAR_ABS, big);
        out[i].skip |= tiny(w) && isinf(s);
        out[i].skip |= isinf(w) && fabs(s) <= BAR_REL * s_abs;
    }
}

void ref_backward_row(enum fz_op op, size_t n, const float *y,
                      const float *v, expect *out)
{
    if (op == OP_SOFTMAX_JVP || op == OP_SOFTMAX_VJP)
        softmax_jvp_row(n, y, v, out);
    else if (op == OP_LOG_SOFTMAX_JVP)
        log_softmax_jvp_row(n, y, v, out);
    else
        log_softmax_vjp_row(n, y, v, out);
}

void ref_xent_row(size_t n, const float *z, int32_t t, const smx_ce_opts *o,
                  expect *loss, expect *grad)
{
    if (t == o->ignore_index) { /* loss 0, gradient row 0 */
        const expect zero = {0.0, 0.0, 0, 1};
        *loss = zero;
        for (size_t j = 0; j < n; j++)
            grad[j] = zero;
        return;
    }
    double P[FZ_MAX_COLS], LP[FZ_MAX_COLS], D[FZ_MAX_COLS];
    oracle_softmax_row(n, z, P, LP, D, NULL);
    const double e = o->label_smoothing, keep = 1.0 - e, spread = e / (double)n;
    const double scale = o->grad_scale;
    /* Zero-weight terms contribute exactly 0 (no 0 * inf). */
    double l = 0.0, terms = 1.0, big = 0.0;
    if (keep != 0.0) {
        l += keep * -LP[t];
        if (isfinite(LP[t])) {
            big = fabs(D[t]) + fabs(LP[t]);
            terms += keep * big;
        }
    }
    if (e != 0.0) {
        double sum = 0.0;
        for (size_t j = 0; j < n; j++) {
            l += spread * -LP[j];
            if (isfinite(LP[j]))
                sum += fabs(D[j]) + fabs(LP[j]);
        }
        terms += spread * sum;
        big = fmax(big, sum);
    }
    *loss = value(l, BAR_REL * (terms + fabs(l)), big);
    for (size_t j = 0; j < n; j++) {
        const double tj = spread + ((size_t)t == j ? keep : 0.0);
        grad[j] = value(scale * (P[j] - tj),
                        fabs(scale) * (bar_prob(P[j], D[j]) + BAR_REL * tj) +
                            BAR_ABS,
                        0.0);
    }
}

void ref_xent_soft_row(size_t n, const float *z, const float *p,
                       const smx_ce_opts *o, expect *loss, expect *grad)
{
    double P[FZ_MAX_COLS], LP[FZ_MAX_COLS], D[FZ_MAX_COLS];
    double q[FZ_MAX_COLS], qa[FZ_MAX_COLS]; /* q_j, and its terms' |.| */
    oracle_softmax_row(n, z, P, LP, D, NULL);
    const double e = o->label_smoothing, keep = 1.0 - e, spread = e / (double)n;
    const double scale = o->grad_scale;
    double sum_q = 0.0, sum_qa = 0.0, l = 0.0, terms = 1.0, big = 0.0;
    for (size_t j = 0; j < n; j++) {
        if (isnan(z[j])) /* a NaN in the row: every result NaN, even with */
            l = NAN;     /* no target mass (no zero-weight exception) */
        q[j] = e != 0.0 ? keep * p[j] + spread : (double)p[j];
        qa[j] = e != 0.0 ? fabs(keep * p[j]) + spread : fabs((double)p[j]);
        sum_q += q[j];
        if (isfinite(p[j]))
            sum_qa += qa[j];
        if (q[j] == 0.0)
            continue; /* contributes exactly 0, even where z_j == -inf */
        l += q[j] * -LP[j];
        if (isfinite(p[j]) && isfinite(LP[j])) {
            /* q_j times ls_j and its bar 2^-20 (1 + |d_j| + |ls_j|): the
             * absolute part scales with q_j too (p need not sum to 1) */
            const double m = fabs(D[j]) + fabs(LP[j]);
            terms += qa[j] * (1.0 + m);
            big = fmax(big, fmax(m, qa[j] * m));
        }
    }
    *loss = value(l, BAR_REL * (terms + fabs(l)), fmax(big, sum_qa));
    for (size_t j = 0; j < n; j++) {
        const double bar = fabs(scale) * (bar_prob(P[j], D[j]) * sum_qa +
                                          BAR_REL * qa[j]) + BAR_ABS;
        double b = sum_qa;
        if (isfinite(p[j]))
            b = fmax(b, fabs(scale) * (sum_qa + qa[j]));
        grad[j] = value(scale * (P[j] * sum_q - q[j]), bar, b);
        grad[j].skip |= tiny(P[j]) && isinf(sum_q);
    }
}

void ref_jacobian(size_t n, const float *y, expect *jac)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            const double yi = y[i], yj = y[j], delta = i == j ? 1.0 : 0.0;
            jac[i * n + j] = value(yi * (delta - yj),
                                   bar_terms(fabs(yi) * delta + fabs(yi * yj)),
                                   0.0);
        }
}
