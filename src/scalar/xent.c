/* SPDX-License-Identifier: MIT */
/*
 * Fused cross-entropy, the reference definitions. A loss term whose weight
 * is zero contributes exactly 0, so a -inf logit with no target mass never
 * turns the loss into NaN (0 * inf).
 */
#include <math.h>

#include "scalar.h"

/* A finite row's statistics: its max and log(sum exp(z - max)). The loss
 * terms use (max - z_j) + log_sum, never lse - z_j: for |max| past about
 * 2^36, max + log_sum rounds to max in double and log_sum would be lost. */
typedef struct row_log_sum {
    smx_row_stats s;
    double log_sum; /* FINITE rows only */
} row_log_sum;

static row_log_sum scan(size_t n, const float *z)
{
    row_log_sum r = {smx_row_scan(n, z), 0.0};
    if (r.s.kind == SMX_ROW_FINITE)
        r.log_sum = smx_row_log_sumexp(n, z, r.s.max);
    return r;
}

/* -log_softmax(z)_j for any row kind. */
static double neg_logprob(const row_log_sum *r, float zj)
{
    if (r->s.kind == SMX_ROW_FINITE)
        return ((double)r->s.max - (double)zj) + r->log_sum;
    return -smx_edge_logprob(&r->s, zj);
}

/* softmax(z)_j for any row kind. */
static double prob(const row_log_sum *r, float zj)
{
    if (r->s.kind == SMX_ROW_FINITE)
        return exp(((double)zj - (double)r->s.max) - r->log_sum);
    return smx_edge_prob(&r->s, zj);
}

float smx_xent_row_scalar(size_t n, const float *z, int32_t t,
                          const smx_xent_params *prm, float *grad)
{
    const row_log_sum rs = scan(n, z);
    const double e = prm->smoothing, keep = 1.0 - e, spread = e / (double)n;

    /* loss = (1 - e) * (-ls_t) + (e / n) * sum_j (-ls_j); read before the
     * gradient may overwrite z. */
    double loss = 0.0;
    if (keep != 0.0)
        loss += keep * neg_logprob(&rs, z[t]);
    if (e != 0.0) {
        double sum = 0.0;
        for (size_t j = 0; j < n; j++)
            sum += neg_logprob(&rs, z[j]);
        loss += spread * sum;
    }
    if (grad) {
        const double scale = prm->grad_scale;
        for (size_t j = 0; j < n; j++) {
            double target = spread + ((size_t)t == j ? keep : 0.0);
            grad[j] = (float)(scale * (prob(&rs, z[j]) - target));
        }
    }
    return (float)loss;
}

float smx_xent_soft_row_scalar(size_t n, const float *z, const float *p,
                               const smx_xent_params *prm, float *grad)
{
    const row_log_sum rs = scan(n, z);
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
            loss += q * neg_logprob(&rs, zj);
        if (grad)
            grad[j] = (float)(scale * (prob(&rs, zj) * sum_q - q));
    }
#undef Q
    /* A NaN logit makes the whole row NaN, loss included, even where it
     * has no target mass (the log-softmax of such a row is all NaN). */
    return rs.s.kind == SMX_ROW_NAN ? NAN : (float)loss;
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

