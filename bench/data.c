/* SPDX-License-Identifier: MIT */
/* Shapes, seeded random inputs and the rotation sets that keep large
 * working sets out of cache. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* The shapes users care about: in L1, in L2, LLM vocabularies and
 * attention rows (cache-resident in use: their working sets fit the L3),
 * and two that claim to be out of cache and are measured that way. */
const bench_shape bench_shapes[] = {
    {1, 64, "1x64", 0},           {1, 1000, "1x1000", 0},
    {64, 1000, "64x1000", 0},     {1, 32000, "1x32000", 0},
    {8, 32000, "8x32000", 0},     {8, 128256, "8x128256", 0},
    {4096, 128, "4096x128", 0},   {1024, 1024, "1024x1024", 0},
    {1, 4194304, "1x4194304", 1}, {256, 32000, "256x32000", 1},
    {4096, 8, "4096x8", 0}, /* a router over 8 experts: packed short rows */
};
const size_t bench_nshapes = sizeof bench_shapes / sizeof bench_shapes[0];

/* Out-of-cache shapes rotate over enough buffer sets that every call starts
 * from memory: at least 128 MiB (a 32 MiB L3 four times over), and twice
 * the last-level cache where it is larger (server parts: hundreds of MiB). */
#define ROTATE_MIN ((size_t)128 << 20)
#define LOGIT_SIGMA 3.0

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]: never 0, so log() below is finite. */
static double uniform01(uint64_t *s)
{
    return (double)((splitmix64(s) >> 11) + 1) * 0x1.0p-53;
}

/* Normal(0, sigma) by Box-Muller, both outputs used. */
static void fill_normal(float *x, size_t n, double sigma, uint64_t seed)
{
    const double two_pi = 6.283185307179586;
    for (size_t i = 0; i < n; i += 2) {
        double r = sigma * sqrt(-2.0 * log(uniform01(&seed)));
        double t = two_pi * uniform01(&seed);
        x[i] = (float)(r * cos(t));
        if (i + 1 < n)
            x[i + 1] = (float)(r * sin(t));
    }
}

static void *alloc_floats(size_t n)
{
    /* 64-byte aligned, size rounded up as aligned_alloc requires. */
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes ? bytes : 64);
}

static struct {
    bench_inputs in;
    const bench_shape *sh;
    bench_data d;
} cache;

void bench_data_release(void)
{
    for (size_t k = 0; k < cache.d.nsets; k++) {
        bench_set *s = &cache.d.sets[k];
        free(s->a);
        free(s->b);
        free(s->out);
        free(s->row_out);
        free(s->targets);
    }
    free(cache.d.sets);
    memset(&cache, 0, sizeof cache);
}

/* The last-level cache in bytes as the OS reports it, 0 if unknown */
static size_t llc_bytes(void)
{
    long b = 0;
#ifdef _SC_LEVEL3_CACHE_SIZE
    b = sysconf(_SC_LEVEL3_CACHE_SIZE);
#endif
    if (b <= 0) { /* Linux without glibc's figure: sysfs, "<n>K" */
        FILE *f = fopen("/sys/devices/system/cpu/cpu0/cache/index3/size", "r");
        char unit = 0;
        if (f && fscanf(f, "%ld%c", &b, &unit) >= 1)
            b *= unit == 'K' ? 1024 : unit == 'M' ? 1024 * 1024 : 1;
        else
            b = 0;
        if (f)
            fclose(f);
    }
    return b > 0 ? (size_t)b : 0;
}

static size_t rotate_total(void)
{
    static size_t total;
    if (!total) {
        const size_t llc2 = 2 * llc_bytes();
        total = llc2 > ROTATE_MIN ? llc2 : ROTATE_MIN;
    }
    return total;
}

static size_t nsets_for(const bench_shape *sh, size_t working_set)
{
    if (!sh->out_of_cache)
        return 1;
    size_t n = (rotate_total() + working_set - 1) / working_set;
    return n < 2 ? 2 : n;
}

