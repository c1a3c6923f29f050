/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: every public operation on every supported ISA, with
 * shapes, strides, placements, options, targets and float bit patterns
 * decoded from the input (fuzz_input.c). All operands live in one arena.
 * Per call it checks:
 * - the status is the one the header's rules give (with several violations,
 *   one of them), and the same on every ISA;
 * - an error leaves every arena byte as it was; a no-op also reads nothing;
 * - a success writes the outputs' elements only (the rest of the arena stays
 *   bit-identical) and, under ASan, reads the operands' elements only: the
 *   padding, the gaps and the logits of ignored rows are poisoned;
 * - each value is within the header's bar of the exact value (fuzz_ref.c),
 *   and each other ISA within twice that bar of the scalar ISA, with NaN
 *   for NaN and the same infinity; the Jacobian is bit-identical.
 * A failure prints the call and aborts, so libFuzzer keeps the input.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "fuzz.h"

#ifdef __has_feature
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif
#ifdef __SANITIZE_ADDRESS__
#define FZ_ASAN 1
#endif
#ifdef FZ_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define MAX_ISAS 4
#define MAX_ITEMS (FZ_MAX_JAC * FZ_MAX_JAC + FZ_MAX_ROWS * (FZ_MAX_COLS + 1))
#define BIT(s) (1u << (unsigned)(s))

static const char *const op_names[N_OPS] = {
    "softmax", "log_softmax", "logsumexp", "softmax_jvp", "softmax_vjp",
    "log_softmax_jvp", "log_softmax_vjp", "cross_entropy",
    "cross_entropy_soft", "softmax_jacobian"};
static const char *const slot_names[N_SLOTS] = {"in0", "in1", "targets",
                                                "out", "vec", "jac"};

static smx_isa isas[MAX_ISAS];
static int n_isas;

typedef struct operand {
    enum fz_slot slot;
    const void *p;
    size_t rows, cols, ld;
    unsigned char out, vector, may_alias, needed, in_play;
} operand;

typedef struct call {
    enum fz_op op;
    size_t rows, cols; /* the Jacobian: n, n */
    operand o[4];
    int n;
    int noop;
    const smx_ce_opts *opts; /* as passed */
    smx_ce_opts eff;         /* as applied */
} call;

/* One output element and what it must be. */
typedef struct item {
    size_t cell, row, col;
    enum fz_slot slot;
    expect e;
} item;

static item items[MAX_ITEMS];
static const fz *cur_f;
static const call *cur_c;

/* ---- failure report --------------------------------------------------- */

static void print_row(const char *name, const float *x, size_t n)
{
    fprintf(stderr, "  %s:", name);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %a", (double)x[i]);
    fprintf(stderr, "\n");
}

static void fuzz_fail(size_t row, const char *fmt, ...)
{
    const call *c = cur_c;
    va_list ap;
    fprintf(stderr, "\nfuzz_smxkern: %s(rows %zu, cols %zu): ",
            op_names[c->op], c->rows, c->cols);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    for (int k = 0; k < c->n; k++) {
        const operand *o = &c->o[k];
        fprintf(stderr, "  %s: ", slot_names[o->slot]);
        if (!o->p)
            fprintf(stderr, "NULL");
        else if ((const float *)o->p >= cur_f->snap &&
                 (const float *)o->p < cur_f->snap + cur_f->len)
            fprintf(stderr, "cell %zu", cur_f->off[o->slot]);
        else
            fprintf(stderr, "%p", o->p);
        fprintf(stderr, ", %zu x %zu, ld %zu%s\n", o->rows, o->cols, o->ld,
                o->in_play ? "" : " (not used)");
    }
    fprintf(stderr, "  opts: %s ignore_index %d label_smoothing %a "
            "grad_scale %a\n", c->opts ? "" : "NULL (defaults)",
            c->eff.ignore_index, (double)c->eff.label_smoothing,
            (double)c->eff.grad_scale);
    if (row < cur_f->rows && c->rows <= FZ_MAX_ROWS && c->cols <= FZ_MAX_COLS) {
        const float *s = cur_f->snap;
        print_row("in0 row", s + cur_f->off[S_IN0] + row * cur_f->ld[S_IN0], c->cols);
        print_row("in1 row", s + cur_f->off[S_IN1] + row * cur_f->ld[S_IN1], c->cols);
    }
    abort();
}

