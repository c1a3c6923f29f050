/* SPDX-License-Identifier: MIT */
#include "scalar.h"

const smx_kernels smx_kernels_scalar = {
    .isa = SMX_ISA_SCALAR,
    .softmax = smx_softmax_scalar,
    .log_softmax = smx_log_softmax_scalar,
    .logsumexp = smx_logsumexp_scalar,
    .softmax_jvp = smx_softmax_jvp_scalar,
    .log_softmax_jvp = smx_log_softmax_jvp_scalar,
    .log_softmax_vjp = smx_log_softmax_vjp_scalar,
    .xent = smx_xent_scalar,
    .xent_soft = smx_xent_soft_scalar,
};
