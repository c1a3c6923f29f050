/* SPDX-License-Identifier: MIT */
/*
 * The scalar reference: the specification of every operation in plain C.
 * Sums and intermediate values are kept in double, results are rounded to
 * float once. Per-row entry points are exported (inside the library only)
 * so that SIMD kernels can hand rare rows, those whose maximum is NaN or
 * infinite, to the one place that defines them.
 */
#ifndef SMX_SCALAR_H
#define SMX_SCALAR_H

#include "../kernels.h"

/* How a row behaves, decided by its maximum. */
typedef enum smx_row_kind {
    SMX_ROW_FINITE,  /* finite maximum, no NaN: the normal case */
    SMX_ROW_NAN,     /* a NaN somewhere: every result is NaN */
    SMX_ROW_NEG_INF, /* every entry -inf: probabilities 0, logs -inf */
    SMX_ROW_POS_INF  /* k entries +inf share probability 1/k */
} smx_row_kind;

typedef struct smx_row_stats {
    smx_row_kind kind;
    float max;      /* the maximum, for SMX_ROW_FINITE */
    size_t n_inf;   /* how many +inf entries, for SMX_ROW_POS_INF */
} smx_row_stats;

smx_row_stats smx_row_scan(size_t n, const float *x);
/* For FINITE rows: sum_i exp(x_i - max), in double (>= 1). */
double smx_row_sumexp(size_t n, const float *x, float max);
/* For FINITE rows: log(sum_i exp(x_i - max)), in double (>= 0), exact in
 * relative terms where the sum is near 1 (see rowstats.c). */
double smx_row_log_sumexp(size_t n, const float *x, float max);
/* For non-FINITE rows: the limit probability and log-probability of x. */
double smx_edge_prob(const smx_row_stats *s, float x);
double smx_edge_logprob(const smx_row_stats *s, float x);

/* One row of each operation; y may equal x (in place). */
void smx_softmax_row_scalar(size_t n, const float *x, float *y);
void smx_log_softmax_row_scalar(size_t n, const float *x, float *y);
float smx_logsumexp_row_scalar(size_t n, const float *x);
/* Returns the loss; writes the gradient when grad != NULL. t is a class in
 * [0, n) (ignored rows are the caller's). */
float smx_xent_row_scalar(size_t n, const float *z, int32_t t,
                          const smx_xent_params *prm, float *grad);
float smx_xent_soft_row_scalar(size_t n, const float *z, const float *p,
                               const smx_xent_params *prm, float *grad);

/* The batch kernels of the scalar table. */
void smx_softmax_scalar(size_t rows, size_t cols, const float *x, size_t ldx,
                        float *y, size_t ldy);
void smx_log_softmax_scalar(size_t rows, size_t cols, const float *x,
                            size_t ldx, float *y, size_t ldy);
void smx_logsumexp_scalar(size_t rows, size_t cols, const float *x,
                          size_t ldx, float *lse);
void smx_softmax_jvp_scalar(size_t rows, size_t cols, const float *y,
                            size_t ldy, const float *v, size_t ldv,
                            float *out, size_t ldo);
void smx_log_softmax_jvp_scalar(size_t rows, size_t cols, const float *y,
                                size_t ldy, const float *v, size_t ldv,
                                float *out, size_t ldo);
void smx_log_softmax_vjp_scalar(size_t rows, size_t cols, const float *y,
                                size_t ldy, const float *g, size_t ldg,
                                float *out, size_t ldo);
void smx_xent_scalar(size_t rows, size_t cols, const float *z, size_t ldz,
                     const int32_t *targets, const smx_xent_params *prm,
                     float *loss, float *grad, size_t ldg);
void smx_xent_soft_scalar(size_t rows, size_t cols, const float *z,
                          size_t ldz, const float *p, size_t ldp,
                          const smx_xent_params *prm, float *loss,
                          float *grad, size_t ldg);

#endif /* SMX_SCALAR_H */
