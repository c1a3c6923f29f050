/* SPDX-License-Identifier: MIT */
/* smxbench: registers every case, records the build context, runs. */
#include <stdio.h>
#include <string.h>

#include "bench.h"

#ifndef SMX_BENCH_BUILDTYPE
#define SMX_BENCH_BUILDTYPE "unknown"
#endif
#ifndef SMX_BENCH_OPTIMIZATION
#define SMX_BENCH_OPTIMIZATION "unknown"
#endif

/* Google Benchmark's context lacks the CPU model; Linux only. */
static void add_cpu_model(void)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            colon += strspn(colon + 1, " \t") + 1;
            colon[strcspn(colon, "\n")] = '\0';
            smxb_add_context("cpu_model", colon);
            break;
        }
    }
    fclose(f);
}

static void add_context(void)
{
    static const smx_isa all[] = {SMX_ISA_SCALAR, SMX_ISA_AVX2,
                                  SMX_ISA_AVX512, SMX_ISA_NEON};
    char usable[64] = "";
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const char *why = bench_isa_skip_reason(all[i]);
        if (why) {
            /* One visible line per ISA; each of its cases says it again. */
            fprintf(stderr, "smxbench: %s cases %s\n", smx_isa_name(all[i]), why);
            continue;
        }
        if (*usable)
            strcat(usable, ",");
        strcat(usable, smx_isa_name(all[i]));
    }
    smxb_add_context("smxkern_version", smx_version());
    smxb_add_context("smxkern_buildtype", SMX_BENCH_BUILDTYPE);
    smxb_add_context("smxkern_optimization", SMX_BENCH_OPTIMIZATION);
    smxb_add_context("smxkern_isas", usable);
    smxb_add_context("smxkern_isa_auto", smx_isa_name(smx_get_isa()));
    /* the suite's order of shapes, for the report (runs may be shuffled) */
    char shapes[256] = "";
    for (size_t s = 0; s < bench_nshapes; s++) {
        if (s)
            strncat(shapes, ",", sizeof shapes - strlen(shapes) - 1);
        strncat(shapes, bench_shapes[s].name, sizeof shapes - strlen(shapes) - 1);
    }
    smxb_add_context("smxkern_shapes", shapes);
    add_cpu_model();
#if SMXB_HAVE_ONEDNN
    peer_onednn_context();
#endif
#if SMXB_HAVE_PYTORCH
    peer_pytorch_context();
#endif
}

int main(int argc, char **argv)
{
    /* Op-major order, ISAs of one shape adjacent: the console reads like the
     * report and consecutive cases share their cached inputs. */
    for (size_t s = 0; s < bench_nshapes; s++) {
        bench_register_memcpy(&bench_shapes[s]);
        bench_register_add(&bench_shapes[s]);
    }
    for (int op = 0; op < OP_COUNT; op++) {
        for (size_t s = 0; s < bench_nshapes; s++) {
            bench_register_lib((bench_op)op, &bench_shapes[s]);
#if SMXB_HAVE_ONEDNN
            peer_onednn_register((bench_op)op, &bench_shapes[s]);
#endif
#if SMXB_HAVE_PYTORCH
            peer_pytorch_register((bench_op)op, &bench_shapes[s]);
#endif
        }
    }
    add_context();

    int rc = smxb_main(argc, argv);
    bench_data_release();
#if SMXB_HAVE_ONEDNN
    peer_onednn_shutdown();
#endif
    return rc;
}
