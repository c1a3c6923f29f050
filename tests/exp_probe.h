/* SPDX-License-Identifier: MIT */
/* y[i] = exp_nonpos(x[i]) or exp_any(x[i]) of one ISA's kernels, for n a
 * multiple of the vector length; and their scalar log_inline (src/simd/log.h)
 * as compiled with that ISA's flags (which decide multiply-add contraction). */
#ifndef SMX_EXP_PROBE_H
#define SMX_EXP_PROBE_H

#include <stddef.h>

typedef void (*exp_probe_fn)(const float *x, float *y, size_t n, int any);
typedef double (*log_probe_fn)(double x);

#define PROBE_DEFINE(isa)                                                    \
    void exp_probe_##isa(const float *x, float *y, size_t n, int any);       \
    void exp_probe_##isa(const float *x, float *y, size_t n, int any)        \
    {                                                                        \
        for (size_t i = 0; i < n; i += VLEN)                                 \
            vstore(y + i, any ? exp_any(vload(x + i)) : exp_nonpos(vload(x + i))); \
    }                                                                        \
    double log_probe_##isa(double x);                                        \
    double log_probe_##isa(double x) { return log_inline(x); }

/* y[i] = vlog_pos(x[i]) (src/simd/log.h; x86 only), n a multiple of VLEN */
typedef void (*vlog_probe_fn)(const float *x, float *y, size_t n);
#define PROBE_DEFINE_VLOG(isa)                                               \
    void vlog_probe_##isa(const float *x, float *y, size_t n);               \
    void vlog_probe_##isa(const float *x, float *y, size_t n)                \
    {                                                                        \
        for (size_t i = 0; i < n; i += VLEN)                                 \
            vstore(y + i, vlog_pos(vload(x + i)));                           \
    }

void vlog_probe_avx2(const float *x, float *y, size_t n);
void vlog_probe_avx512(const float *x, float *y, size_t n);
void exp_probe_avx2(const float *x, float *y, size_t n, int any);
void exp_probe_avx512(const float *x, float *y, size_t n, int any);
void exp_probe_neon(const float *x, float *y, size_t n, int any);
double log_probe_avx2(double x);
double log_probe_avx512(double x);
double log_probe_neon(double x);

#endif
