/* SPDX-License-Identifier: MIT */
/*
 * libsmxkern: softmax-family kernels for f32, batched, strided, with runtime
 * CPU dispatch. This is the only public header.
 *
 * Conventions shared by every operation
 * -------------------------------------
 * - An operand is a batch of `rows` independent rows of `cols` floats,
 *   row-major; row r of operand `x` starts at x + r * ldx. Strides (`ld*`)
 *   are counted in elements and must be >= cols. No alignment is required.
 * - Every entry point returns an smx_status and never aborts. On any error
 *   nothing is written to any output.
 * - rows == 0 or cols == 0 is a valid no-op: nothing is read or written
 *   (smx_logsumexp_f32 with cols == 0 writes -inf, the log-sum-exp of an
 *   empty row, to each of its `rows` outputs).
 * - A pointer is needed (SMX_E_NULL if NULL) whenever the call would read or
 *   write through it. The stride of an operand passed as NULL is ignored.
 * - An output may alias an input exactly (same pointer and same stride, or
 *   same pointer and rows == 1): in-place softmax, in-place JVP, the
 *   cross-entropy gradient written over the logits. Any other overlap
 *   between an output and an input, or between two outputs, is
 *   SMX_E_OVERLAP. Interleaved views (e.g. two column ranges of one padded
 *   buffer) do not overlap and are accepted.
 * - Calls are thread-safe and reentrant; the library allocates no memory.
 *
 * Numerical semantics, identical on every ISA
 * -------------------------------------------
 * For a row x with maximum m and d_i = x_i - m:
 * - Stable for every finite input: the max is subtracted first, so there is
 *   no overflow or NaN for values up to +-FLT_MAX, and softmax(x + c) equals
 *   softmax(x) up to rounding.
 * - -inf entries get probability 0. A row that is entirely -inf (a fully
 *   masked attention row) gives softmax 0 everywhere, log-softmax -inf and
 *   logsumexp -inf: never NaN.
 * - +inf entries: the mathematical limit. The k entries equal to +inf share
 *   probability 1/k and the others get 0; log-softmax is -log(k) for them and
 *   -inf for the others; logsumexp is +inf.
 * - A NaN anywhere in a row makes every result of that row NaN; other rows
 *   are untouched.
 * - Accuracy on every ISA, per element, against exact arithmetic:
 *   probabilities within 2^-20 * (1 + |d_i|) relative plus 2^-126 absolute;
 *   log-domain values (log-softmax, logsumexp, losses) within
 *   2^-20 * (1 + |d_i| + |result|) absolute; values formed as a sum of
 *   terms (JVPs, VJPs, gradients) within 2^-20 times the sum of the absolute
 *   values of those terms (a term holding a probability counts with its
 *   1 + |d_i| factor). This holds for rows of up to 2^20 elements.
 */
#ifndef SMXKERN_H
#define SMXKERN_H

#include <stddef.h>
#include <stdint.h>

#define SMX_VERSION_MAJOR 0
#define SMX_VERSION_MINOR 1
#define SMX_VERSION_PATCH 0
/* One comparable number: 10000 * major + 100 * minor + patch. */
#define SMX_VERSION_NUMBER \
    (SMX_VERSION_MAJOR * 10000 + SMX_VERSION_MINOR * 100 + SMX_VERSION_PATCH)

#if defined(_WIN32) && defined(SMX_BUILDING_DLL)
#define SMX_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define SMX_API __attribute__((visibility("default")))
#else
#define SMX_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef enum smx_status {
    SMX_OK = 0,
    SMX_E_NULL = 1,    /* a needed pointer is NULL */
    SMX_E_STRIDE = 2,  /* a row stride is smaller than cols (or n) */
    SMX_E_OVERLAP = 3, /* an output overlaps an input or another output,
                          other than by exact aliasing */
    SMX_E_TARGET = 4,  /* a class index outside [0, cols) that is not
                          ignore_index */
    SMX_E_ARG = 5,     /* another argument out of range: an extent that
                          overflows the address space, label_smoothing
                          outside [0, 1], a NaN or infinite option */
    SMX_E_ISA = 6      /* the requested ISA is not usable here */
} smx_status;

/* ------------------------------------------------------------------ */
/* Forward operations                                                  */
/* ------------------------------------------------------------------ */

/* y = softmax(x) per row: y_i = exp(x_i - m) / sum_j exp(x_j - m).
 * Needs x, y. Errors: SMX_E_NULL, SMX_E_STRIDE (ldx or ldy < cols),
 * SMX_E_OVERLAP, SMX_E_ARG. y == x with ldy == ldx is in place. */
