/* SPDX-License-Identifier: MIT */
/* Shared pieces of smxbench: shapes, the per-operation table, input data. */
#ifndef SMXB_BENCH_H
#define SMXB_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include "shim.h"
#include "smxkern.h"

typedef struct bench_shape {
    size_t rows, cols;
    const char *name;  /* "ROWSxCOLS", as in benchmark names */
    int out_of_cache;  /* measured from memory: buffers rotate */
} bench_shape;

extern const bench_shape bench_shapes[];
extern const size_t bench_nshapes;

/* How a case's inputs are made. */
typedef enum bench_inputs {
    IN_LOGITS,         /* a = x */
    IN_PROBS_V,        /* a = softmax(x), b = v (or g) */
    IN_LOGPROBS_V,     /* a = log_softmax(x), b = v (or g) */
    IN_LOGITS_TARGETS, /* a = x, targets = class indices */
    IN_LOGITS_PROBS    /* a = x, b = p = softmax(x'), soft labels */
} bench_inputs;

/* One rotation set: separate buffers for inputs and outputs. */
typedef struct bench_set {
    float *a, *b;     /* rows x cols inputs (b NULL when unused) */
    float *out;       /* rows x cols output */
    float *row_out;   /* rows floats: logsumexp or loss */
    int32_t *targets; /* rows class indices (IN_LOGITS_TARGETS) */
} bench_set;

typedef struct bench_data {
    size_t rows, cols; /* contiguous: every leading dimension is cols */
    size_t nsets;
    bench_set *sets;
} bench_data;

typedef enum bench_op {
    OP_SOFTMAX,
    OP_LOG_SOFTMAX,
    OP_LOGSUMEXP,
    OP_SOFTMAX_JVP,
    OP_SOFTMAX_VJP,
    OP_LOG_SOFTMAX_JVP,
    OP_LOG_SOFTMAX_VJP,
    OP_CROSS_ENTROPY,
    OP_CROSS_ENTROPY_SOFT,
    OP_SOFTMAX_SLEEF, /* softmax with SLEEF's exp: the inline exp's rival */
    OP_COUNT
} bench_op;

typedef struct bench_op_info {
    const char *name;
    /* Bytes of memory traffic per element, the basis of bytes/s. */
    unsigned bytes_per_elem;
    bench_inputs inputs;
    /* One libsmxkern call on one set (rows x cols of `d`). */
    smx_status (*run)(const bench_data *d, const bench_set *s);
} bench_op_info;

/* THE table of operations (cases.c). */
extern const bench_op_info bench_ops[OP_COUNT];

/* Bytes per element of the memcpy reference: a forward op's (x in, y out). */
#define BENCH_MEMCPY_BYTES_PER_ELEM 8u
/* out = a + b: the two-read-one-write floor of the JVPs and VJPs */
#define BENCH_ADD_BYTES_PER_ELEM 12u

/* The inputs of kind `in` at `sh`, in enough rotation sets that a working
 * set of bytes_per_elem * rows * cols bytes is not served from cache. The
 * data stays cached until a different request (or bench_data_release), so
 * consecutive cases of one shape share it and Google Benchmark's repeated
 * calls of one case build it once. NULL if out of memory. */
const bench_data *bench_data_get(bench_inputs in, const bench_shape *sh,
                                 unsigned bytes_per_elem);
void bench_data_release(void);

/* Sets bytes/s, elements/s and the rotation-set count of a finished run. */
void bench_set_counters(smxb_state *st, const bench_shape *sh,
                        unsigned bytes_per_elem, size_t nsets);

/* Registers fn(st, arg) as <op>/<impl>/<shape>, the name the report
 * parses, timed in microseconds (cases.c; the peers use it too). */
void bench_register_case(bench_op op, const char *impl, const bench_shape *sh,
                         smxb_fn fn, void *arg);

/* Registers memcpy/<shape> and <op>/<isa>/<shape> for every ISA (cases.c). */
void bench_register_memcpy(const bench_shape *sh);
void bench_register_add(const bench_shape *sh);
void bench_register_lib(bench_op op, const bench_shape *sh);

/* Why `isa` cannot be benchmarked here, or NULL if it can. */
const char *bench_isa_skip_reason(smx_isa isa);

#if SMXB_HAVE_ONEDNN
/* oneDNN peer cases (peer_onednn.c): <op>/onednn/<shape> for the ops oneDNN
 * has; nothing for the others. */
void peer_onednn_register(bench_op op, const bench_shape *sh);
void peer_onednn_context(void);
void peer_onednn_shutdown(void);
#endif

#if SMXB_HAVE_PYTORCH
/* PyTorch peer cases (peer_pytorch.cc, through libtorch's ATen):
 * <op>/pytorch/<shape> for the ops PyTorch has kernels for. The context
 * call sets its thread count: call it before the first case runs. */
void peer_pytorch_register(bench_op op, const bench_shape *sh);
void peer_pytorch_context(void);
#endif

#endif /* SMXB_BENCH_H */
