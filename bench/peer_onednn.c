/* SPDX-License-Identifier: MIT */
/* oneDNN peer cases through its C API (2.6: softmax_v2 descriptors):
 * softmax, log_softmax and their backward passes (= our VJPs), f32, plain
 * row-major `ab` layout, axis 1, one thread. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <oneapi/dnnl/dnnl.h>
#if SMXB_HAVE_OPENMP
#include <omp.h>
#endif

#include "bench.h"

static dnnl_engine_t engine;
static dnnl_stream_t stream;
static int init_state; /* 0 not tried, 1 ready, -1 failed */

/* Single-threaded like the library. OMP_NUM_THREADS is read when libgomp
 * loads, before main, so the environment alone is too late: set the
 * OpenMP default directly before the first oneDNN call. */
static int init(void)
{
    if (init_state == 0) {
#if SMXB_HAVE_OPENMP
        omp_set_num_threads(1);
#endif
        init_state = dnnl_engine_create(&engine, dnnl_cpu, 0) == dnnl_success &&
                             dnnl_stream_create(&stream, engine,
                                                dnnl_stream_default_flags) ==
                                 dnnl_success
                         ? 1
                         : -1;
    }
    return init_state == 1;
}

static const char *isa_name(dnnl_cpu_isa_t isa)
{
    switch (isa) {
    case dnnl_cpu_isa_sse41: return "sse41";
    case dnnl_cpu_isa_avx: return "avx";
    case dnnl_cpu_isa_avx2: return "avx2";
    case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni";
    case dnnl_cpu_isa_avx512_core: return "avx512_core";
    case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni";
    case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16";
    case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx";
    default: return "other";
    }
}

void peer_onednn_context(void)
{
    init(); /* threads first: before any other oneDNN call */
    const dnnl_version_t *v = dnnl_version();
    char buf[64];
    snprintf(buf, sizeof buf, "%d.%d.%d", v->major, v->minor, v->patch);
    smxb_add_context("onednn_version", buf);
    smxb_add_context("onednn_isa", isa_name(dnnl_get_effective_cpu_isa()));
#if SMXB_HAVE_OPENMP
    smxb_add_context("onednn_threads", "1 (omp_set_num_threads)");
#else
    smxb_add_context("onednn_threads", "OMP_NUM_THREADS / affinity only");
#endif
}

void peer_onednn_shutdown(void)
{
    if (init_state == 1) {
        dnnl_stream_destroy(stream);
        dnnl_engine_destroy(engine);
    }
    init_state = 0;
}

typedef struct dnnl_case {
    bench_op op;
    const bench_shape *sh;
} dnnl_case;

/* Everything one case creates; released by release(). */
typedef struct prims {
    dnnl_primitive_desc_t fwd_pd, bwd_pd;
    dnnl_primitive_t prim;
    size_t nmem;
    dnnl_memory_t *mem;  /* 3 per set */
    dnnl_exec_arg_t *args; /* 3 per set */
} prims;

static void release(prims *p)
{
    for (size_t i = 0; i < p->nmem; i++)
        dnnl_memory_destroy(p->mem[i]);
    free(p->mem);
    free(p->args);
    if (p->prim)
        dnnl_primitive_destroy(p->prim);
    if (p->bwd_pd)
        dnnl_primitive_desc_destroy(p->bwd_pd);
    if (p->fwd_pd)
        dnnl_primitive_desc_destroy(p->fwd_pd);
}

static int is_backward(bench_op op)
{
    return op == OP_SOFTMAX_VJP || op == OP_LOG_SOFTMAX_VJP;
}