SMX_API smx_status smx_softmax_f32(size_t rows, size_t cols,
                                   const float *x, size_t ldx,
                                   float *y, size_t ldy);

/* y = log_softmax(x) per row: y_i = x_i - m - log(sum_j exp(x_j - m)).
 * Arguments and errors as smx_softmax_f32. */
SMX_API smx_status smx_log_softmax_f32(size_t rows, size_t cols,
                                       const float *x, size_t ldx,
                                       float *y, size_t ldy);

/* lse[r] = log(sum_j exp(x[r][j])), computed as m + log(sum exp(x - m)).
 * lse holds `rows` contiguous floats. With cols == 0 every lse[r] is -inf
 * (lse is then needed and x is not). Errors: SMX_E_NULL, SMX_E_STRIDE,
 * SMX_E_OVERLAP (lse overlapping x), SMX_E_ARG. */
SMX_API smx_status smx_logsumexp_f32(size_t rows, size_t cols,
                                     const float *x, size_t ldx,
                                     float *lse);

/* ------------------------------------------------------------------ */
/* Backward operations (take the forward OUTPUT y, not the logits)     */
/* ------------------------------------------------------------------ */

/* Softmax JVP at the softmax output y: out = y * (v - <y, v>) per row.
 * This is J(y) v with J(y) = diag(y) - y y^T. Needs y, v, out; out may alias
 * y or v exactly. Errors: SMX_E_NULL, SMX_E_STRIDE, SMX_E_OVERLAP,
 * SMX_E_ARG. */
SMX_API smx_status smx_softmax_jvp_f32(size_t rows, size_t cols,
                                       const float *y, size_t ldy,
                                       const float *v, size_t ldv,
                                       float *out, size_t ldo);

/* Softmax VJP (softmax backward) at the softmax output y, for an upstream
 * gradient g: out = y * (g - <y, g>). J(y) is symmetric, so this equals the
 * JVP; it exists so call sites say what they mean. */
SMX_API smx_status smx_softmax_vjp_f32(size_t rows, size_t cols,
                                       const float *y, size_t ldy,
                                       const float *g, size_t ldg,
                                       float *out, size_t ldo);

/* Log-softmax JVP at the log-softmax output y (log-probabilities):
 * out = v - <exp(y), v>. Arguments and errors as smx_softmax_jvp_f32. */
SMX_API smx_status smx_log_softmax_jvp_f32(size_t rows, size_t cols,
                                           const float *y, size_t ldy,
                                           const float *v, size_t ldv,
                                           float *out, size_t ldo);

/* Log-softmax VJP (log-softmax backward) at the log-softmax output y:
 * out = g - exp(y) * sum(g). Arguments and errors as smx_softmax_jvp_f32. */
SMX_API smx_status smx_log_softmax_vjp_f32(size_t rows, size_t cols,
                                           const float *y, size_t ldy,
                                           const float *g, size_t ldg,
                                           float *out, size_t ldo);

/* ------------------------------------------------------------------ */
/* Fused cross-entropy: loss and gradient w.r.t. the logits, one call  */
/* ------------------------------------------------------------------ */

typedef struct smx_ce_opts {
    int32_t ignore_index;  /* rows whose target equals it: loss 0, grad 0 */
    float label_smoothing; /* e in [0, 1] */
    float grad_scale;      /* finite factor applied to the gradient, e.g.
                              1 / (number of non-ignored rows) for a mean */
} smx_ce_opts;

/* The defaults, as PyTorch's: ignore_index -100, no smoothing, scale 1.
 * Passing opts == NULL means these:
 *   smx_ce_opts o = SMX_CE_OPTS_DEFAULT; o.label_smoothing = 0.1f; */
#define SMX_CE_OPTS_DEFAULT {-100, 0.0f, 1.0f}

/* Cross-entropy with class-index targets, per row r with target t, smoothing
 * e and log-softmax ls = log_softmax(z):
 *   loss[r] = -(1 - e) * ls_t - (e / cols) * sum_j ls_j
 *           = (1 - e)(lse - z_t) + e (lse - mean(z))     (PyTorch's definition)
 *   grad[r] = grad_scale * (softmax(z) - (1 - e) onehot(t) - e / cols)
 * A row whose target is ignore_index gets loss 0 and a zero gradient row,
 * and its logits are not read. Edge rows follow the softmax/log-softmax
 * semantics above (e.g. a -inf target logit gives loss +inf).
 * loss (rows contiguous floats) and grad may each be NULL, not both; grad
 * may alias logits exactly (ldg == ldl). cols == 0 is a no-op.
 * Errors: SMX_E_NULL, SMX_E_STRIDE, SMX_E_OVERLAP, SMX_E_TARGET,
 * SMX_E_ARG (label_smoothing outside [0, 1] or NaN, grad_scale not finite).
 * All targets are checked before anything is written. */