/* Fills set 0: fresh data per shape, the same for every op and ISA. */
static int fill_first(bench_inputs in, const bench_shape *sh, bench_set *s)
{
    size_t rows = sh->rows, cols = sh->cols, n = rows * cols;
    uint64_t seed = 0x5eed0000u ^ (rows * 0x100000001b3u) ^ (cols << 20);

    fill_normal(s->a, n, LOGIT_SIGMA, seed);
    switch (in) {
    case IN_LOGITS: break;
    case IN_PROBS_V:
    case IN_LOGPROBS_V:
        /* y must be a real forward output: backward kernels assume it. */
        if ((in == IN_PROBS_V ? smx_softmax_f32 : smx_log_softmax_f32)(
                rows, cols, s->a, cols, s->a, cols) != SMX_OK)
            return 0;
        fill_normal(s->b, n, 1.0, seed + 1);
        break;
    case IN_LOGITS_TARGETS:
        for (size_t r = 0; r < rows; r++) {
            uint64_t t = seed + 2 + r;
            s->targets[r] = (int32_t)(splitmix64(&t) % cols);
        }
        break;
    case IN_LOGITS_PROBS:
        fill_normal(s->b, n, LOGIT_SIGMA, seed + 3);
        if (smx_softmax_f32(rows, cols, s->b, cols, s->b, cols) != SMX_OK)
            return 0;
        break;
    }
    return 1;
}

const bench_data *bench_data_get(bench_inputs in, const bench_shape *sh,
                                 unsigned bytes_per_elem)
{
    size_t rows = sh->rows, cols = sh->cols, n = rows * cols;
    size_t nsets = nsets_for(sh, bytes_per_elem * n);
    if (cache.sh == sh && cache.in == in && cache.d.nsets == nsets)
        return &cache.d;
    bench_data_release();

    int has_b = in == IN_PROBS_V || in == IN_LOGPROBS_V || in == IN_LOGITS_PROBS;
    cache.d.sets = calloc(nsets, sizeof *cache.d.sets);
    if (!cache.d.sets)
        return NULL;
    cache.d.nsets = nsets;
    for (size_t k = 0; k < nsets; k++) {
        bench_set *s = &cache.d.sets[k];
        s->a = alloc_floats(n);
        s->b = has_b ? alloc_floats(n) : NULL;
        s->out = alloc_floats(n);
        s->row_out = alloc_floats(rows);
        s->targets = calloc(rows, sizeof *s->targets);
        if (!s->a || (has_b && !s->b) || !s->out || !s->row_out || !s->targets)
            goto fail;
        /* Touch the outputs now: no page faults inside the timing loop. */
        memset(s->out, 0, n * sizeof(float));
        memset(s->row_out, 0, rows * sizeof(float));
        if (k == 0) {
            if (!fill_first(in, sh, s))
                goto fail;
            continue;
        }
        /* Later sets: the same values at other addresses. */
        memcpy(s->a, cache.d.sets[0].a, n * sizeof(float));
        if (has_b)
            memcpy(s->b, cache.d.sets[0].b, n * sizeof(float));
        memcpy(s->targets, cache.d.sets[0].targets, rows * sizeof *s->targets);
    }
    cache.in = in;
    cache.sh = sh;
    cache.d.rows = rows;
    cache.d.cols = cols;
    return &cache.d;
fail:
    bench_data_release();
    return NULL;
}

void bench_set_counters(smxb_state *st, const bench_shape *sh,
                        unsigned bytes_per_elem, size_t nsets)
{
    int64_t elems = (int64_t)(sh->rows * sh->cols) * smxb_iterations(st);
    smxb_set_items_processed(st, elems);
    smxb_set_bytes_processed(st, elems * (int64_t)bytes_per_elem);
    smxb_counter(st, "sets", (double)nsets, 0);
}