/* ---- the calls ------------------------------------------------------------ */

static operand operand_at(const fz *f, enum fz_slot s, size_t rows,
                          size_t cols, int out)
{
    operand o = {s, NULL, rows, cols, f->ld[s], (unsigned char)out, 0, 1, 1, 1};
    return o;
}

/* A contiguous vector of n (lse, loss, targets, the Jacobian's y). */
static operand vector_at(enum fz_slot s, size_t n, int out)
{
    operand o = {s, NULL, 1, n, n, (unsigned char)out, 1, 0, 1, 1};
    return o;
}

/* Builds the call of op from the decoded input, its pointers into `base`
 * (the snapshot, or the working arena: the same offsets), with the fault
 * the input asks for. */
static call make_call(const fz *f, enum fz_op op, float *base)
{
    call c = {op, f->rows, f->cols, {{0}}, 0, 0, &f->opts, f->opts};
    if (f->fault == F_HUGE_ROWS)
        c.rows = f->huge;
    if (f->fault == F_HUGE_COLS)
        c.cols = f->huge;
    const size_t r = c.rows, n = c.cols;
    switch (op) {
    case OP_SOFTMAX: case OP_LOG_SOFTMAX:
        c.o[c.n++] = operand_at(f, S_IN0, r, n, 0);
        c.o[c.n++] = operand_at(f, S_OUT, r, n, 1);
        c.noop = r == 0 || n == 0;
        break;
    case OP_LOGSUMEXP:
        c.o[c.n++] = operand_at(f, S_IN0, r, n, 0);
        c.o[c.n++] = vector_at(S_VEC, r, 1);
        c.o[0].in_play = n != 0; /* cols == 0: -inf written, x not used */
        c.noop = r == 0;
        break;
    case OP_XENT: case OP_XENT_SOFT:
        c.o[c.n++] = operand_at(f, S_IN0, r, n, 0);
        c.o[c.n++] = op == OP_XENT ? vector_at(S_TARGETS, r, 0)
                                   : operand_at(f, S_IN1, r, n, 0);
        c.o[c.n++] = vector_at(S_VEC, r, 1);
        c.o[c.n++] = operand_at(f, S_OUT, r, n, 1);
        c.o[2].needed = c.o[3].needed = 0; /* either may be NULL, not both */
        c.noop = r == 0 || n == 0;
        break;
    case OP_JACOBIAN:
        c.rows = c.cols = f->fault == F_HUGE_COLS ? f->huge : f->njac;
        c.o[c.n++] = vector_at(S_IN0, c.cols, 0);
        c.o[c.n++] = operand_at(f, S_JAC, c.cols, c.cols, 1);
        c.o[1].may_alias = 0; /* jac may not alias y at all */
        c.noop = c.cols == 0;
        break;
    default: /* the backward ops */
        c.o[c.n++] = operand_at(f, S_IN0, r, n, 0);
        c.o[c.n++] = operand_at(f, S_IN1, r, n, 0);
        c.o[c.n++] = operand_at(f, S_OUT, r, n, 1);
        c.noop = r == 0 || n == 0;
        break;
    }
    /* F_NULL, F_FAKE_PTR: which % 5 picks in0, in1, targets, out, vec;
     * F_STRIDE, F_HUGE_LD: which % 3 picks in0, in1, out (or jac). */
    const enum fz_slot ptr_slot = (enum fz_slot)(f->which % 5);
    const enum fz_slot ld_slot = (enum fz_slot)(f->which % 3 == 2 ? S_OUT : f->which % 3);
    for (int k = 0; k < c.n; k++) {
        operand *o = &c.o[k];
        o->p = base + f->off[o->slot];
        if (f->fault == F_NULL && o->slot == ptr_slot)
            o->p = NULL;
        if (f->fault == F_FAKE_PTR && o->slot == ptr_slot)
            o->p = (const void *)(UINTPTR_MAX - 3); /* any extent wraps */
        if (o->vector)
            continue;
        const int hit = o->slot == ld_slot || (o->slot == S_JAC && ld_slot == S_OUT);
        if (f->fault == F_HUGE_COLS)
            o->ld = o->cols;
        if (f->fault == F_STRIDE && hit && o->cols)
            o->ld = o->cols - 1;
        if (f->fault == F_HUGE_LD && hit)
            o->ld = f->huge;
    }
    if (f->fault == F_OPTIONAL && (op == OP_XENT || op == OP_XENT_SOFT)) {
        const unsigned v = f->which % 4; /* loss, grad, both, opts NULL */
        if (v == 0 || v == 2)
            c.o[2].p = NULL;
        if (v == 1 || v == 2)
            c.o[3].p = NULL, c.o[3].ld = 0; /* the stride of NULL is ignored */
        if (v == 3) {
            c.opts = NULL;
            c.eff = (smx_ce_opts)SMX_CE_OPTS_DEFAULT;
        }
    }
    return c;
}

