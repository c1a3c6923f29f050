/* SPDX-License-Identifier: MIT */
/*
 * The input format. Bytes are read in this order; past the end every byte
 * reads as 0, which decodes to defaults and to generated normal values, so
 * a short input still makes full rows.
 *
 *  0  rows = b < 0xF0 ? b % 9 : 9 + (b & 0xF) % 9 (up to 17: a whole
 *     vector of rows one per lane and one more on AVX-512)
 *  1  cols = b < 0xC0 ? b % 67 : 67 + ((b & 0x3F) << 8 | byte 2) % 234
 *  3  seed, 4 sigma = 2^(b % 32 - 8): the generated values
 *  5  row paddings: in0 b & 7, in1 (b >> 3) & 7, outputs b >> 6
 *  6  output placement, b % 6: own buffer (0, 1), exactly in0 (2), exactly
 *     in1 (3), in0's pointer with its own stride (4), in0 + (int8)byte 7 (5)
 *  8  vector output placement, b % 4: own (0, 1), in0 + (int8)byte 9 (2),
 *     the output's (3)
 * 10  b % 4 == 3: in1 starts b >> 2 cells into in0 (inputs may overlap)
 * 11  fault = b % 16 (0-8 none, 9 + enum fz_fault - F_NULL), which = b >> 4
 * 12  label_smoothing, then grad_scale, then ignore_index: a code byte
 *     (valid value < 0x80, invalid 0x80-0xBF, raw bits from 4 more bytes
 *     >= 0xC0)
 *  .  one target code per row: b < 0xE0 a class b % cols, 0xE0-0xEF
 *     ignore_index, 0xF0-0xF7 out of range, >= 0xF8 raw from 4 more bytes
 *  .  in0 then in1, one code per element: b < 0x80 generated normal,
 *     0x80-0xBF a special value, >= 0xC0 raw bits from 4 more bytes
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "fuzz.h"

typedef struct reader {
    const uint8_t *p;
    size_t n;
} reader;

static unsigned byte(reader *r)
{
    if (!r->n)
        return 0;
    r->n--;
    return *r->p++;
}

static uint32_t raw32(reader *r)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | byte(r);
    return v;
}

static float from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, sizeof f);
    /* The sentinel marks unwritten cells: never an input, nor a NaN that
     * negation or quieting turns into it (the fuzzer found -sentinel in a
     * log-softmax VJP's g come out as the sentinel in place). */
    return may_become_sentinel(f) ? NAN : f;
}

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const float specials[] = {
    NAN, -NAN, INFINITY, -INFINITY, 0.0f, -0.0f, FLT_MAX, -FLT_MAX,
    FLT_MIN, -FLT_MIN, 0x1p-149f, -0x1p-149f, 1.0f, -1.0f, 88.72283f, 89.0f,
    -87.33655f, -88.0f, -103.97f, -104.0f, 1e30f, -1e30f, 0x1p127f,
    -0x1p127f, 0x1p-127f, 0.5f, 1e-40f, 2.0f, 100.0f, -100.0f, 1e10f, -1e10f,
};

static float value(reader *r, rng *g, double sigma)
{
    const unsigned b = byte(r);
    if (b < 0x80)
        return (float)(sigma * rng_normal(g));
    if (b < 0xC0)
        return specials[(b - 0x80) % COUNT(specials)];
    return from_bits(raw32(r));
}

/* An option: valid values, invalid ones, or raw bits. */
static float option(reader *r, const float *ok, size_t n_ok, const float *bad,
                    size_t n_bad)
{
    const unsigned b = byte(r);
    if (b < 0x80)
        return ok[b % n_ok];
    if (b < 0xC0)
        return bad[b % n_bad];
    return from_bits(raw32(r));
}

static const float smoothing_ok[] = {0.0f, 0.1f, 0.5f, 1.0f, -0.0f, 1e-7f,
                                     FLT_MIN, 0x1p-149f, 0.999999f,
                                     1.0f / 3.0f, 0.25f, 0.9f};
static const float smoothing_bad[] = {-1e-9f, 1.0000001f, NAN, INFINITY,
                                      -INFINITY, -1.0f, 2.0f, -FLT_MIN};
static const float scale_ok[] = {1.0f, 0.5f, -1.0f, 0.0f, -0.0f, 1e30f,
                                 -1e30f, FLT_MAX, 0x1p-149f, 1.0f / 3.0f,
                                 1e-30f, 100.0f};
static const float scale_bad[] = {NAN, INFINITY, -INFINITY, -NAN};

static int32_t target(reader *r, size_t cols, int32_t ignore)
{
    const unsigned b = byte(r);
    const int32_t c = (int32_t)cols;
    const int32_t bad[] = {-1, c, INT32_MIN, INT32_MAX, -101, c + 1, -2, 1000};
    if (b < 0xE0)
        return cols ? (int32_t)(b % cols) : 0;
    if (b < 0xF0)
        return ignore;
    if (b < 0xF8)
        return bad[b & 7];
    return (int32_t)raw32(r);
}

static size_t extent(size_t rows, size_t cols, size_t ld)
{
    return rows ? (rows - 1) * ld + cols : 0;
}