SMX_API smx_status smx_cross_entropy_f32(size_t rows, size_t cols,
                                         const float *logits, size_t ldl,
                                         const int32_t *targets,
                                         const smx_ce_opts *opts,
                                         float *loss,
                                         float *grad, size_t ldg);

/* Cross-entropy with probability targets p (soft labels). With
 * q = (1 - e) p + e / cols (q = p when e == 0, as in PyTorch):
 *   loss[r] = -sum_j q_j ls_j = sum_j q_j (lse - z_j)
 *   grad[r] = grad_scale * (softmax(z) * sum(q) - q)
 * A term with q_j == 0 contributes exactly 0, even where z_j == -inf (a
 * NaN logit still makes the row's loss NaN, as everywhere). p is
 * used as given (it need not sum to 1); opts->ignore_index is not used.
 * grad may alias logits or p exactly. Other rules as smx_cross_entropy_f32. */
SMX_API smx_status smx_cross_entropy_soft_f32(size_t rows, size_t cols,
                                              const float *logits, size_t ldl,
                                              const float *p, size_t ldp,
                                              const smx_ce_opts *opts,
                                              float *loss,
                                              float *grad, size_t ldg);

/* The full n x n softmax Jacobian at the softmax OUTPUT y:
 * jac[i * ldj + j] = y_i * (delta_ij - y_j). For debugging and teaching:
 * evaluating it at the logits instead of at y is the classic backprop bug.
 * Errors: SMX_E_NULL, SMX_E_STRIDE (ldj < n), SMX_E_OVERLAP (jac overlaps
 * y), SMX_E_ARG. n == 0 is a no-op. Always computed by the scalar code. */
SMX_API smx_status smx_softmax_jacobian_f32(size_t n, const float *y,
                                            float *jac, size_t ldj);

/* ------------------------------------------------------------------ */
/* Instruction sets                                                    */
/* ------------------------------------------------------------------ */

typedef enum smx_isa {
    SMX_ISA_AUTO = 0, /* the best usable one */
    SMX_ISA_SCALAR,   /* the portable C reference */
    SMX_ISA_AVX2,     /* x86-64 AVX2 + FMA */
    SMX_ISA_AVX512,   /* x86-64 AVX-512 F/DQ/VL/BW */
    SMX_ISA_NEON      /* ARM Advanced SIMD (AArch64; ARMv7-A: + VFPv4) */
} smx_isa;

/* The ISA the kernels use now (never SMX_ISA_AUTO). */
SMX_API smx_isa smx_get_isa(void);

/* 1 if `isa` is compiled in, usable on this CPU and OS (x86: CPUID and
 * XGETBV; 32-bit ARM: AT_HWCAP, NEON and VFPv4), and not above the cap
 * set by the environment variable SMXKERN_ISA; else 0. SMX_ISA_SCALAR is
 * always supported; SMX_ISA_AUTO is reported as supported.
 *
 * SMXKERN_ISA=scalar|avx2|avx512|neon (read once, case-insensitive) names
 * the highest ISA the library may use, in the order scalar < avx2 < avx512
 * on x86 and scalar < neon on ARM. A name of another architecture allows
 * scalar only; an unknown value is ignored. */
SMX_API int smx_isa_supported(smx_isa isa);

/* Use `isa` from now on (SMX_ISA_AUTO: the best supported one again).
 * SMX_E_ISA if it is not supported; nothing is changed then. Safe to call
 * while other threads run kernels: each call uses the old or the new
 * kernel table as a whole. */
SMX_API smx_status smx_set_isa(smx_isa isa);

/* "auto", "scalar", "avx2", "avx512", "neon"; "unknown" otherwise. */
SMX_API const char *smx_isa_name(smx_isa isa);

/* A static English description of a status code. */
SMX_API const char *smx_strerror(smx_status s);

/* The library's version as "MAJOR.MINOR.PATCH" (of the library that is
 * loaded, which may differ from the SMX_VERSION_* macros compiled in). */
SMX_API const char *smx_version(void);

#ifdef __cplusplus
}
#endif

#endif /* SMXKERN_H */