static smx_status invoke(const call *c)
{
    const operand *o = c->o;
    float *out = (float *)o[c->n - 1].p; /* the outputs are the last ones */
    float *vec = c->n > 2 ? (float *)o[2].p : NULL;
    switch (c->op) {
    case OP_SOFTMAX:
        return smx_softmax_f32(c->rows, c->cols, o[0].p, o[0].ld, out, o[1].ld);
    case OP_LOG_SOFTMAX:
        return smx_log_softmax_f32(c->rows, c->cols, o[0].p, o[0].ld, out, o[1].ld);
    case OP_LOGSUMEXP:
        return smx_logsumexp_f32(c->rows, c->cols, o[0].p, o[0].ld, out);
    case OP_SOFTMAX_JVP:
        return smx_softmax_jvp_f32(c->rows, c->cols, o[0].p, o[0].ld, o[1].p, o[1].ld, out, o[2].ld);
    case OP_SOFTMAX_VJP:
        return smx_softmax_vjp_f32(c->rows, c->cols, o[0].p, o[0].ld, o[1].p, o[1].ld, out, o[2].ld);
    case OP_LOG_SOFTMAX_JVP:
        return smx_log_softmax_jvp_f32(c->rows, c->cols, o[0].p, o[0].ld, o[1].p, o[1].ld, out, o[2].ld);
    case OP_LOG_SOFTMAX_VJP:
        return smx_log_softmax_vjp_f32(c->rows, c->cols, o[0].p, o[0].ld, o[1].p, o[1].ld, out, o[2].ld);
    case OP_XENT:
        return smx_cross_entropy_f32(c->rows, c->cols, o[0].p, o[0].ld, o[1].p, c->opts, vec, out, o[3].ld);
    case OP_XENT_SOFT:
        return smx_cross_entropy_soft_f32(c->rows, c->cols, o[0].p, o[0].ld, o[1].p, o[1].ld, c->opts, vec, out, o[3].ld);
    default:
        return smx_softmax_jacobian_f32(c->cols, o[0].p, out, o[1].ld);
    }
}

/* ---- what must happen ------------------------------------------------------ */

/* Cells spanned by o if the header allows its extent (else 0). */
static int span(const operand *o, size_t *cells)
{
    size_t a;
    if (__builtin_mul_overflow(o->rows - 1, o->ld, &a) ||
        __builtin_add_overflow(a, o->cols, &a) || a > (size_t)PTRDIFF_MAX / 4 ||
        (uintptr_t)o->p > UINTPTR_MAX - a * 4)
        return 0;
    *cells = a;
    return 1;
}

static int exact_alias(const operand *a, const operand *b)
{
    return a->may_alias && b->may_alias && a->p == b->p && a->rows == b->rows &&
           a->cols == b->cols && (a->ld == b->ld || a->rows == 1);
}

static int32_t target_at(const fz *f, size_t r)
{
    int32_t t;
    memcpy(&t, &f->snap[f->off[S_TARGETS] + r], sizeof t);
    return t;
}

/* Marks operand k's elements (bit k) in mark[]; the logits of ignored rows
 * only with skip_ignored == 0. */
static void mark_operand(const fz *f, const call *c, int k,
                         unsigned char *mark, int skip_ignored)
{
    const operand *o = &c->o[k];
    const size_t base = f->off[o->slot];
    for (size_t r = 0; r < o->rows; r++) {
        if (skip_ignored && c->op == OP_XENT && o->slot == S_IN0 &&
            target_at(f, r) == c->eff.ignore_index)
            continue;
        for (size_t j = 0; j < o->cols; j++)
            mark[base + r * o->ld + j] |= (unsigned char)BIT(k);
    }
}

