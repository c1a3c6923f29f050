/* SPDX-License-Identifier: MIT */
/* A user's program, built against the installed header and library only. */
#include <math.h>
#include <smxkern.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    const float z[2] = {1.75f, 1.75f};
    const int32_t target = 1;
    float grad[2], loss;
    smx_status st = smx_cross_entropy_f32(1, 2, z, 2, &target, NULL, &loss, grad, 2);
    if (st != SMX_OK) {
        fprintf(stderr, "cross_entropy: %s\n", smx_strerror(st));
        return 1;
    }
    if (grad[0] != 0.5f || grad[1] != -0.5f || fabsf(loss - logf(2.0f)) > 1e-6f) {
        fprintf(stderr, "wrong result: grad (%g, %g), loss %g\n", grad[0], grad[1], loss);
        return 1;
    }
    if (strcmp(smx_version(), "0.0.0") == 0 || SMX_VERSION_NUMBER < 100)
        return 1;
    printf("consumer ok: libsmxkern %s, isa %s\n", smx_version(), smx_isa_name(smx_get_isa()));
    return 0;
}
