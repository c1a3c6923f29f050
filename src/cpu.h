/* SPDX-License-Identifier: MIT */
/* What the CPU and the OS let us run. Compiled without any ISA flag. */
#ifndef SMX_CPU_H
#define SMX_CPU_H

typedef struct smx_cpu_features {
    unsigned avx2_fma : 1; /* AVX2 + FMA3, YMM state enabled by the OS */
    unsigned avx512 : 1;   /* AVX-512 F/DQ/VL/BW, ZMM and mask state enabled */
    unsigned neon : 1;     /* ARM Advanced SIMD (32-bit ARM: with VFPv4) */
} smx_cpu_features;

smx_cpu_features smx_cpu_detect(void);

#endif /* SMX_CPU_H */