/* Whether operand k is in play, non-NULL, and has a legal extent (then in
 * the arena: the harness never makes a legal call on other memory). */
static int legal(const fz *f, const call *c, int k)
{
    const operand *o = &c->o[k];
    size_t cells;
    if (!o->in_play || !o->p || o->ld < o->cols || !span(o, &cells))
        return 0;
    if ((const float *)o->p < f->snap || f->off[o->slot] + cells > f->len) {
        fprintf(stderr, "fuzz harness bug: %s outside the arena\n",
                slot_names[o->slot]);
        abort();
    }
    return 1;
}

/* The statuses the header allows for a call (0: SMX_OK only). */
static unsigned allowed_statuses(const fz *f, const call *c)
{
    if (c->noop)
        return 0;
    unsigned set = 0;
    const int xent = c->op == OP_XENT || c->op == OP_XENT_SOFT;
    if (xent && !c->o[2].p && !c->o[3].p)
        set |= BIT(SMX_E_NULL);
    for (int k = 0; k < c->n; k++) {
        const operand *o = &c->o[k];
        if (!o->in_play || (!o->p && !o->needed) || legal(f, c, k))
            continue;
        set |= !o->p ? BIT(SMX_E_NULL)
               : o->ld < o->cols ? BIT(SMX_E_STRIDE) : BIT(SMX_E_ARG);
    }
    if (xent && c->opts &&
        !(c->opts->label_smoothing >= 0.0f && c->opts->label_smoothing <= 1.0f &&
          isfinite(c->opts->grad_scale)))
        set |= BIT(SMX_E_ARG);
    /* Overlap among the legal operands, by brute force over the elements
     * (with other errors too: the header gives no precedence). */
    unsigned char *mark = calloc(f->len, 1);
    unsigned pairs = 0; /* bit 4 a + b: operands a and b share a cell */
    if (!mark)
        abort();
    for (int k = 0; k < c->n; k++)
        if (legal(f, c, k))
            mark_operand(f, c, k, mark, 0);
    for (size_t i = 0; i < f->len; i++)
        for (int a = 0; a < c->n; a++)
            for (int b = a + 1; b < c->n; b++)
                if ((mark[i] & BIT(a)) && (mark[i] & BIT(b)))
                    pairs |= BIT(4 * a + b);
    free(mark);
    for (int a = 0; a < c->n; a++)
        for (int b = a + 1; b < c->n; b++)
            if ((pairs & BIT(4 * a + b)) && (c->o[a].out || c->o[b].out) &&
                !exact_alias(&c->o[a], &c->o[b]))
                set |= BIT(SMX_E_OVERLAP);
    if (c->op == OP_XENT && legal(f, c, 1))
        for (size_t r = 0; r < c->rows; r++) {
            const int32_t t = target_at(f, r);
            if (t != c->eff.ignore_index && (t < 0 || (size_t)t >= c->cols))
                set |= BIT(SMX_E_TARGET);
        }
    return set;
}

