/* SPDX-License-Identifier: MIT */
/* The kernels for ARM NEON (AArch64, ARMv7-A): the template over the NEON
 * vocabulary. */
#include "vec_neon.h"

#include "../simd/kernels_tmpl.c"
