/* SPDX-License-Identifier: MIT */
/* libsmxkern cases (<op>/<isa>/<shape>) and the memcpy reference. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/kernels.h"
#include "bench.h"

static smx_status run_softmax(const bench_data *d, const bench_set *s)
{
    return smx_softmax_f32(d->rows, d->cols, s->a, d->cols, s->out, d->cols);
}

static smx_status run_log_softmax(const bench_data *d, const bench_set *s)
{
    return smx_log_softmax_f32(d->rows, d->cols, s->a, d->cols, s->out, d->cols);
}

static smx_status run_logsumexp(const bench_data *d, const bench_set *s)
{
    return smx_logsumexp_f32(d->rows, d->cols, s->a, d->cols, s->row_out);
}

/* The four JVP/VJP entry points share one signature. */
#define RUN_BACKWARD(name, fn)                                                \
    static smx_status name(const bench_data *d, const bench_set *s)          \
    {                                                                         \
        return fn(d->rows, d->cols, s->a, d->cols, s->b, d->cols, s->out,     \
                  d->cols);                                                   \
    }
RUN_BACKWARD(run_softmax_jvp, smx_softmax_jvp_f32)
RUN_BACKWARD(run_softmax_vjp, smx_softmax_vjp_f32)
RUN_BACKWARD(run_log_softmax_jvp, smx_log_softmax_jvp_f32)
RUN_BACKWARD(run_log_softmax_vjp, smx_log_softmax_vjp_f32)

static smx_status run_cross_entropy(const bench_data *d, const bench_set *s)
{
    return smx_cross_entropy_f32(d->rows, d->cols, s->a, d->cols, s->targets,
                                 NULL, s->row_out, s->out, d->cols);
}

static smx_status run_cross_entropy_soft(const bench_data *d, const bench_set *s)
{
    return smx_cross_entropy_soft_f32(d->rows, d->cols, s->a, d->cols, s->b,
                                      d->cols, NULL, s->row_out, s->out, d->cols);
}

/* The library's softmax structure with SLEEF's exp, for the active ISA. */
static smx_status run_softmax_sleef(const bench_data *d, const bench_set *s)
{
    void (*fn)(size_t, size_t, const float *, size_t, float *, size_t) = NULL;
    switch (smx_get_isa()) {
#if SMX_HAVE_AVX2
    case SMX_ISA_AVX2: fn = smx_softmax_sleef_avx2; break;
#endif
#if SMX_HAVE_AVX512
    case SMX_ISA_AVX512: fn = smx_softmax_sleef_avx512; break;
#endif
#if SMX_HAVE_NEON
    case SMX_ISA_NEON: fn = smx_softmax_sleef_neon; break;
#endif
    default: return SMX_E_ISA; /* scalar: no SLEEF variant */
    }
    fn(d->rows, d->cols, s->a, d->cols, s->out, d->cols);
    return SMX_OK;
}

/* Bytes per element: every full-size array read or written once, 4 bytes
 * each. Per-row values (lse, loss, targets) are negligible and not counted. */
const bench_op_info bench_ops[OP_COUNT] = {
    [OP_SOFTMAX] = {"softmax", 8, IN_LOGITS, run_softmax},          /* x, y */
    [OP_LOG_SOFTMAX] = {"log_softmax", 8, IN_LOGITS, run_log_softmax},
    [OP_LOGSUMEXP] = {"logsumexp", 4, IN_LOGITS, run_logsumexp},     /* x */
    [OP_SOFTMAX_JVP] = {"softmax_jvp", 12, IN_PROBS_V, run_softmax_jvp}, /* y, v, out */
    [OP_SOFTMAX_VJP] = {"softmax_vjp", 12, IN_PROBS_V, run_softmax_vjp},
    [OP_LOG_SOFTMAX_JVP] = {"log_softmax_jvp", 12, IN_LOGPROBS_V, run_log_softmax_jvp},
    [OP_LOG_SOFTMAX_VJP] = {"log_softmax_vjp", 12, IN_LOGPROBS_V, run_log_softmax_vjp},
    [OP_CROSS_ENTROPY] = {"cross_entropy", 8, IN_LOGITS_TARGETS, run_cross_entropy}, /* z, grad */
    [OP_CROSS_ENTROPY_SOFT] = {"cross_entropy_soft", 12, IN_LOGITS_PROBS,
                               run_cross_entropy_soft}, /* z, p, grad */
    [OP_SOFTMAX_SLEEF] = {"softmax_sleef", 8, IN_LOGITS, run_softmax_sleef},
};

