/* SPDX-License-Identifier: MIT */
/* The kernels for AVX-512 F/DQ/VL/BW: the template over its vocabulary. */
#include "vec_avx512.h"

#include "../simd/kernels_tmpl.c"
