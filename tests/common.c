/* SPDX-License-Identifier: MIT */
/* mmap flags, sysconf */
#define _DEFAULT_SOURCE
#include "common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- ISAs ----------------------------------------------------------------- */

static const smx_isa all_isas[] = {SMX_ISA_SCALAR, SMX_ISA_AVX2,
                                   SMX_ISA_AVX512, SMX_ISA_NEON};

int tests_isa_count(void)
{
    int n = 0;
    for (size_t i = 0; i < sizeof all_isas / sizeof all_isas[0]; i++)
        n += smx_isa_supported(all_isas[i]) != 0;
    return n;
}

static smx_isa isa_at(int i)
{
    for (size_t k = 0; k < sizeof all_isas / sizeof all_isas[0]; k++)
        if (smx_isa_supported(all_isas[k]) && i-- == 0)
            return all_isas[k];
    return SMX_ISA_AUTO;
}

smx_isa tests_use_isa(int i)
{
    const smx_isa isa = isa_at(i);
    ck_assert_msg(isa != SMX_ISA_AUTO, "no supported ISA number %d", i);
    ck_assert_int_eq(smx_set_isa(isa), SMX_OK);
    ck_assert_int_eq(smx_get_isa(), isa);
    return isa;
}

int tests_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    printf("ISAs under test:");
    for (int i = 0; i < tests_isa_count(); i++)
        printf(" %s", smx_isa_name(isa_at(i)));
    printf("\n");
    fflush(stdout);
    srunner_run_all(sr, CK_NORMAL);
    const int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---- random inputs -------------------------------------------------------- */

uint64_t rng_next(rng *r) /* splitmix64 */
{
    uint64_t z = (r->state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double rng_uniform(rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1p-53;
}

double rng_normal(rng *r) /* Box-Muller */
{
    const double u = 1.0 - rng_uniform(r), v = rng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

void fill_normal(rng *r, float *x, size_t n, double sigma)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(sigma * rng_normal(r));
}

/* ---- buffers -------------------------------------------------------------- */

#define SENTINEL_BITS 0x7FC5EA1Du

float sentinel(void)
{
    const uint32_t b = SENTINEL_BITS;
    float f;
    memcpy(&f, &b, sizeof f);
    return f;
}

int is_sentinel(float v)
{
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return b == SENTINEL_BITS;
}

int may_become_sentinel(float v)
{
    const uint32_t payload = 0x003FFFFFu; /* below the quiet bit */
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return isnan(v) && (b & payload) == (SENTINEL_BITS & payload);
}

void fill_sentinel(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = sentinel();
}

float *alloc_sentinel(size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    fill_sentinel(p, n);
    return p;
}

float *dup_floats(const float *x, size_t n)
{
    float *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    if (n)
        memcpy(p, x, n * sizeof *p);
    return p;
}

void *guarded_alloc(guarded *g, size_t n, int at_end)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t body = (n + page - 1) / page * page;
    g->map_len = body + 2 * page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(g->map, MAP_FAILED);
    char *base = g->map;
    ck_assert_int_eq(mprotect(base, page, PROT_NONE), 0);
    ck_assert_int_eq(mprotect(base + page + body, page, PROT_NONE), 0);
    g->p = at_end ? base + page + body - n : base + page;
    return g->p;
}

void guarded_free(guarded *g)
{
    munmap(g->map, g->map_len);
}

static double weighted(double p, double d);

/* ---- the oracle ----------------------------------------------------------- */

/* Written from the header's definitions without looking at src/: count the
 * special values first, then the finite case with a compensated sum. */
void oracle_softmax_row(size_t n, const float *x, double *p, double *logp,
                        double *d, double *lse)
{
    size_t nans = 0, pos_inf = 0, neg_inf = 0;
    double max = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        nans += isnan(x[i]) != 0;
        pos_inf += x[i] == INFINITY;
        neg_inf += x[i] == -INFINITY;
        if (!isnan(x[i]) && x[i] > max)
            max = x[i];
    }
    double log_sum = 0.0;
    if (nans == 0 && pos_inf == 0 && neg_inf < n) {
        /* S = c + rest, c the count of maxima: log S = log1p(c - 1 + rest)
         * keeps rest where S rounds to 1 */
        double c = 0.0, sum = 0.0, comp = 0.0; /* Neumaier summation */
        for (size_t i = 0; i < n; i++) {
            if ((double)x[i] == max) {
                c += 1.0;
                continue;
            }
            const double t = exp((double)x[i] - max), s = sum + t;
            comp += fabs(sum) >= t ? (sum - s) + t : (t - s) + sum;
            sum = s;
        }
        log_sum = log1p((c - 1.0) + (sum + comp));
    }
    for (size_t i = 0; i < n; i++) {
        double pi, li, di = 0.0;
        if (nans) {
            pi = li = NAN;
        } else if (pos_inf) {
            const int top = x[i] == INFINITY;
            pi = top ? 1.0 / (double)pos_inf : 0.0;
            li = top ? -log((double)pos_inf) : -INFINITY;
        } else if (neg_inf == n) {
            pi = 0.0;
            li = -INFINITY;
        } else {
            di = (double)x[i] - max;
            li = di - log_sum;
            pi = exp(li);
        }
        if (p)
            p[i] = pi;
        if (logp)
            logp[i] = li;
        if (d)
            d[i] = di;
    }
    if (lse) {
        if (nans)
            *lse = NAN;
        else if (pos_inf)
            *lse = INFINITY;
        else if (neg_inf == n)
            *lse = -INFINITY;
        else
            *lse = max + log_sum;
    }
}

