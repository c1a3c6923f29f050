/* SPDX-License-Identifier: MIT */
/*
 * CPU feature detection. A CPU that reports AVX may still run an OS that
 * does not save YMM/ZMM registers on context switch, so x86 checks both
 * CPUID and the XCR0 register the OS sets (read with XGETBV).
 */
#include "cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

/* XCR0 bits: SSE and AVX (YMM upper halves) state; AVX-512 opmask, ZMM0-15
 * upper halves, ZMM16-31. */
#define XCR0_YMM 0x06u
#define XCR0_ZMM 0xE0u

static unsigned long long read_xcr0(void)
{
    unsigned lo, hi;
    /* xgetbv with ecx = 0; spelled as asm so no -mxsave flag is needed. */
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

smx_cpu_features smx_cpu_detect(void)
{
    smx_cpu_features f = {0, 0, 0};
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return f;
    const int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx)
        return f; /* XGETBV itself would fault without OSXSAVE */
    const unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & XCR0_YMM) != XCR0_YMM)
        return f;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
        return f;
    const int avx2 = (b >> 5) & 1;
    const int avx512f = (b >> 16) & 1, avx512dq = (b >> 17) & 1;
    const int avx512bw = (b >> 30) & 1, avx512vl = (b >> 31) & 1;
    f.avx2_fma = avx2 && fma;
    f.avx512 = f.avx2_fma && avx512f && avx512dq && avx512bw && avx512vl &&
               (xcr0 & XCR0_ZMM) == XCR0_ZMM;
    return f;
}

#elif defined(__aarch64__)

smx_cpu_features smx_cpu_detect(void)
{
    smx_cpu_features f = {0, 0, 1}; /* Advanced SIMD is mandatory in AArch64 */
    return f;
}

#elif defined(__arm__) && defined(__linux__)
#include <sys/auxv.h>

/* From the kernel's arch/arm uapi hwcap.h. */
#ifndef HWCAP_NEON
#define HWCAP_NEON (1 << 12)
#endif
#ifndef HWCAP_VFPv4
#define HWCAP_VFPv4 (1 << 16)
#endif

/* The 32-bit NEON kernels are built for NEON + VFPv4: their exp needs the
 * fused multiply-add, which NEON CPUs without VFPv4 (Cortex-A8, A9) lack. */
smx_cpu_features smx_cpu_detect(void)
{
    smx_cpu_features f = {0, 0, 0};
    const unsigned long need = HWCAP_NEON | HWCAP_VFPv4;
    f.neon = (getauxval(AT_HWCAP) & need) == need;
    return f;
}

#else

smx_cpu_features smx_cpu_detect(void)
{
    smx_cpu_features f = {0, 0, 0};
    return f;
}

#endif
