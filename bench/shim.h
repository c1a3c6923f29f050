/* SPDX-License-Identifier: MIT */
/*
 * A C API over Google Benchmark (1.7.x), so the cases can be written in C.
 * It knows nothing about softmax. Typical case:
 *
 *   static void bm(smxb_state *st, void *arg) {
 *       ...allocate, warm up, check...          (not timed)
 *       while (smxb_keep_running(st)) kernel(...);
 *       smxb_set_bytes_processed(st, smxb_iterations(st) * bytes_per_call);
 *       ...free...
 *   }
 *   smxb_register("kernel/1x64", bm, arg);
 *
 * The case function is called several times (Google Benchmark first
 * estimates the iteration count), so expensive setup belongs in a cache.
 */
#ifndef SMXB_SHIM_H
#define SMXB_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct smxb_state smxb_state; /* benchmark::State */
typedef struct smxb_bench smxb_bench; /* benchmark::internal::Benchmark */
typedef void (*smxb_fn)(smxb_state *st, void *arg);

typedef enum smxb_unit { SMXB_NS, SMXB_US, SMXB_MS, SMXB_S } smxb_unit;

/* Registers `fn(st, arg)` as the benchmark `name` (copied). The returned
 * handle sets per-benchmark options; it lives until the program exits. */
smxb_bench *smxb_register(const char *name, smxb_fn fn, void *arg);
void smxb_bench_unit(smxb_bench *b, smxb_unit unit);
/* Overrides --benchmark_min_time for this benchmark (seconds). */
void smxb_bench_min_time(smxb_bench *b, double seconds);

/* The timing loop: nonzero while more iterations are wanted. Costs one
 * out-of-line call per iteration (~1 ns), negligible beside a kernel call. */
int smxb_keep_running(smxb_state *st);
int64_t smxb_iterations(const smxb_state *st);

/* Totals over all iterations; reported as rates (bytes/s, items/s). */
void smxb_set_bytes_processed(smxb_state *st, int64_t bytes);
void smxb_set_items_processed(smxb_state *st, int64_t items);
/* A user counter; with is_rate != 0 it is divided by the elapsed time. */
void smxb_counter(smxb_state *st, const char *name, double value, int is_rate);
void smxb_set_label(smxb_state *st, const char *label);
/* Marks the run as skipped with `reason`: call before the timing loop (then
 * smxb_keep_running returns 0) and return. 1.7 only has SkipWithError, so
 * the JSON shows error_occurred with the reason as error_message. */
void smxb_skip(smxb_state *st, const char *reason);

/* A compiler barrier: memory writes before it are not optimized away. */
void smxb_clobber_memory(void);

/* A key/value pair for the "context" block of the output. */
void smxb_add_context(const char *key, const char *value);

/* Parses --benchmark_* flags, runs the selected benchmarks. Returns 0, or 1
 * on an unrecognized argument or when no benchmark matched the filter. */
int smxb_main(int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif /* SMXB_SHIM_H */