typedef struct row_scratch {
    double *p, *logp, *d;
} row_scratch;

static row_scratch scratch(size_t n)
{
    row_scratch s = {malloc(n * sizeof(double)), malloc(n * sizeof(double)),
                     malloc(n * sizeof(double))};
    ck_assert(s.p && s.logp && s.d);
    return s;
}

static void scratch_free(row_scratch *s)
{
    free(s->p);
    free(s->logp);
    free(s->d);
}

double oracle_xent_row(size_t n, const float *z, int32_t t, float smoothing,
                       float scale, double *grad, double *bar,
                       double *loss_bar)
{
    row_scratch s = scratch(n);
    double lse;
    oracle_softmax_row(n, z, s.p, s.logp, s.d, &lse);
    const double e = smoothing, keep = 1.0 - e, spread = e / (double)n;
    double loss = 0.0, loss_terms = 1.0;
    if (keep != 0.0) {
        loss += keep * -s.logp[t];
        loss_terms += keep * (fabs(s.d[t]) + fabs(s.logp[t]));
    }
    if (e != 0.0) {
        for (size_t j = 0; j < n; j++) {
            loss += spread * -s.logp[j];
            loss_terms += spread * (fabs(s.d[j]) + fabs(s.logp[j]));
        }
    }
    for (size_t j = 0; grad && j < n; j++) {
        const double target = spread + ((size_t)t == j ? keep : 0.0);
        grad[j] = (double)scale * (s.p[j] - target);
        bar[j] = bar_terms(fabs((double)scale) *
                           (weighted(s.p[j], s.d[j]) + target));
    }
    *loss_bar = BAR_REL * (loss_terms + fabs(loss));
    scratch_free(&s);
    return loss;
}

double oracle_xent_soft_row(size_t n, const float *z, const float *p,
                            float smoothing, float scale, double *grad,
                            double *bar, double *loss_bar)
{
    row_scratch s = scratch(n);
    double lse;
    oracle_softmax_row(n, z, s.p, s.logp, s.d, &lse);
    const double e = smoothing;
    double sum_q = 0.0, sum_abs_q = 0.0, loss = 0.0, loss_terms = 1.0;
    for (size_t j = 0; j < n; j++) {
        const double q = e != 0.0 ? (1.0 - e) * p[j] + e / (double)n : p[j];
        sum_q += q;
        sum_abs_q += fabs(q);
        if (q != 0.0) {
            loss += q * -s.logp[j];
            loss_terms += fabs(q) * (fabs(s.d[j]) + fabs(s.logp[j]));
        }
    }
    for (size_t j = 0; grad && j < n; j++) {
        const double q = e != 0.0 ? (1.0 - e) * p[j] + e / (double)n : p[j];
        grad[j] = (double)scale * (s.p[j] * sum_q - q);
        bar[j] = bar_terms(fabs((double)scale) *
                           (weighted(s.p[j], s.d[j]) * sum_abs_q +
                            fabs(q)));
    }
    *loss_bar = BAR_REL * (loss_terms + fabs(loss));
    /* A NaN logit makes the row's loss NaN even where it has no mass. */
    for (size_t j = 0; j < n; j++)
        if (isnan(z[j]))
            loss = NAN;
    scratch_free(&s);
    return loss;
}

/* ---- the accuracy bar ----------------------------------------------------- */

/* p (1 + |d|), where a zero probability weighs 0 even at d = -inf. */
static double weighted(double p, double d)
{
    return p == 0.0 ? 0.0 : fabs(p) * (1.0 + fabs(d));
}

double bar_prob(double ref, double d)
{
    return BAR_REL * weighted(ref, d) + BAR_ABS;
}

double bar_log(double ref, double d)
{
    return BAR_REL * (1.0 + fabs(d) + fabs(ref));
}

double bar_terms(double sum_abs_terms)
{
    return BAR_REL * sum_abs_terms + BAR_ABS;
}

/* These per-element checks call Check only on failure: a passing ck_assert
 * records a checkpoint with a write(2) to Check's message file, millions per
 * suite, which made the suite ~25x slower and Valgrind/QEMU runs
 * impractical. */
void expect_close(float got, double ref, double bar, const char *what,
                  size_t row, size_t col)
{
    const char *isa = smx_isa_name(smx_get_isa());
    if (isnan(ref)) {
        if (!(isnan(got) && !is_sentinel(got)))
            ck_abort_msg("%s [%s] row %zu col %zu: got %a, want NaN", what,
                         isa, row, col, (double)got);
    } else if (isinf(ref)) {
        if (!((double)got == ref))
            ck_abort_msg("%s [%s] row %zu col %zu: got %a, want %a", what,
                         isa, row, col, (double)got, ref);
    } else if (isinf((float)ref) && (double)got == (double)(float)ref) {
        /* beyond FLT_MAX: the correctly rounded float is that infinity */
    } else if (!(isfinite(got) && fabs((double)got - ref) <= bar)) {
        ck_abort_msg("%s [%s] row %zu col %zu: got %a, want %a (error %.3g, "
                     "bar %.3g)",
                     what, isa, row, col, (double)got, ref,
                     fabs((double)got - ref), bar);
    }
}

void expect_padding_intact(const float *y, size_t rows, size_t cols,
                           size_t ld, const char *what)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = cols; c < ld; c++)
            if (!is_sentinel(y[r * ld + c]))
                ck_abort_msg("%s [%s]: padding written at row %zu col %zu",
                             what, smx_isa_name(smx_get_isa()), r, c);
}