/* pos clamped so that `cells` cells from it fit in the arena. */
static size_t clamp(long long pos, size_t cells, size_t len)
{
    if (pos < 0)
        pos = 0;
    if ((size_t)pos + cells > len)
        pos = (long long)(len - cells);
    return (size_t)pos;
}

static const size_t huge_values[] = {SIZE_MAX, SIZE_MAX / 2 + 1,
                                     (size_t)PTRDIFF_MAX / 4 + 1,
                                     SIZE_MAX / 4 + 1};

void fz_decode(const uint8_t *data, size_t size, fz *f)
{
    reader r = {data, size};
    memset(f, 0, sizeof *f);
    const unsigned r0 = byte(&r);
    const size_t rows = r0 < 0xF0 ? r0 % 9 : 9 + (r0 & 0xFu) % 9;
    const unsigned c0 = byte(&r), c1 = byte(&r);
    const size_t cols = c0 < 0xC0 ? c0 % 67 : 67 + (((c0 & 0x3Fu) << 8) | c1) % 234;
    rng g = {0x5EEDull + byte(&r)};
    const double sigma = ldexp(1.0, (int)(byte(&r) % 32) - 8);
    const unsigned pad = byte(&r), out_mode = byte(&r) % 6;
    const int out_delta = (int)(signed char)byte(&r);
    const unsigned vec_mode = byte(&r) % 4;
    const int vec_delta = (int)(signed char)byte(&r);
    const unsigned in_overlap = byte(&r), fault = byte(&r);

    f->rows = rows;
    f->cols = cols;
    /* The Jacobian's y is in0's first row. */
    f->njac = !rows ? 0 : cols < FZ_MAX_JAC ? cols : FZ_MAX_JAC;
    f->ld[S_IN0] = cols + (pad & 7);
    f->ld[S_IN1] = cols + ((pad >> 3) & 7);
    f->ld[S_OUT] = cols + (pad >> 6);
    f->ld[S_JAC] = f->njac + (pad >> 6);
    f->ld[S_TARGETS] = f->ld[S_VEC] = rows;
    size_t ext[N_SLOTS];
    for (int s = 0; s < N_SLOTS; s++)
        ext[s] = extent(rows, cols, f->ld[s]);
    ext[S_TARGETS] = ext[S_VEC] = rows;
    ext[S_JAC] = extent(f->njac, f->njac, f->ld[S_JAC]);

    /* Each operand its own region, then the placements that share. */
    size_t end = 0;
    for (int s = 0; s < N_SLOTS; s++) {
        f->off[s] = end;
        end += ext[s];
    }
    f->len = end + 16;
    if (in_overlap % 4 == 3)
        f->off[S_IN1] = clamp((long long)(in_overlap >> 2), ext[S_IN1], f->len);
    switch (out_mode) {
    case 2: case 3: {
        const enum fz_slot in = out_mode == 2 ? S_IN0 : S_IN1;
        f->off[S_OUT] = f->off[in];
        f->ld[S_OUT] = f->ld[in];
        f->off[S_JAC] = f->off[S_IN0];
        break;
    }
    case 4:
        f->off[S_OUT] = f->off[S_JAC] = f->off[S_IN0];
        break;
    case 5:
        f->off[S_OUT] = clamp((long long)f->off[S_IN0] + out_delta, ext[S_OUT], f->len);
        f->off[S_JAC] = clamp((long long)f->off[S_IN0] + out_delta, ext[S_JAC], f->len);
        break;
    default:
        break;
    }
    if (vec_mode == 2)
        f->off[S_VEC] = clamp((long long)f->off[S_IN0] + vec_delta, rows, f->len);
    else if (vec_mode == 3)
        f->off[S_VEC] = clamp((long long)f->off[S_OUT], rows, f->len);

    const unsigned kind = fault % 16;
    f->fault = kind < 9 ? F_NONE : (enum fz_fault)(kind - 9 + F_NULL);
    f->which = fault >> 4;
    f->huge = huge_values[(f->which >> 2) % COUNT(huge_values)];

    f->opts.label_smoothing = option(&r, smoothing_ok, COUNT(smoothing_ok),
                                     smoothing_bad, COUNT(smoothing_bad));
    f->opts.grad_scale = option(&r, scale_ok, COUNT(scale_ok), scale_bad,
                                COUNT(scale_bad));
    const unsigned ib = byte(&r);
    f->opts.ignore_index = ib < 0x80   ? -100
                           : ib < 0xC0 ? (int32_t)ib - 0x80 - 2
                                       : (int32_t)raw32(&r);

    /* The arena: the sentinel everywhere, then targets, in0, in1 (which
     * may overwrite part of in0). */
    f->snap = malloc(f->len * sizeof *f->snap);
    if (!f->snap)
        abort();
    for (size_t i = 0; i < f->len; i++)
        f->snap[i] = sentinel();
    for (size_t i = 0; i < rows; i++) {
        const int32_t t = target(&r, cols, f->opts.ignore_index);
        memcpy(&f->snap[f->off[S_TARGETS] + i], &t, sizeof t);
    }
    for (int s = S_IN0; s <= S_IN1; s++)
        for (size_t i = 0; i < rows; i++)
            for (size_t j = 0; j < cols; j++)
                f->snap[f->off[s] + i * f->ld[s] + j] = value(&r, &g, sigma);
}
