/* SPDX-License-Identifier: MIT */
/* y[i] = exp_nonpos(x[i]) or exp_any(x[i]) of one ISA's kernels, for n a
 * multiple of the vector length. */
#ifndef SMX_EXP_PROBE_H
#define SMX_EXP_PROBE_H

#include <stddef.h>

typedef void (*exp_probe_fn)(const float *x, float *y, size_t n, int any);

#define PROBE_DEFINE(isa)                                                    \
    void exp_probe_##isa(const float *x, float *y, size_t n, int any);       \
    void exp_probe_##isa(const float *x, float *y, size_t n, int any)        \
    {                                                                        \
        for (size_t i = 0; i < n; i += VLEN)                                 \
            vstore(y + i, any ? exp_any(vload(x + i)) : exp_nonpos(vload(x + i))); \
    }

void exp_probe_avx2(const float *x, float *y, size_t n, int any);
void exp_probe_avx512(const float *x, float *y, size_t n, int any);
void exp_probe_neon(const float *x, float *y, size_t n, int any);

#endif
