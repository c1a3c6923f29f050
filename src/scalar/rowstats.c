/* SPDX-License-Identifier: MIT */
/* Row classification and the limits that define edge rows. */
#include <math.h>

#include "scalar.h"

smx_row_stats smx_row_scan(size_t n, const float *x)
{
    smx_row_stats s = {SMX_ROW_FINITE, -INFINITY, 0};
    int has_nan = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(x[i]))
            has_nan = 1;
        else if (x[i] > s.max)
            s.max = x[i];
        s.n_inf += (x[i] == INFINITY);
    }
    if (has_nan)
        s.kind = SMX_ROW_NAN;
    else if (s.max == -INFINITY)
        s.kind = SMX_ROW_NEG_INF;
    else if (s.max == INFINITY)
        s.kind = SMX_ROW_POS_INF;
    return s;
}

double smx_row_sumexp(size_t n, const float *x, float max)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += exp((double)x[i] - (double)max);
    return sum;
}

/* The max terms (exp(0) = 1 each, c of them) are counted apart from the
 * rest, so that a row with one max takes log1p(rest): log of the rounded
 * sum 1 + rest loses rest below 2^-53 and is only absolutely accurate
 * near 0, where -log p of a confident row's max (its cross-entropy loss)
 * needs it relatively. A +inf soft target at that max weighs log S: as
 * log(1 + rest) it was inf * 0 = NaN where the limit is +inf. */
double smx_row_log_sumexp(size_t n, const float *x, float max)
{
    double rest = 0.0;
    size_t c = 0;
    for (size_t i = 0; i < n; i++) {
        if (x[i] == max)
            c++;
        else
            rest += exp((double)x[i] - (double)max);
    }
    return c == 1 ? log1p(rest) : log((double)c + rest);
}

double smx_edge_prob(const smx_row_stats *s, float x)
{
    switch (s->kind) {
    case SMX_ROW_NAN: return NAN;
    case SMX_ROW_POS_INF: return x == INFINITY ? 1.0 / (double)s->n_inf : 0.0;
    default: return 0.0; /* fully masked row */
    }
}

double smx_edge_logprob(const smx_row_stats *s, float x)
{
    switch (s->kind) {
    case SMX_ROW_NAN: return NAN;
    case SMX_ROW_POS_INF:
        return x == INFINITY ? -log((double)s->n_inf) : -INFINITY;
    default: return -INFINITY;
    }
}