static const smx_isa isas[] = {SMX_ISA_SCALAR, SMX_ISA_AVX2, SMX_ISA_AVX512,
                               SMX_ISA_NEON};
#define NISAS (sizeof isas / sizeof isas[0])

/* The library only says "not supported"; the CPU check tells the user
 * whether a rebuild (or unsetting SMXKERN_ISA) would help. */
static int cpu_has(smx_isa isa)
{
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    if (isa == SMX_ISA_AVX2)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == SMX_ISA_AVX512)
        return __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw");
    return 0;
#elif defined(__aarch64__) || defined(__ARM_NEON)
    return isa == SMX_ISA_NEON;
#else
    (void)isa;
    return -1; /* unknown */
#endif
}

const char *bench_isa_skip_reason(smx_isa isa)
{
    static char reasons[NISAS + 1][200];
    if (smx_isa_supported(isa))
        return NULL;
    char *r = reasons[(size_t)isa % (NISAS + 1)];
    const char *cap = getenv("SMXKERN_ISA");
    const char *name = smx_isa_name(isa);
    int has = cpu_has(isa);
    if (cap && *cap)
        snprintf(r, sizeof reasons[0],
                 "skipped: %s not usable (SMXKERN_ISA=%s caps the ISAs)", name, cap);
    else if (has == 1)
        snprintf(r, sizeof reasons[0],
                 "skipped: %s not built into this libsmxkern (the CPU has it)", name);
    else if (has == 0)
        snprintf(r, sizeof reasons[0], "skipped: %s not available on this CPU", name);
    else
        snprintf(r, sizeof reasons[0], "skipped: %s not supported here", name);
    return r;
}

/* A cheap plausibility check of set 0 after the warm-up (never timed). */
static const char *check_output(bench_op op, const bench_data *d)
{
    const bench_set *s = &d->sets[0];
    int row_vals = op == OP_LOGSUMEXP || op == OP_CROSS_ENTROPY ||
                   op == OP_CROSS_ENTROPY_SOFT;
    if (row_vals)
        for (size_t r = 0; r < d->rows; r++)
            if (!isfinite(s->row_out[r]))
                return "non-finite per-row result";
    if (op == OP_LOGSUMEXP)
        return NULL;
    double sum = 0.0;
    for (size_t j = 0; j < d->cols; j++) {
        if (!isfinite(s->out[j]))
            return "non-finite output";
        sum += s->out[j];
    }
    if ((op == OP_SOFTMAX || op == OP_SOFTMAX_SLEEF) && fabs(sum - 1.0) > 1e-3)
        return "softmax row does not sum to 1";
    return NULL;
}

typedef struct lib_case {
    bench_op op;
    smx_isa isa;
    const bench_shape *sh;
} lib_case;

