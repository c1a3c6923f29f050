/* SPDX-License-Identifier: MIT */
/*
 * The kernel table: the one interface between the API layer (api.c, which
 * validates arguments) and the per-ISA kernels (which trust them).
 *
 * Preconditions every kernel may rely on, established by api.c:
 * rows >= 1, cols >= 1, every pointer it is given for reading or writing is
 * valid for the strided extent, strides >= cols, outputs alias inputs only
 * exactly (same pointer, same stride), class targets are in [0, cols) or
 * equal to ignore_index, options are in range.
 */
#ifndef SMX_KERNELS_H
#define SMX_KERNELS_H

/* Inlining where it is measured to matter (kernels, argument checks) */
#if defined(__GNUC__) || defined(__clang__)
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define NOINLINE __attribute__((noinline))
#else
#define ALWAYS_INLINE inline
#define NOINLINE
#endif

#include "smxkern.h"

/* Cross-entropy options after validation and defaulting. */
typedef struct smx_xent_params {
    int32_t ignore_index;
    float smoothing;  /* e in [0, 1] */
    float grad_scale; /* finite */
} smx_xent_params;

typedef void (*smx_rowwise_fn)(size_t rows, size_t cols,
                               const float *x, size_t ldx,
                               float *y, size_t ldy);
typedef void (*smx_reduce_fn)(size_t rows, size_t cols,
                              const float *x, size_t ldx, float *out);
typedef void (*smx_backward_fn)(size_t rows, size_t cols,
                                const float *y, size_t ldy,
                                const float *v, size_t ldv,
                                float *out, size_t ldo);
typedef void (*smx_xent_fn)(size_t rows, size_t cols,
                            const float *z, size_t ldz,
                            const int32_t *targets,
                            const smx_xent_params *prm,
                            float *loss, float *grad, size_t ldg);
typedef void (*smx_xent_soft_fn)(size_t rows, size_t cols,
                                 const float *z, size_t ldz,
                                 const float *p, size_t ldp,
                                 const smx_xent_params *prm,
                                 float *loss, float *grad, size_t ldg);

typedef struct smx_kernels {
    smx_isa isa;
    smx_rowwise_fn softmax;
    smx_rowwise_fn log_softmax;
    smx_reduce_fn logsumexp;
    smx_backward_fn softmax_jvp; /* also the VJP: J(y) is symmetric */
    smx_backward_fn log_softmax_jvp;
    smx_backward_fn log_softmax_vjp;
    smx_xent_fn xent;       /* loss or grad may be NULL, not both */
    smx_xent_soft_fn xent_soft;
} smx_kernels;

/* One table per ISA, each defined next to its kernels. */
extern const smx_kernels smx_kernels_scalar;
#if SMX_HAVE_AVX2
extern const smx_kernels smx_kernels_avx2;
#endif
#if SMX_HAVE_AVX512
extern const smx_kernels smx_kernels_avx512;
#endif
#if SMX_HAVE_NEON
extern const smx_kernels smx_kernels_neon;
#endif

/* Softmax with SLEEF's vector exp instead of the inline one, per ISA: not
 * in any table; the bench suite measures it so the choice stays measured. */
#if SMX_HAVE_AVX2
void smx_softmax_sleef_avx2(size_t rows, size_t cols, const float *x,
                            size_t ldx, float *y, size_t ldy);
#endif
#if SMX_HAVE_AVX512
void smx_softmax_sleef_avx512(size_t rows, size_t cols, const float *x,
                              size_t ldx, float *y, size_t ldy);
#endif
#if SMX_HAVE_NEON
void smx_softmax_sleef_neon(size_t rows, size_t cols, const float *x,
                            size_t ldx, float *y, size_t ldy);
#endif

/* The table in use (dispatch.c): one atomic load after first use. */
const smx_kernels *smx_active_kernels(void);

#endif /* SMX_KERNELS_H */
