/* SPDX-License-Identifier: MIT */
/* The kernels for AVX2 + FMA: the template over the AVX2 vocabulary. */
#include "vec_avx2.h"

#include "../simd/kernels_tmpl.c"
