/* SPDX-License-Identifier: MIT */
/*
 * The worked example this project started from. Logits Z = (1.75, 1.75),
 * target class 1 (T = (0, 1)). Backpropagating through a softmax output
 * layer with cross-entropy E = -sum_j T_j log A_j, the fused gradient
 * dE/dZ = A - T and the chain rule dE/dA * dA/dZ must agree, provided the
 * Jacobian dA/dZ = diag(s) - s s^T is taken at the softmax OUTPUT s = A.
 * Taking it at the logits gives a wrong answer; this test pins both facts.
 */
#include <math.h>

#include "common.h"

START_TEST(worked_example)
{
    tests_use_isa(_i);
    const float z[2] = {1.75f, 1.75f};
    const int32_t target = 1;
    float a[2], fused[2], loss, chain_vjp[2], jac[4], jac_at_z[4];

    /* Forward: A = softmax(Z) = (0.5, 0.5). */
    ck_assert_int_eq(smx_softmax_f32(1, 2, z, 2, a, 2), SMX_OK);
    ck_assert(a[0] == 0.5f && a[1] == 0.5f);

    /* Fused: dE/dZ = A - T = (0.5, -0.5), loss = log 2. */
    ck_assert_int_eq(smx_cross_entropy_f32(1, 2, z, 2, &target, NULL, &loss,
                                           fused, 2),
                     SMX_OK);
    ck_assert(fused[0] == 0.5f && fused[1] == -0.5f);
    ck_assert(fabsf(loss - logf(2.0f)) <= 0x1p-22f);

    /* Chain rule: dE/dA = -T / A = (0, -2), times J(A). */
    const float de_da[2] = {-0.0f / a[0], -1.0f / a[1]};
    ck_assert(de_da[0] == 0.0f && de_da[1] == -2.0f);
    ck_assert_int_eq(smx_softmax_jacobian_f32(2, a, jac, 2), SMX_OK);
    ck_assert(jac[0] == 0.25f && jac[1] == -0.25f && jac[2] == -0.25f &&
              jac[3] == 0.25f);
    for (int j = 0; j < 2; j++) { /* row vector times matrix */
        const float dz = de_da[0] * jac[0 * 2 + j] + de_da[1] * jac[1 * 2 + j];
        ck_assert_msg(dz == fused[j], "chain rule %g != fused %g at %d",
                      (double)dz, (double)fused[j], j);
    }
    /* The same through the library's VJP, which takes the output A. */
    ck_assert_int_eq(smx_softmax_vjp_f32(1, 2, a, 2, de_da, 2, chain_vjp, 2),
                     SMX_OK);
    ck_assert(chain_vjp[0] == 0.5f && chain_vjp[1] == -0.5f);

    /* The bug: the Jacobian formula evaluated at the logits Z. */
    ck_assert_int_eq(smx_softmax_jacobian_f32(2, z, jac_at_z, 2), SMX_OK);
    const float wrong0 = de_da[0] * jac_at_z[0] + de_da[1] * jac_at_z[2];
    const float wrong1 = de_da[0] * jac_at_z[1] + de_da[1] * jac_at_z[3];
    ck_assert_msg(wrong0 == 6.125f && wrong1 == 2.625f,
                  "Jacobian at the logits gives (%g, %g)", (double)wrong0,
                  (double)wrong1);
}
END_TEST

/* The Jacobian agrees with the JVP column by column on random outputs. */
START_TEST(jacobian_matches_jvp)
{
    tests_use_isa(_i);
    rng g = {3};
    for (size_t n = 1; n <= 33; n += 4) {
        float y[33], e[33], col[33], jac[33 * 34];
        fill_normal(&g, y, n, 2.0);
        ck_assert_int_eq(smx_softmax_f32(1, n, y, n, y, n), SMX_OK);
        ck_assert_int_eq(smx_softmax_jacobian_f32(n, y, jac, n + 1), SMX_OK);
        for (size_t j = 0; j < n; j++) {
            for (size_t i = 0; i < n; i++)
                e[i] = i == j ? 1.0f : 0.0f;
            ck_assert_int_eq(smx_softmax_jvp_f32(1, n, y, n, e, n, col, n),
                             SMX_OK);
            for (size_t i = 0; i < n; i++) {
                const double ref = (double)y[i] * ((i == j) - (double)y[j]);
                ck_assert(fabs((double)jac[i * (n + 1) + j] - ref) <=
                          bar_terms(fabs((double)y[i]) * (1.0 + y[j])));
                ck_assert(fabs((double)col[i] - ref) <=
                          bar_terms(fabs((double)y[i]) * (1.0 + y[j])));
            }
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("worked_example");
    TCase *tc = tcase_create("worked_example");
    ADD_ISA_TEST(tc, worked_example);
    ADD_ISA_TEST(tc, jacobian_matches_jvp);
    suite_add_tcase(s, tc);
    return tests_run(s);
}