static void bm_lib(smxb_state *st, void *arg)
{
    const lib_case *c = arg;
    const bench_op_info *op = &bench_ops[c->op];
    const char *why = bench_isa_skip_reason(c->isa);
    if (why) {
        smxb_skip(st, why);
        return;
    }
    smx_status s = smx_set_isa(c->isa);
    const bench_data *d =
        s == SMX_OK ? bench_data_get(op->inputs, c->sh, op->bytes_per_elem) : NULL;
    if (!d) {
        smxb_skip(st, s != SMX_OK ? smx_strerror(s) : "out of memory");
        return;
    }
    /* One untimed call proves the call succeeds and gives check_output
     * something to read (bench_data_get already touched every page). */
    s = op->run(d, &d->sets[0]);
    why = s != SMX_OK ? smx_strerror(s) : check_output(c->op, d);
    if (why) {
        smxb_skip(st, why);
        return;
    }

    size_t k = 0;
    while (smxb_keep_running(st)) {
        smx_status r = op->run(d, &d->sets[k]);
        if (r != SMX_OK)
            s = r;
        if (++k == d->nsets)
            k = 0;
    }
    if (s != SMX_OK)
        smxb_skip(st, smx_strerror(s));
    bench_set_counters(st, c->sh, op->bytes_per_elem, d->nsets);
}

static void bm_memcpy(smxb_state *st, void *arg)
{
    const bench_shape *sh = arg;
    const bench_data *d =
        bench_data_get(IN_LOGITS, sh, BENCH_MEMCPY_BYTES_PER_ELEM);
    if (!d) {
        smxb_skip(st, "out of memory");
        return;
    }
    size_t bytes = sh->rows * sh->cols * sizeof(float);

    size_t k = 0;
    while (smxb_keep_running(st)) {
        memcpy(d->sets[k].out, d->sets[k].a, bytes);
        smxb_clobber_memory(); /* the copy is never read: keep it */
        if (++k == d->nsets)
            k = 0;
    }
    bench_set_counters(st, sh, BENCH_MEMCPY_BYTES_PER_ELEM, d->nsets);
}

/* out = a + b over the shape: what a JVP or VJP could cost at best, two
 * reads and one write of the same bytes (STREAM's "add"). */
static void bm_add(smxb_state *st, void *arg)
{
    const bench_shape *sh = arg;
    const bench_data *d = bench_data_get(IN_PROBS_V, sh, BENCH_ADD_BYTES_PER_ELEM);
    if (!d) {
        smxb_skip(st, "out of memory");
        return;
    }
    const size_t n = sh->rows * sh->cols;
    size_t k = 0;
    while (smxb_keep_running(st)) {
        const float *a = d->sets[k].a, *b = d->sets[k].b;
        float *out = d->sets[k].out;
        for (size_t i = 0; i < n; i++) /* the compiler vectorizes this */
            out[i] = a[i] + b[i];
        smxb_clobber_memory();
        if (++k == d->nsets)
            k = 0;
    }
    bench_set_counters(st, sh, BENCH_ADD_BYTES_PER_ELEM, d->nsets);
}

/* Case arguments live as long as the registrations: static storage. */
static lib_case lib_cases[OP_COUNT * 16 * NISAS];
static size_t nlib_cases;

void bench_register_memcpy(const bench_shape *sh)
{
    char name[96];
    snprintf(name, sizeof name, "memcpy/%s", sh->name);
    smxb_bench_unit(smxb_register(name, bm_memcpy, (void *)sh), SMXB_US);
}

void bench_register_add(const bench_shape *sh)
{
    char name[96];
    snprintf(name, sizeof name, "add/%s", sh->name);
    smxb_bench_unit(smxb_register(name, bm_add, (void *)sh), SMXB_US);
}

void bench_register_case(bench_op op, const char *impl, const bench_shape *sh,
                         smxb_fn fn, void *arg)
{
    char name[96];
    snprintf(name, sizeof name, "%s/%s/%s", bench_ops[op].name, impl, sh->name);
    smxb_bench_unit(smxb_register(name, fn, arg), SMXB_US);
}

void bench_register_lib(bench_op op, const bench_shape *sh)
{
    for (size_t i = 0; i < NISAS; i++) {
        if (nlib_cases == sizeof lib_cases / sizeof lib_cases[0])
            abort(); /* more shapes than room: a programming error */
        lib_case *c = &lib_cases[nlib_cases++];
        *c = (lib_case){op, isas[i], sh};
        bench_register_case(op, smx_isa_name(isas[i]), sh, bm_lib, c);
    }
}
