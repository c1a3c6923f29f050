/* SPDX-License-Identifier: MIT */
/* The inline exp and log of the neon kernels, exposed to tests/test_exp.c. */
#include "../src/arm/vec_neon.h"

#include "../src/simd/exp.h"
#include "../src/simd/log.h"
#include "exp_probe.h"

PROBE_DEFINE(neon)
