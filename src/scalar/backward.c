/* SPDX-License-Identifier: MIT */
/* JVPs and VJPs, taken at the forward OUTPUT y (never at the logits). */
#include <math.h>

#include "scalar.h"

void smx_softmax_jvp_scalar(size_t rows, size_t cols, const float *y0,
                               size_t ldy, const float *v0, size_t ldv,
                               float *out0, size_t ldo)
{
    for (size_t r = 0; r < rows; r++) {
        const float *y = y0 + r * ldy, *v = v0 + r * ldv;
        float *out = out0 + r * ldo;
        double dot = 0.0; /* <y, v> */
        for (size_t i = 0; i < cols; i++)
            dot += (double)y[i] * (double)v[i];
        for (size_t i = 0; i < cols; i++)
            out[i] = (float)((double)y[i] * ((double)v[i] - dot));
    }
}

void smx_log_softmax_jvp_scalar(size_t rows, size_t cols, const float *y0,
                                   size_t ldy, const float *v0, size_t ldv,
                                   float *out0, size_t ldo)
{
    for (size_t r = 0; r < rows; r++) {
        const float *y = y0 + r * ldy, *v = v0 + r * ldv;
        float *out = out0 + r * ldo;
        double dot = 0.0; /* <exp(y), v> */
        for (size_t i = 0; i < cols; i++)
            dot += exp((double)y[i]) * (double)v[i];
        for (size_t i = 0; i < cols; i++)
            out[i] = (float)((double)v[i] - dot);
    }
}

void smx_log_softmax_vjp_scalar(size_t rows, size_t cols, const float *y0,
                                   size_t ldy, const float *g0, size_t ldg,
                                   float *out0, size_t ldo)
{
    for (size_t r = 0; r < rows; r++) {
        const float *y = y0 + r * ldy, *g = g0 + r * ldg;
        float *out = out0 + r * ldo;
        double sum_g = 0.0;
        for (size_t i = 0; i < cols; i++)
            sum_g += (double)g[i];
        for (size_t i = 0; i < cols; i++)
            out[i] = (float)((double)g[i] - exp((double)y[i]) * sum_g);
    }
}