/* Creates the primitive and wraps every rotation set in oneDNN memories. */
static dnnl_status_t setup(prims *p, bench_op op, const bench_data *d)
{
    dnnl_dims_t dims = {(dnnl_dim_t)d->rows, (dnnl_dim_t)d->cols};
    dnnl_memory_desc_t md;
    dnnl_softmax_v2_desc_t fd, bd;
    dnnl_alg_kind_t alg = op == OP_LOG_SOFTMAX || op == OP_LOG_SOFTMAX_VJP
                              ? dnnl_softmax_log
                              : dnnl_softmax_accurate;
    int bwd = is_backward(op);
    dnnl_status_t e;

#define TRY(call)                                                             \
    if ((e = (call)) != dnnl_success)                                         \
    return e
    TRY(dnnl_memory_desc_init_by_tag(&md, 2, dims, dnnl_f32, dnnl_ab));
    /* Backward needs a training forward descriptor as its hint. */
    TRY(dnnl_softmax_v2_forward_desc_init(
        &fd, bwd ? dnnl_forward_training : dnnl_forward_inference, alg, &md,
        &md, 1));
    TRY(dnnl_primitive_desc_create(&p->fwd_pd, &fd, NULL, engine, NULL));
    if (bwd) {
        TRY(dnnl_softmax_v2_backward_desc_init(&bd, alg, &md, &md, &md, 1));
        TRY(dnnl_primitive_desc_create(&p->bwd_pd, &bd, NULL, engine, p->fwd_pd));
    }
    TRY(dnnl_primitive_create(&p->prim, bwd ? p->bwd_pd : p->fwd_pd));

    p->mem = calloc(3 * d->nsets, sizeof *p->mem);
    p->args = calloc(3 * d->nsets, sizeof *p->args);
    if (!p->mem || !p->args)
        return dnnl_out_of_memory;
    for (size_t k = 0; k < d->nsets; k++) {
        const bench_set *s = &d->sets[k];
        /* forward: SRC x -> DST y; backward: DST y, DIFF_DST g -> DIFF_SRC */
        int ids[3] = {bwd ? DNNL_ARG_DST : DNNL_ARG_SRC,
                      bwd ? DNNL_ARG_DIFF_DST : DNNL_ARG_DST, DNNL_ARG_DIFF_SRC};
        float *ptrs[3] = {s->a, bwd ? s->b : s->out, s->out};
        for (int i = 0; i < (bwd ? 3 : 2); i++) {
            TRY(dnnl_memory_create(&p->mem[p->nmem], &md, engine, ptrs[i]));
            p->args[3 * k + (size_t)i] =
                (dnnl_exec_arg_t){ids[i], p->mem[p->nmem]};
            p->nmem++;
        }
    }
    return dnnl_success;
#undef TRY
}

static dnnl_status_t execute(const prims *p, int nargs, size_t k)
{
    dnnl_status_t e = dnnl_primitive_execute(p->prim, stream, nargs, &p->args[3 * k]);
    return e == dnnl_success ? dnnl_stream_wait(stream) : e;
}

/* Compares row 0 of set 0 with libsmxkern, so a miswired peer shows. */
static const char *check_against_lib(bench_op op, const bench_data *d)
{
    float *ref = malloc(d->cols * sizeof *ref);
    if (!ref)
        return "out of memory";
    bench_set row = d->sets[0];
    row.out = ref;
    bench_data one = {1, d->cols, 1, &row};
    const char *why = NULL;
    if (bench_ops[op].run(&one, &row) != SMX_OK)
        why = "libsmxkern reference failed";
    for (size_t j = 0; j < d->cols && !why; j++) {
        float got = d->sets[0].out[j];
        if (!(fabsf(got - ref[j]) <= 1e-4f * (1.0f + fabsf(ref[j]))))
            why = "oneDNN result differs from libsmxkern";
    }
    free(ref);
    return why;
}

static void bm_dnnl(smxb_state *st, void *arg)
{
    const dnnl_case *c = arg;
    const bench_op_info *op = &bench_ops[c->op];
    if (!init()) {
        smxb_skip(st, "oneDNN CPU engine unavailable");
        return;
    }
    const bench_data *d = bench_data_get(op->inputs, c->sh, op->bytes_per_elem);
    if (!d) {
        smxb_skip(st, "out of memory");
        return;
    }
    prims p = {0};
    int nargs = is_backward(c->op) ? 3 : 2;
    dnnl_status_t e = setup(&p, c->op, d);
    if (e == dnnl_success)
        e = execute(&p, nargs, 0); /* untimed: proves it works, for the check */
    const char *why = e != dnnl_success ? "oneDNN setup or execution failed"
                                        : check_against_lib(c->op, d);
    if (why) {
        release(&p);
        smxb_skip(st, why);
        return;
    }

    size_t k = 0;
    while (smxb_keep_running(st)) {
        dnnl_status_t r = execute(&p, nargs, k);
        if (r != dnnl_success)
            e = r;
        if (++k == d->nsets)
            k = 0;
    }
    if (e != dnnl_success)
        smxb_skip(st, "oneDNN execution failed");
    bench_set_counters(st, c->sh, op->bytes_per_elem, d->nsets);
    release(&p);
}

static dnnl_case cases[4 * 16];
static size_t ncases;

void peer_onednn_register(bench_op op, const bench_shape *sh)
{
    if (op != OP_SOFTMAX && op != OP_LOG_SOFTMAX && !is_backward(op))
        return;
    if (ncases == sizeof cases / sizeof cases[0])
        abort(); /* more shapes than room: a programming error */
    dnnl_case *c = &cases[ncases++];
    *c = (dnnl_case){op, sh};
    bench_register_case(op, "onednn", sh, bm_dnnl, c);
}
