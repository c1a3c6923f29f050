/* SPDX-License-Identifier: MIT */
/*
 * Test support shared by every suite: the ISA loop, random inputs, buffers
 * with sentinels and guard pages, the independent double-precision oracle,
 * and the accuracy bar of include/smxkern.h as checks.
 */
#ifndef SMX_TESTS_COMMON_H
#define SMX_TESTS_COMMON_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "smxkern.h"

/* ---- ISAs: every test that computes runs once per supported ISA -------- */

/* The supported ISAs (never AUTO), scalar first. */
int tests_isa_count(void);
/* Makes the i-th supported ISA active and returns it. */
smx_isa tests_use_isa(int i);
/* tcase_add_loop_test over the supported ISAs; the test calls
 * tests_use_isa(_i). */
#define ADD_ISA_TEST(tc, fn) tcase_add_loop_test(tc, fn, 0, tests_isa_count())

/* Runs a suite, prints Check's summary, returns the process exit code. */
int tests_run(Suite *s);

/* Tests that try every row length go up to this one: past 8 AVX-512
 * vectors, the longest row the kernels hold in registers, and past every
 * tail of every vector width. */
#define EVERY_LEN_MAX 130

/* ---- random inputs ------------------------------------------------------ */

typedef struct rng {
    uint64_t state;
} rng;

uint64_t rng_next(rng *r);
double rng_uniform(rng *r); /* [0, 1) */
double rng_normal(rng *r);
void fill_normal(rng *r, float *x, size_t n, double sigma);

/* ---- buffers -------------------------------------------------------------- */

/* A NaN with a payload no kernel produces: marks cells nothing may write. */
float sentinel(void);
int is_sentinel(float v);
/* Whether v is a NaN that arithmetic could turn into the sentinel: any NaN
 * with its payload, whatever its sign and quiet bit (a negation flips the
 * sign, any operation sets the quiet bit). Inputs must not hold one, or a
 * kernel that propagates it writes what reads as never written. */
int may_become_sentinel(float v);
/* Sets p[0, n) to sentinel(). */
void fill_sentinel(float *p, size_t n);
/* malloc'd floats, every one set to sentinel(); aborts the test on OOM. */
float *alloc_sentinel(size_t n);
float *dup_floats(const float *x, size_t n);

/* n bytes flush against a PROT_NONE page: just before it (at_end) or just
 * after one (at start). Touching a byte outside [p, p + n) faults. */
typedef struct guarded {
    void *map;
    size_t map_len;
    void *p;
} guarded;
void *guarded_alloc(guarded *g, size_t n, int at_end);
void guarded_free(guarded *g);

/* ---- the oracle (double precision, independent of src/) ------------------- */

/* One row of softmax in double: p[i], logp[i] (either may be NULL), the
 * shifted input d[i] = x_i - max (0 for rows whose max is not finite), and
 * the log-sum-exp. */
void oracle_softmax_row(size_t n, const float *x, double *p, double *logp,
                        double *d, double *lse);

/* Cross-entropy of one row in double; grad (may be NULL) gets the
 * gradient, bar (may be NULL) the per-element tolerance of the gradient;
 * *loss_bar the tolerance of the loss. */
double oracle_xent_row(size_t n, const float *z, int32_t t, float smoothing,
                       float scale, double *grad, double *bar,
                       double *loss_bar);
double oracle_xent_soft_row(size_t n, const float *z, const float *p,
                            float smoothing, float scale, double *grad,
                            double *bar, double *loss_bar);

/* ---- the accuracy bar ----------------------------------------------------- */

#define BAR_REL 0x1p-20
#define BAR_ABS 0x1p-126

double bar_prob(double ref, double d);   /* probabilities */
double bar_log(double ref, double d);    /* log-domain values */
double bar_terms(double sum_abs_terms);  /* sums of terms: JVPs, gradients */

/* Fails the running test unless got matches ref: the same NaN-ness, the
 * same infinity, or |got - ref| <= bar. `what` names the value. */
void expect_close(float got, double ref, double bar, const char *what,
                  size_t row, size_t col);

/* Fails unless every padding cell of a rows x ld buffer (columns >= cols)
 * still holds the sentinel. */
void expect_padding_intact(const float *y, size_t rows, size_t cols,
                           size_t ld, const char *what);

#endif /* SMX_TESTS_COMMON_H */
