/* SPDX-License-Identifier: MIT */
/*
 * The public entry points: validate, then call the active kernel table.
 * Every check runs before anything is written, so an error leaves every
 * output untouched. The cost is O(1) per call (O(rows) for class targets,
 * and for views whose address ranges interleave).
 */
#include <math.h>
#include <stdint.h>

#include "kernels.h"

#define STR2(x) #x
#define STR(x) STR2(x)

/* Every operand has 4-byte elements (float or int32_t). */
#define ELEM_BYTES 4u

/* One operand of a call: a strided matrix of rows x cols elements. */
typedef struct operand {
    const void *p;
    size_t rows, cols, ld;
    int is_output;
    int may_alias; /* may alias another may_alias operand exactly */
    uintptr_t begin, end; /* byte span, filled by validate() */
} operand;

static operand matrix(const void *p, size_t rows, size_t cols, size_t ld,
                      int is_output)
{
    operand o = {p, rows, cols, ld, is_output, 1, 0, 0};
    return o;
}

/* A contiguous vector of n elements (lse, loss, targets): never aliased. */
static operand vector(const void *p, size_t n, int is_output)
{
    operand o = {p, 1, n, n, is_output, 0, 0, 0};
    return o;
}

/* *out = a b; 1 if that overflows */
static ALWAYS_INLINE int mul_overflows(size_t a, size_t b, size_t *out)
{
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_mul_overflow(a, b, out);
#else
    if (b != 0 && a > SIZE_MAX / b)
        return 1;
    *out = a * b;
    return 0;
#endif
}

/* Computes the byte span; 0 if it does not fit the address space. */
static ALWAYS_INLINE int span(operand *o)
{
    const size_t max_elems = (size_t)PTRDIFF_MAX / ELEM_BYTES;
    size_t first_of_last; /* (rows - 1) ld */
    if (o->cols > max_elems ||
        mul_overflows(o->rows - 1, o->ld, &first_of_last) ||
        first_of_last > max_elems - o->cols)
        return 0;
    const size_t bytes = (first_of_last + o->cols) * ELEM_BYTES;
    o->begin = (uintptr_t)o->p;
    if (o->begin > UINTPTR_MAX - bytes)
        return 0;
    o->end = o->begin + bytes;
    return 1;
}

static int exact_alias(const operand *a, const operand *b)
{
    return a->may_alias && b->may_alias && a->p == b->p &&
           a->rows == b->rows && a->cols == b->cols &&
           (a->ld == b->ld || a->rows == 1);
}

/* Whether any element of a is an element of b, given that their spans
 * meet. Rows of each view ascend and do not overlap one another
 * (ld >= cols), so one merge-like sweep decides it. The operands come by
 * value: passed by address, they would be stored to the stack on every
 * call, for this path that few calls take. */
static NOINLINE int rows_overlap(operand a_view, operand b_view)
{
    const operand *a = &a_view, *b = &b_view;
    const uintptr_t wa = a->cols * ELEM_BYTES, la = a->ld * ELEM_BYTES;
    const uintptr_t wb = b->cols * ELEM_BYTES, lb = b->ld * ELEM_BYTES;
    size_t k = 0;
    for (size_t i = 0; i < a->rows; i++) {
        const uintptr_t s = a->begin + i * la;
        while (k < b->rows && b->begin + k * lb + wb <= s)
            k++; /* row k of b ends before row i of a starts */
        if (k == b->rows)
            return 0;
        if (b->begin + k * lb < s + wa)
            return 1;
    }
    return 0;
}

static ALWAYS_INLINE int overlaps(const operand *a, const operand *b)
{
    return a->begin < b->end && b->begin < a->end && rows_overlap(*a, *b);
}

/* Inlined where n and the operands' kinds are constants, which unrolls the
 * loops and drops the pairs that cannot clash: on 1x64 rows that took
 * 4-10 ns off calls of 25-50 ns (AVX-512 softmax, log-softmax, logsumexp),
 * and 15-25% off the backward ops. GCC left the loops over three and four
 * operands rolled until told to unroll them (UNROLL_OPERANDS): with that and
 * rows_overlap's operands by value, a call's checks take 99 instructions
 * instead of 157 (softmax JVP, callgrind), 131 instead of 201 (class
 * cross-entropy); Intel Xeon, AVX-512 1x64 calls, interleaved A/B: the
 * backward ops, logsumexp and both cross-entropies 7-11% faster,
 * log-softmax 2%, softmax unchanged. */
