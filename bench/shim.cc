/* SPDX-License-Identifier: MIT */
/* The C API of shim.h over Google Benchmark. The opaque C types are the C++
 * objects themselves, cast at the boundary. */
#include "shim.h"

#include <benchmark/benchmark.h>

namespace {

benchmark::State &S(smxb_state *st) { return *reinterpret_cast<benchmark::State *>(st); }
const benchmark::State &S(const smxb_state *st)
{
    return *reinterpret_cast<const benchmark::State *>(st);
}
benchmark::internal::Benchmark &B(smxb_bench *b)
{
    return *reinterpret_cast<benchmark::internal::Benchmark *>(b);
}

} // namespace

extern "C" {

smxb_bench *smxb_register(const char *name, smxb_fn fn, void *arg)
{
    benchmark::internal::Benchmark *b = benchmark::RegisterBenchmark(
        name, [fn, arg](benchmark::State &st) {
            fn(reinterpret_cast<smxb_state *>(&st), arg);
        });
    return reinterpret_cast<smxb_bench *>(b);
}

void smxb_bench_unit(smxb_bench *b, smxb_unit unit)
{
    static const benchmark::TimeUnit units[] = {
        benchmark::kNanosecond, benchmark::kMicrosecond,
        benchmark::kMillisecond, benchmark::kSecond};
    B(b).Unit(units[unit]);
}

void smxb_bench_min_time(smxb_bench *b, double seconds) { B(b).MinTime(seconds); }

int smxb_keep_running(smxb_state *st) { return S(st).KeepRunning() ? 1 : 0; }

int64_t smxb_iterations(const smxb_state *st) { return S(st).iterations(); }

void smxb_set_bytes_processed(smxb_state *st, int64_t bytes)
{
    S(st).SetBytesProcessed(bytes);
}

void smxb_set_items_processed(smxb_state *st, int64_t items)
{
    S(st).SetItemsProcessed(items);
}

void smxb_counter(smxb_state *st, const char *name, double value, int is_rate)
{
    S(st).counters[name] = benchmark::Counter(
        value, is_rate ? benchmark::Counter::kIsRate : benchmark::Counter::kDefaults);
}

void smxb_set_label(smxb_state *st, const char *label) { S(st).SetLabel(label); }

void smxb_skip(smxb_state *st, const char *reason) { S(st).SkipWithError(reason); }

void smxb_clobber_memory(void) { benchmark::ClobberMemory(); }

void smxb_add_context(const char *key, const char *value)
{
    benchmark::AddCustomContext(key, value);
}

int smxb_main(int argc, char **argv)
{
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv))
        return 1;
    // 0 benchmarks: the filter matched nothing (or was invalid). Fail, so
    // scripts do not go on with an empty result file.
    size_t n = benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return n == 0 ? 1 : 0;
}

} // extern "C"
