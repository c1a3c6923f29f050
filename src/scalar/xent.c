/* SPDX-License-Identifier: MIT */
/*
 * Fused cross-entropy, the reference definitions. A loss term whose weight
 * is zero contributes exactly 0, so a -inf logit with no target mass never
 * turns the loss into NaN (0 * inf).
 */
#include <math.h>

#include "scalar.h"

/* -log_softmax(z)_j, i.e. lse - z_j, for any row kind. */
static double neg_logprob(const smx_row_stats *s, double lse, float zj)
{
    if (s->kind == SMX_ROW_FINITE)
        return lse - (double)zj;
    return -smx_edge_logprob(s, zj);
}

/* softmax(z)_j for any row kind. */
static double prob(const smx_row_stats *s, double lse, float zj)
{
    if (s->kind == SMX_ROW_FINITE)
        return exp((double)zj - lse);
    return smx_edge_prob(s, zj);
}

static double row_lse(size_t n, const float *z, const smx_row_stats *s)
{
    return s->kind == SMX_ROW_FINITE
               ? (double)s->max + log(smx_row_sumexp(n, z, s->max))
               : 0.0; /* unused: edge rows use the limits */
}

float smx_xent_row_scalar(size_t n, const float *z, int32_t t,
                          const smx_xent_params *prm, float *grad)
{
    const smx_row_stats s = smx_row_scan(n, z);
    const double lse = row_lse(n, z, &s);
    const double e = prm->smoothing, keep = 1.0 - e, spread = e / (double)n;

    /* loss = (1 - e) * (-ls_t) + (e / n) * sum_j (-ls_j); read before the
     * gradient may overwrite z. */
    double loss = 0.0;
    if (keep != 0.0)
        loss += keep * neg_logprob(&s, lse, z[t]);
    if (e != 0.0) {
        double sum = 0.0;
        for (size_t j = 0; j < n; j++)
            sum += neg_logprob(&s, lse, z[j]);
        loss += spread * sum;
    }
    if (grad) {
        const double scale = prm->grad_scale;
        for (size_t j = 0; j < n; j++) {
            double target = spread + ((size_t)t == j ? keep : 0.0);
            grad[j] = (float)(scale * (prob(&s, lse, z[j]) - target));
        }
    }
    return (float)loss;
}

float smx_xent_soft_row_scalar(size_t n, const float *z, const float *p,
                               const smx_xent_params *prm, float *grad)
{
    const smx_row_stats s = smx_row_scan(n, z);
    const double lse = row_lse(n, z, &s);
    const double e = prm->smoothing, keep = 1.0 - e, spread = e / (double)n;
#define Q(j) (e != 0.0 ? keep * (double)p[j] + spread : (double)p[j])
    double sum_q = 0.0;
    for (size_t j = 0; j < n; j++)
        sum_q += Q(j);

    /* One pass writes the gradient, so each element's loss term is taken
     * before its gradient may overwrite z_j or p_j. */
    const double scale = prm->grad_scale;
    double loss = 0.0;
    for (size_t j = 0; j < n; j++) {
        const double q = Q(j);
        const float zj = z[j];
        if (q != 0.0)
            loss += q * neg_logprob(&s, lse, zj);
        if (grad)
            grad[j] = (float)(scale * (prob(&s, lse, zj) * sum_q - q));
    }
#undef Q
    return (float)loss;
}

void smx_xent_scalar(size_t rows, size_t cols, const float *z, size_t ldz,
                        const int32_t *targets, const smx_xent_params *prm,
                        float *loss, float *grad, size_t ldg)
{
    for (size_t r = 0; r < rows; r++) {
        float *g = grad ? grad + r * ldg : NULL;
        float l = 0.0f;
        if (targets[r] == prm->ignore_index) {
            for (size_t i = 0; g && i < cols; i++)
                g[i] = 0.0f;
        } else {
            l = smx_xent_row_scalar(cols, z + r * ldz, targets[r], prm, g);
        }
        if (loss)
            loss[r] = l;
    }
}

void smx_xent_soft_scalar(size_t rows, size_t cols, const float *z,
                             size_t ldz, const float *p, size_t ldp,
                             const smx_xent_params *prm, float *loss,
                             float *grad, size_t ldg)
{
    for (size_t r = 0; r < rows; r++) {
        float l = smx_xent_soft_row_scalar(cols, z + r * ldz, p + r * ldp, prm,
                                           grad ? grad + r * ldg : NULL);
        if (loss)
            loss[r] = l;
    }
}