#define UNROLL_OPERANDS _Pragma("GCC unroll 4") /* the most a call has */
static ALWAYS_INLINE smx_status validate(operand *ops, size_t n)
{
    UNROLL_OPERANDS
    for (size_t i = 0; i < n; i++)
        if (!ops[i].p)
            return SMX_E_NULL;
    UNROLL_OPERANDS
    for (size_t i = 0; i < n; i++)
        if (ops[i].ld < ops[i].cols)
            return SMX_E_STRIDE;
    UNROLL_OPERANDS
    for (size_t i = 0; i < n; i++)
        if (!span(&ops[i]))
            return SMX_E_ARG;
    UNROLL_OPERANDS
    for (size_t i = 0; i < n; i++) {
        if (!ops[i].is_output)
            continue;
        UNROLL_OPERANDS
        for (size_t j = 0; j < n; j++) {
            if (j == i || (ops[j].is_output && j < i))
                continue; /* each pair of outputs once */
            if (overlaps(&ops[i], &ops[j]) && !exact_alias(&ops[i], &ops[j]))
                return SMX_E_OVERLAP;
        }
    }
    return SMX_OK;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- */

static smx_status rowwise(int log_domain, size_t rows, size_t cols,
                          const float *x, size_t ldx, float *y, size_t ldy)
{
    if (rows == 0 || cols == 0)
        return SMX_OK;
    operand ops[] = {matrix(x, rows, cols, ldx, 0),
                     matrix(y, rows, cols, ldy, 1)};
    smx_status st = validate(ops, COUNT(ops));
    if (st != SMX_OK)
        return st;
    const smx_kernels *k = smx_active_kernels();
    (log_domain ? k->log_softmax : k->softmax)(rows, cols, x, ldx, y, ldy);
    return SMX_OK;
}

SMX_API smx_status smx_softmax_f32(size_t rows, size_t cols, const float *x,
                                   size_t ldx, float *y, size_t ldy)
{
    return rowwise(0, rows, cols, x, ldx, y, ldy);
}

SMX_API smx_status smx_log_softmax_f32(size_t rows, size_t cols,
                                       const float *x, size_t ldx, float *y,
                                       size_t ldy)
{
    return rowwise(1, rows, cols, x, ldx, y, ldy);
}

SMX_API smx_status smx_logsumexp_f32(size_t rows, size_t cols,
                                     const float *x, size_t ldx, float *lse)
{
    if (rows == 0)
        return SMX_OK;
    if (cols == 0) { /* the log-sum-exp of an empty row */
        operand out = vector(lse, rows, 1);
        smx_status st = validate(&out, 1);
        for (size_t r = 0; st == SMX_OK && r < rows; r++)
            lse[r] = -INFINITY;
        return st;
    }
    operand ops[] = {matrix(x, rows, cols, ldx, 0), vector(lse, rows, 1)};
    smx_status st = validate(ops, COUNT(ops));
    if (st == SMX_OK)
        smx_active_kernels()->logsumexp(rows, cols, x, ldx, lse);
    return st;
}

/* ---------------------------------------------------------------- */

/* The three backward ops share their arguments; `which` picks the kernel
 * from the table loaded once. */
enum backward_op { SOFTMAX_JVP, LOG_SOFTMAX_JVP, LOG_SOFTMAX_VJP };

static smx_status backward(enum backward_op which, size_t rows, size_t cols,
                           const float *y, size_t ldy, const float *v,
                           size_t ldv, float *out, size_t ldo)
{
    if (rows == 0 || cols == 0)
        return SMX_OK;
    operand ops[] = {matrix(y, rows, cols, ldy, 0),
                     matrix(v, rows, cols, ldv, 0),
                     matrix(out, rows, cols, ldo, 1)};
    smx_status st = validate(ops, COUNT(ops));
    if (st != SMX_OK)
        return st;
    const smx_kernels *k = smx_active_kernels();
    smx_backward_fn fn = which == SOFTMAX_JVP       ? k->softmax_jvp
                         : which == LOG_SOFTMAX_JVP ? k->log_softmax_jvp
                                                    : k->log_softmax_vjp;
    fn(rows, cols, y, ldy, v, ldv, out, ldo);
    return SMX_OK;
}

SMX_API smx_status smx_softmax_jvp_f32(size_t rows, size_t cols,
                                       const float *y, size_t ldy,
                                       const float *v, size_t ldv, float *out,
                                       size_t ldo)
{
    return backward(SOFTMAX_JVP, rows, cols, y, ldy, v, ldv, out, ldo);
}

SMX_API smx_status smx_softmax_vjp_f32(size_t rows, size_t cols,
                                       const float *y, size_t ldy,
                                       const float *g, size_t ldg, float *out,
                                       size_t ldo)
{
    return backward(SOFTMAX_JVP, rows, cols, y, ldy, g, ldg, out, ldo);
}

SMX_API smx_status smx_log_softmax_jvp_f32(size_t rows, size_t cols,
                                           const float *y, size_t ldy,
                                           const float *v, size_t ldv,
                                           float *out, size_t ldo)
{
    return backward(LOG_SOFTMAX_JVP, rows, cols, y, ldy, v, ldv, out, ldo);
}

SMX_API smx_status smx_log_softmax_vjp_f32(size_t rows, size_t cols,
                                           const float *y, size_t ldy,
                                           const float *g, size_t ldg,
                                           float *out, size_t ldo)
{
    return backward(LOG_SOFTMAX_VJP, rows, cols, y, ldy, g, ldg, out, ldo);
}

/* ---------------------------------------------------------------- */

static smx_status xent_params(const smx_ce_opts *opts, smx_xent_params *prm)
{
    const smx_ce_opts o = opts ? *opts : (smx_ce_opts)SMX_CE_OPTS_DEFAULT;
    /* Written so that NaN fails each test. */
    if (!(o.label_smoothing >= 0.0f && o.label_smoothing <= 1.0f))
        return SMX_E_ARG;
    if (!isfinite(o.grad_scale))
        return SMX_E_ARG;
    prm->ignore_index = o.ignore_index;
    prm->smoothing = o.label_smoothing;
    prm->grad_scale = o.grad_scale;
    return SMX_OK;
}

/* Validates the operands shared by both cross-entropy forms; the soft form
 * adds p. Inlined, so that each form's validate sees its operand kinds
 * (see validate). */
static ALWAYS_INLINE smx_status xent_validate(size_t rows, size_t cols,
                                              const float *logits, size_t ldl,
                                              const void *targets, int soft,
                                              size_t ldp, float *loss,
                                              float *grad, size_t ldg)
{
    operand ops[4];
    ops[0] = matrix(logits, rows, cols, ldl, 0);
    ops[1] = soft ? matrix(targets, rows, cols, ldp, 0)
                  : vector(targets, rows, 0);
    if (loss && grad) {
        ops[2] = vector(loss, rows, 1);
        ops[3] = matrix(grad, rows, cols, ldg, 1);
        return validate(ops, 4);
    }
    if (loss) {
        ops[2] = vector(loss, rows, 1);
        return validate(ops, 3);
    }
    if (grad) {
        ops[2] = matrix(grad, rows, cols, ldg, 1);
        return validate(ops, 3);
    }
    return SMX_E_NULL;
}

SMX_API smx_status smx_cross_entropy_f32(size_t rows, size_t cols,
                                         const float *logits, size_t ldl,
                                         const int32_t *targets,
                                         const smx_ce_opts *opts, float *loss,
                                         float *grad, size_t ldg)
{
    if (rows == 0 || cols == 0)
        return SMX_OK;
    smx_status st = xent_validate(rows, cols, logits, ldl, targets, 0, 0,
                                  loss, grad, ldg);
    smx_xent_params prm;
    if (st == SMX_OK)
        st = xent_params(opts, &prm);
    if (st != SMX_OK)
        return st;
    for (size_t r = 0; r < rows; r++) {
        const int32_t t = targets[r];
        if (t != prm.ignore_index && (t < 0 || (size_t)t >= cols))
            return SMX_E_TARGET;
    }
    smx_active_kernels()->xent(rows, cols, logits, ldl, targets, &prm, loss,
                               grad, ldg);
    return SMX_OK;
}

SMX_API smx_status smx_cross_entropy_soft_f32(size_t rows, size_t cols,
                                              const float *logits, size_t ldl,
                                              const float *p, size_t ldp,
                                              const smx_ce_opts *opts,
                                              float *loss, float *grad,
                                              size_t ldg)
{
    if (rows == 0 || cols == 0)
        return SMX_OK;
    smx_status st = xent_validate(rows, cols, logits, ldl, p, 1, ldp, loss,
                                  grad, ldg);
    smx_xent_params prm;
    if (st == SMX_OK)
        st = xent_params(opts, &prm);
    if (st != SMX_OK)
        return st;
    smx_active_kernels()->xent_soft(rows, cols, logits, ldl, p, ldp, &prm,
                                    loss, grad, ldg);
    return SMX_OK;
}

/* ---------------------------------------------------------------- */

SMX_API smx_status smx_softmax_jacobian_f32(size_t n, const float *y,
                                            float *jac, size_t ldj)
{
    if (n == 0)
        return SMX_OK;
    operand ops[] = {vector(y, n, 0), matrix(jac, n, n, ldj, 1)};
    ops[1].may_alias = 0;
    smx_status st = validate(ops, COUNT(ops));
    if (st != SMX_OK)
        return st;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            jac[i * ldj + j] =
                (float)((double)y[i] * ((i == j ? 1.0 : 0.0) - (double)y[j]));
    return SMX_OK;
}

SMX_API const char *smx_strerror(smx_status s)
{
    switch (s) {
    case SMX_OK: return "success";
    case SMX_E_NULL: return "a needed pointer is NULL";
    case SMX_E_STRIDE: return "a row stride is smaller than the row length";
    case SMX_E_OVERLAP: return "an output overlaps an input or another output";
    case SMX_E_TARGET: return "a class target is outside [0, cols)";
    case SMX_E_ARG: return "an argument is out of range";
    case SMX_E_ISA: return "the instruction set is not supported here";
    default: return "unknown status";
    }
}

SMX_API const char *smx_version(void)
{
    return STR(SMX_VERSION_MAJOR) "." STR(SMX_VERSION_MINOR) "." STR(
        SMX_VERSION_PATCH);
}
