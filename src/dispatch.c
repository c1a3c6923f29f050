/* SPDX-License-Identifier: MIT */
/*
 * The one dispatch point: which kernel table runs.
 *
 * The usable ISAs are (compiled in) & (CPU and OS can run them) & (at or
 * below the SMXKERN_ISA cap). They are computed once; racing first calls all
 * compute the same value, so publishing it with an atomic store needs no
 * lock. The active table is an atomic pointer to a constant table: every
 * API call loads it once, so a concurrent smx_set_isa is seen as a whole
 * table, old or new, never a mix.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "cpu.h"
#include "kernels.h"

/* One bit per smx_isa value. */
#define ISA_BIT(isa) (1u << (unsigned)(isa))
#define USABLE_UNKNOWN 0u /* SCALAR is always usable, so 0 means "not yet" */

static _Atomic unsigned usable_mask = USABLE_UNKNOWN;
static _Atomic(const smx_kernels *) active_table = NULL;

static const smx_kernels *table_of(smx_isa isa)
{
    switch (isa) {
#if SMX_HAVE_AVX2
    case SMX_ISA_AVX2: return &smx_kernels_avx2;
#endif
#if SMX_HAVE_AVX512
    case SMX_ISA_AVX512: return &smx_kernels_avx512;
#endif
#if SMX_HAVE_NEON
    case SMX_ISA_NEON: return &smx_kernels_neon;
#endif
    default: return &smx_kernels_scalar;
    }
}

/* The ISAs a cap allows: the cap and the ISAs below it on its own
 * architecture (scalar < avx2 < avx512; scalar < neon). */
static unsigned allowed_by_cap(smx_isa cap)
{
    switch (cap) {
    case SMX_ISA_SCALAR: return ISA_BIT(SMX_ISA_SCALAR);
    case SMX_ISA_AVX2: return ISA_BIT(SMX_ISA_SCALAR) | ISA_BIT(SMX_ISA_AVX2);
    case SMX_ISA_AVX512:
        return ISA_BIT(SMX_ISA_SCALAR) | ISA_BIT(SMX_ISA_AVX2) |
               ISA_BIT(SMX_ISA_AVX512);
    case SMX_ISA_NEON: return ISA_BIT(SMX_ISA_SCALAR) | ISA_BIT(SMX_ISA_NEON);
    default: return ~0u;
    }
}

static int ascii_ieq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char ca = (*a >= 'A' && *a <= 'Z') ? (char)(*a - 'A' + 'a') : *a;
        if (ca != *b)
            return 0;
    }
    return *a == *b;
}

static unsigned env_cap_mask(void)
{
    static const smx_isa named[] = {SMX_ISA_SCALAR, SMX_ISA_AVX2,
                                    SMX_ISA_AVX512, SMX_ISA_NEON};
    const char *v = getenv("SMXKERN_ISA");
    if (!v || !*v)
        return ~0u;
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (ascii_ieq(v, smx_isa_name(named[i])))
            return allowed_by_cap(named[i]);
    return ~0u; /* unknown value: ignored */
}

static unsigned compiled_mask(void)
{
    unsigned m = ISA_BIT(SMX_ISA_SCALAR);
#if SMX_HAVE_AVX2
    m |= ISA_BIT(SMX_ISA_AVX2);
#endif
#if SMX_HAVE_AVX512
    m |= ISA_BIT(SMX_ISA_AVX512);
#endif
#if SMX_HAVE_NEON
    m |= ISA_BIT(SMX_ISA_NEON);
#endif
    return m;
}

static unsigned usable(void)
{
    unsigned m = atomic_load_explicit(&usable_mask, memory_order_acquire);
    if (m == USABLE_UNKNOWN) {
        unsigned cpu = ISA_BIT(SMX_ISA_SCALAR);
        smx_cpu_features f = smx_cpu_detect();
        if (f.avx2_fma)
            cpu |= ISA_BIT(SMX_ISA_AVX2);
        if (f.avx512)
            cpu |= ISA_BIT(SMX_ISA_AVX512);
        if (f.neon)
            cpu |= ISA_BIT(SMX_ISA_NEON);
        m = cpu & compiled_mask() & env_cap_mask();
        atomic_store_explicit(&usable_mask, m, memory_order_release);
    }
    return m;
}

static smx_isa best_usable(void)
{
    /* Preference order, best first. */
    static const smx_isa order[] = {SMX_ISA_AVX512, SMX_ISA_AVX2,
                                    SMX_ISA_NEON};
    unsigned m = usable();
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (m & ISA_BIT(order[i]))
            return order[i];
    return SMX_ISA_SCALAR;
}

const smx_kernels *smx_active_kernels(void)
{
    const smx_kernels *k =
        atomic_load_explicit(&active_table, memory_order_acquire);
    if (k)
        return k;
    /* First use: install the best table unless smx_set_isa got there
     * first. Losing the race is fine: the winner's table is as good. */
    const smx_kernels *best = table_of(best_usable());
    if (atomic_compare_exchange_strong_explicit(&active_table, &k, best,
                                                memory_order_acq_rel,
                                                memory_order_acquire))
        return best;
    return k;
}

SMX_API int smx_isa_supported(smx_isa isa)
{
    if (isa == SMX_ISA_AUTO)
        return 1;
    if ((unsigned)isa > (unsigned)SMX_ISA_NEON)
        return 0;
    return (usable() & ISA_BIT(isa)) != 0;
}

SMX_API smx_status smx_set_isa(smx_isa isa)
{
    if (!smx_isa_supported(isa))
        return SMX_E_ISA;
    if (isa == SMX_ISA_AUTO)
        isa = best_usable();
    atomic_store_explicit(&active_table, table_of(isa), memory_order_release);
    return SMX_OK;
}

SMX_API smx_isa smx_get_isa(void)
{
    return smx_active_kernels()->isa;
}

SMX_API const char *smx_isa_name(smx_isa isa)
{
    switch (isa) {
    case SMX_ISA_AUTO: return "auto";
    case SMX_ISA_SCALAR: return "scalar";
    case SMX_ISA_AVX2: return "avx2";
    case SMX_ISA_AVX512: return "avx512";
    case SMX_ISA_NEON: return "neon";
    default: return "unknown";
    }
}
