/* SPDX-License-Identifier: MIT */
/* Softmax, log-softmax and log-sum-exp: the reference definitions. */
#include <math.h>

#include "scalar.h"

void smx_softmax_row_scalar(size_t n, const float *x, float *y)
{
    const smx_row_stats s = smx_row_scan(n, x);
    if (s.kind != SMX_ROW_FINITE) {
        for (size_t i = 0; i < n; i++)
            y[i] = (float)smx_edge_prob(&s, x[i]);
        return;
    }
    const double inv = 1.0 / smx_row_sumexp(n, x, s.max);
    for (size_t i = 0; i < n; i++)
        y[i] = (float)(exp((double)x[i] - (double)s.max) * inv);
}

void smx_log_softmax_row_scalar(size_t n, const float *x, float *y)
{
    const smx_row_stats s = smx_row_scan(n, x);
    if (s.kind != SMX_ROW_FINITE) {
        for (size_t i = 0; i < n; i++)
            y[i] = (float)smx_edge_logprob(&s, x[i]);
        return;
    }
    const double log_sum = smx_row_log_sumexp(n, x, s.max);
    for (size_t i = 0; i < n; i++)
        y[i] = (float)(((double)x[i] - (double)s.max) - log_sum);
}

float smx_logsumexp_row_scalar(size_t n, const float *x)
{
    const smx_row_stats s = smx_row_scan(n, x);
    switch (s.kind) {
    case SMX_ROW_NAN: return NAN;
    case SMX_ROW_NEG_INF: return -INFINITY;
    case SMX_ROW_POS_INF: return INFINITY;
    default: return (float)((double)s.max + smx_row_log_sumexp(n, x, s.max));
    }
}

void smx_softmax_scalar(size_t rows, size_t cols, const float *x,
                           size_t ldx, float *y, size_t ldy)
{
    for (size_t r = 0; r < rows; r++)
        smx_softmax_row_scalar(cols, x + r * ldx, y + r * ldy);
}

void smx_log_softmax_scalar(size_t rows, size_t cols, const float *x,
                               size_t ldx, float *y, size_t ldy)
{
    for (size_t r = 0; r < rows; r++)
        smx_log_softmax_row_scalar(cols, x + r * ldx, y + r * ldy);
}

void smx_logsumexp_scalar(size_t rows, size_t cols, const float *x,
                             size_t ldx, float *lse)
{
    for (size_t r = 0; r < rows; r++)
        lse[r] = smx_logsumexp_row_scalar(cols, x + r * ldx);
}
