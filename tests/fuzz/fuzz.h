/* SPDX-License-Identifier: MIT */
/*
 * The libFuzzer target's parts: the decoded input (fuzz_input.c), the exact
 * reference values with their accuracy bars (fuzz_ref.c), and the driver
 * that calls every operation on every ISA and checks it (fuzz_smxkern.c).
 */
#ifndef SMX_FUZZ_H
#define SMX_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "smxkern.h"

/* Bounds that keep one input well under a millisecond. */
#define FZ_MAX_ROWS 17
#define FZ_MAX_COLS 300
#define FZ_MAX_JAC 64 /* the Jacobian takes the first row, cut to this */

enum fz_op {
    OP_SOFTMAX, OP_LOG_SOFTMAX, OP_LOGSUMEXP, OP_SOFTMAX_JVP, OP_SOFTMAX_VJP,
    OP_LOG_SOFTMAX_JVP, OP_LOG_SOFTMAX_VJP, OP_XENT, OP_XENT_SOFT,
    OP_JACOBIAN, N_OPS
};

/* Where each operand lives in the arena: two inputs (x / y / logits, and
 * v / g / p), class targets, the output matrix, the vector output (lse,
 * loss), the Jacobian. */
enum fz_slot { S_IN0, S_IN1, S_TARGETS, S_OUT, S_VEC, S_JAC, N_SLOTS };

/* What the input asks to break in every call (none most of the time). */
enum fz_fault {
    F_NONE, F_NULL, F_STRIDE, F_HUGE_ROWS, F_HUGE_COLS, F_HUGE_LD,
    F_FAKE_PTR, F_OPTIONAL /* loss, grad, both or opts NULL */
};

typedef struct fz {
    size_t rows, cols, njac;     /* base shape, bounded */
    size_t len;                  /* arena cells (4 bytes each) */
    size_t off[N_SLOTS], ld[N_SLOTS];
    float *snap;                 /* the arena before every call */
    enum fz_fault fault;
    unsigned which;              /* the fault's operand or variant */
    size_t huge;                 /* the fault's huge extent */
    smx_ce_opts opts;
} fz;

/* Decodes an input (the format is described in fuzz_input.c); f->snap is
 * malloc'd. */
void fz_decode(const uint8_t *data, size_t size, fz *f);

/* One expected value. */
typedef struct expect {
    double ref, bar;    /* exact value in double; the header's bar */
    unsigned char skip; /* float intermediates may overflow: not checked */
    unsigned char zero; /* exactly 0: masked probability, ignored row */
} expect;

void ref_softmax_row(size_t n, const float *x, expect *p, expect *lp,
                     expect *lse);
void ref_backward_row(enum fz_op op, size_t n, const float *y,
                      const float *v, expect *out);
void ref_xent_row(size_t n, const float *z, int32_t t, const smx_ce_opts *o,
                  expect *loss, expect *grad);
void ref_xent_soft_row(size_t n, const float *z, const float *p,
                       const smx_ce_opts *o, expect *loss, expect *grad);
void ref_jacobian(size_t n, const float *y, expect *jac);

#endif /* SMX_FUZZ_H */