/* The output elements of a successful call and their expected values. */
static size_t expected_items(const fz *f, const call *c)
{
    const float *s = f->snap;
    const operand *o = c->o;
    size_t n = 0;
    expect row_a[FZ_MAX_COLS], row_b[FZ_MAX_COLS], one;
    for (size_t r = 0; r < c->rows && c->op != OP_JACOBIAN; r++) {
        /* Rows of x (and v, p): legal extents, unless cols == 0. */
        const float *x = c->cols ? s + f->off[S_IN0] + r * o[0].ld : NULL;
        const float *v = c->cols && !o[1].vector
                             ? s + f->off[o[1].slot] + r * o[1].ld : NULL;
        const operand *mat = NULL, *vec = NULL;
        switch (c->op) {
        case OP_SOFTMAX: case OP_LOG_SOFTMAX:
            ref_softmax_row(c->cols, x, row_a, row_b, &one);
            if (c->op == OP_LOG_SOFTMAX)
                memcpy(row_a, row_b, c->cols * sizeof *row_a);
            mat = &o[1];
            break;
        case OP_LOGSUMEXP:
            if (c->cols)
                ref_softmax_row(c->cols, x, row_a, row_b, &one);
            else
                one = (expect){-INFINITY, 0.0, 0, 0};
            vec = &o[1];
            break;
        case OP_XENT: case OP_XENT_SOFT:
            if (c->op == OP_XENT)
                ref_xent_row(c->cols, x, target_at(f, r), &c->eff, &one, row_a);
            else
                ref_xent_soft_row(c->cols, x, v, &c->eff, &one, row_a);
            mat = o[3].p ? &o[3] : NULL;
            vec = o[2].p ? &o[2] : NULL;
            break;
        default:
            ref_backward_row(c->op, c->cols, x, v, row_a);
            mat = &o[2];
            break;
        }
        for (size_t j = 0; mat && j < c->cols; j++)
            items[n++] = (item){f->off[mat->slot] + r * mat->ld + j, r, j, mat->slot, row_a[j]};
        if (vec)
            items[n++] = (item){f->off[vec->slot] + r, r, 0, vec->slot, one};
    }
    if (c->op == OP_JACOBIAN) {
        static expect jac[FZ_MAX_JAC * FZ_MAX_JAC];
        ref_jacobian(c->cols, s + f->off[S_IN0], jac);
        for (size_t i = 0; i < c->cols; i++)
            for (size_t j = 0; j < c->cols; j++)
                items[n++] = (item){f->off[S_JAC] + i * o[1].ld + j, i, j,
                                    S_JAC, jac[i * c->cols + j]};
    }
    return n;
}

/* ---- checks ------------------------------------------------------------------ */

static int near_overflow(double ref, double bar)
{
    return fabs(ref) + bar >= (double)FLT_MAX + 0x1p103; /* rounds to inf */
}

/* got within bar of ref: NaN for NaN, the same infinity, or a value within
 * the bar (an infinity if a value within the bar rounds to it). */
static int close_to(float got, double ref, double bar)
{
    if (isnan(ref))
        return isnan(got) && !is_sentinel(got);
    if (isinf(ref))
        return (double)got == ref;
    if (isinf(got))
        return near_overflow(ref, bar) && (got > 0) == (ref > 0);
    return isfinite(got) && fabs((double)got - ref) <= bar;
}

static void check_item(const item *it, float *const *res)
{
    const expect *e = &it->e;
    const float scalar = res[0][it->cell];
    const char *what = slot_names[it->slot];
    for (int k = 0; k < n_isas; k++) {
        const float got = res[k][it->cell];
        const char *isa = smx_isa_name(isas[k]);
        if (e->skip) {
            if (is_sentinel(got))
                fuzz_fail(it->row, "[%s] %s row %zu col %zu not written", isa, what, it->row, it->col);
            continue;
        }
        if (e->zero && !(got == 0.0f))
            fuzz_fail(it->row, "[%s] %s row %zu col %zu: got %a, want exactly 0", isa,
                 what, it->row, it->col, (double)got);
        if (!close_to(got, e->ref, e->bar))
            fuzz_fail(it->row, "[%s] %s row %zu col %zu: got %a%s, want %a (error %.3g, bar %.3g)",
                 isa, what, it->row, it->col, (double)got,
                 is_sentinel(got) ? " (never written)" : "", e->ref,
                 fabs((double)got - e->ref), e->bar);
        if (k > 0 && !(isfinite(e->ref) && near_overflow(e->ref, e->bar)) &&
            !close_to(got, scalar, 2.0 * e->bar))
            fuzz_fail(it->row, "[%s] %s row %zu col %zu: got %a, scalar %a (bar %.3g)",
                 isa, what, it->row, it->col, (double)got, (double)scalar, e->bar);
        if (k > 0 && cur_c->op == OP_JACOBIAN && memcmp(&got, &scalar, sizeof got))
            fuzz_fail(it->row, "[%s] jacobian %zu %zu: %a, scalar %a", isa, it->row,
                 it->col, (double)got, (double)scalar);
    }
}

