/* SPDX-License-Identifier: MIT */
/* The inline exp and log of the avx2 kernels, exposed to tests/test_exp.c. */
#include "../src/x86/vec_avx2.h"

#include "../src/simd/exp.h"
#include "../src/simd/log.h"
#include "exp_probe.h"

PROBE_DEFINE(avx2)
PROBE_DEFINE_VLOG(avx2)