#ifdef FZ_ASAN
/* Poisons every cell that is not live, so a read of it is reported. */
static void poison_dead(float *a, size_t len, const unsigned char *live)
{
    for (size_t i = 0; i < len;) {
        size_t j = i;
        while (j < len && !live[j])
            j++;
        if (j > i)
            ASAN_POISON_MEMORY_REGION(a + i, (j - i) * sizeof *a);
        i = j + 1;
    }
}
#endif

static void run_op(const fz *f, enum fz_op op, float *arena, float **res)
{
    const call c = make_call(f, op, f->snap);
    cur_c = &c;
    const unsigned allowed = allowed_statuses(f, &c);
    /* live: what the call may read (nothing for a no-op, not the logits of
     * ignored rows on success); written: what it may write. */
    unsigned char *live = calloc(f->len, 1), *written = calloc(f->len, 1);
    if (!live || !written)
        abort();
    for (int k = 0; !c.noop && k < c.n; k++)
        if (legal(f, &c, k)) {
            mark_operand(f, &c, k, live, allowed == 0);
            if (allowed == 0 && c.o[k].out)
                mark_operand(f, &c, k, written, 0);
        }
    if (allowed == 0) /* an output aliasing the logits is written */
        for (size_t i = 0; i < f->len; i++)
            live[i] |= written[i];

    const call at = make_call(f, op, arena); /* the same, into the arena */
    smx_status st[MAX_ISAS];
    for (int k = 0; k < n_isas; k++) {
        memcpy(arena, f->snap, f->len * sizeof *arena);
        if (smx_set_isa(isas[k]) != SMX_OK)
            fuzz_fail(SIZE_MAX, "smx_set_isa(%s) failed", smx_isa_name(isas[k]));
#ifdef FZ_ASAN
        poison_dead(arena, f->len, live);
#endif
        st[k] = invoke(&at);
#ifdef FZ_ASAN
        ASAN_UNPOISON_MEMORY_REGION(arena, f->len * sizeof *arena);
#endif
        memcpy(res[k], arena, f->len * sizeof *arena);
        if (st[k] != st[0])
            fuzz_fail(SIZE_MAX, "status %d on %s, %d on scalar", st[k],
                 smx_isa_name(isas[k]), st[0]);
    }
    if (allowed ? !(allowed & BIT(st[0])) : st[0] != SMX_OK)
        fuzz_fail(SIZE_MAX, "status %d (%s); allowed: %#x (bit per status, 0: OK)",
             st[0], smx_strerror(st[0]), allowed);
    for (int k = 0; k < n_isas; k++)
        for (size_t i = 0; i < f->len; i++)
            if (!(st[0] == SMX_OK && written[i]) &&
                memcmp(&res[k][i], &f->snap[i], sizeof(float)))
                fuzz_fail(SIZE_MAX, "[%s] status %d but cell %zu changed (%a -> %a)",
                     smx_isa_name(isas[k]), st[0], i, (double)f->snap[i],
                     (double)res[k][i]);
    if (st[0] == SMX_OK && !c.noop) {
        const size_t n = expected_items(f, &c);
        for (size_t i = 0; i < n; i++)
            check_item(&items[i], res);
    }
    free(live);
    free(written);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const smx_isa all[MAX_ISAS] = {SMX_ISA_SCALAR, SMX_ISA_AVX2,
                                          SMX_ISA_AVX512, SMX_ISA_NEON};
    (void)argc;
    (void)argv;
    fprintf(stderr, "fuzz_smxkern: ISAs under test:");
    for (int k = 0; k < MAX_ISAS; k++)
        if (smx_isa_supported(all[k])) {
            isas[n_isas++] = all[k];
            fprintf(stderr, " %s", smx_isa_name(all[k]));
        }
    fprintf(stderr, "\n");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz f;
    fz_decode(data, size, &f);
    cur_f = &f;
    float *arena = malloc(f.len * sizeof *arena), *res[MAX_ISAS];
    if (!arena)
        abort();
    for (int k = 0; k < n_isas; k++)
        if (!(res[k] = malloc(f.len * sizeof(float))))
            abort();
    for (int op = 0; op < N_OPS; op++)
        run_op(&f, (enum fz_op)op, arena, res);
    for (int k = 0; k < n_isas; k++)
        free(res[k]);
    free(arena);
    free(f.snap);
    return 0;
}
