/* SPDX-License-Identifier: MIT */
/*
 * The softmax and log-softmax JVPs and VJPs.
 * A part of the kernel template: kernels_tmpl.c includes it, in order,
 * after the parts it builds on; not a standalone header.
 */

/* The per-row constant of a backward op: <y, v> (softmax), <exp(y), v>
 * (log-softmax JVP) or sum(v) (log-softmax VJP, v = g). */
enum dot_kind { DOT_Y_V, DOT_EXPY_V, DOT_EXPY_V_NONPOS, SUM_V };

/* Whether the reduction for output kind k also takes max(y) (see
 * VEXP_ANY_COSTLY): the log-softmax JVP's to know whether the exps it took
 * with exp_nonpos were right, the VJP's to choose the exp of its output
 * pass. Folded into the reduction, the check needs no pass of its own
 * over each block: AVX2 log-softmax JVP 3-6% and VJP 3-19% faster on most
 * bench shapes (interleaved A/B; 4096x128 JVP and 1024x1024 VJP 2-3%
 * slower). */
static ALWAYS_INLINE int tracks_ymax(enum out_kind k)
{
    return VEXP_ANY_COSTLY &&
           (k == OUT_LSM_JVP || k == OUT_LSM_VJP || k == OUT_LSM_VJP_NONPOS);
}

/* One step of that reduction: acc + w(y) v, or acc + v (y's load, unused,
 * is dropped by the compiler). */
static ALWAYS_INLINE vf dot_term(enum dot_kind d, vf y, vf v, vf acc)
{
    switch (d) {
    case DOT_Y_V: return vfma(y, v, acc);
    case DOT_EXPY_V: return vfma(exp_any(y), v, acc);
    case DOT_EXPY_V_NONPOS: return vfma(exp_nonpos(y), v, acc);
    default: return vadd(acc, v);
    }
}

/* With ymax, also its max with y, as vmax(y, m): x86's max returns its
 * second operand when either is NaN, so NaNs are skipped rather than
 * displacing an earlier +inf (the reverse order lets them: a fuzzer find).
 * A NaN y gives NaN through either exp. */
static ALWAYS_INLINE vf dot_step(enum dot_kind d, vf y, vf v, vf acc,
                                 vf *ymax)
{
    if (ymax)
        *ymax = vmax(y, *ymax);
    return dot_term(d, y, v, acc);
}

/* The reduction over n <= BLOCK elements, in float (4 chains in flight),
 * and max(y) into *ymax unless ymax is NULL. Padding lanes of the tail
 * give w(y) * 0 = 0 (exp(-inf) = 0). With max_chains, the max goes in 4
 * chains too, *ymax the first: the log-softmax VJP's sum(g) pass has no
 * other work to hide one chain's latency behind (AVX2 lone rows of 1000
 * 25% faster, of 32000 15%; Intel Xeon, interleaved A/B). Steps that take
 * an exp hide it, and the pipelined rows' tail keeps one chain: there,
 * the chains' registers made GCC reload the exp's constants in the main
 * loop (log-softmax JVP 1x64 8% slower, VJP 64x1000 4%). With 16
 * registers, steps that take an exp go in two chains, as block_exp_sum's
 * (GCC kept two of four on the stack): AVX2 log-softmax JVP 1x64 0.96 of
 * the time, 1x1000 0.98, the rest 0.98-1.01. */
static ALWAYS_INLINE float block_dot(enum dot_kind d, const float *y,
                                     const float *v, size_t n, vf *ymax,
                                     int max_chains)
{
    vf s0 = vzero(), s1 = s0, s2 = s0, s3 = s0;
    vf m1 = vset1(-INFINITY), m2 = m1, m3 = m1;
#define STEP(s, m, i)                                                          \
    s = dot_step(d, vload(y + (i)), vload(v + (i)), s,                         \
                 max_chains && ymax ? (m) : ymax)
    size_t i = 0;
    for (; i + 4 * VLEN <= n; i += 4 * VLEN) {
        STEP(s0, ymax, i);
        STEP(s1, &m1, i + VLEN);
        if (d == DOT_EXPY_V || d == DOT_EXPY_V_NONPOS) {
            STEP(CHAIN_S2, &m2, i + 2 * VLEN);
            STEP(CHAIN_S3, &m3, i + 3 * VLEN);
        } else {
            STEP(s2, &m2, i + 2 * VLEN);
            STEP(s3, &m3, i + 3 * VLEN);
        }
    }
    for (; i + VLEN <= n; i += VLEN)
        STEP(s0, ymax, i);
#undef STEP
    if (i < n) {
        const float fill = d == DOT_EXPY_V || d == DOT_EXPY_V_NONPOS ? -INFINITY : 0.0f;
        s1 = dot_step(d, vload_part(y + i, n - i, fill),
                      vload_part(v + i, n - i, 0.0f), s1, ymax);
    }
    if (max_chains && ymax) /* no chain holds a NaN (see dot_step) */
        *ymax = vmax(vmax(m1, m2), vmax(m3, *ymax));
    return vhsum(vadd(vadd(s0, s1), vadd(s2, s3)));
}

/* The reduction of kind d as taken first for output kind k: the tracked
 * JVP takes its exps with exp_nonpos (see block_dot_end) */
static ALWAYS_INLINE enum dot_kind dot_first(enum out_kind k, enum dot_kind d)
{
    return tracks_ymax(k) && d == DOT_EXPY_V ? DOT_EXPY_V_NONPOS : d;
}

/* After a block [0, n) of y, v reduced as dot_first(k, d) into `sum`, with
 * max(y) in *bmax where tracked: a JVP block with some y > 0 is taken again
 * with exp_any (nothing is written from it). Adds the block's max(y) to
 * *ymax; returns the block's reduction. */
static ALWAYS_INLINE float block_dot_end(enum out_kind k, enum dot_kind d,
                                         const float *y, const float *v,
                                         size_t n, float sum, vf bmax,
                                         float *ymax)
{
    if (!tracks_ymax(k))
        return sum;
    const float m = vhmax(bmax);
    if (m > *ymax)
        *ymax = m;
    if (d == DOT_EXPY_V && m > 0.0f)
        return block_dot(DOT_EXPY_V, y, v, n, NULL, 0);
    return sum;
}

/* A row's reduction, float within blocks, double across; *ymax (tracked
 * kinds only) gets max(y) */
static ALWAYS_INLINE double row_dot(enum out_kind k, enum dot_kind d,
                                    const float *y, const float *v, size_t n,
                                    float *ymax)
{
    double s = 0.0;
    *ymax = -INFINITY;
    for (size_t b = 0; b < n; b += BLOCK) {
        const size_t len = n - b < BLOCK ? n - b : BLOCK;
        vf bmax = vset1(-INFINITY);
        const float bs = block_dot(dot_first(k, d), y + b, v + b, len,
                                   tracks_ymax(k) ? &bmax : NULL, d == SUM_V);
        s += block_dot_end(k, d, y + b, v + b, len, bs, bmax, ymax);
    }
    return s;
}

/* The next row's reduction in out_block_dot_next keeps four chains where
 * the register file holds 32 vectors. With 16 (AVX2, 32-bit NEON), the
 * output's exp constants beside four chains (and the log-softmax JVP's exp
 * in the reduction) left a chain or the max spilled to the stack in every
 * step; two chains, s2 and s3 folded into s0 and s1, remove those spills,
 * and each chain still has a whole step of output work per add. AVX2 on an
 * Intel Xeon, interleaved A/B: log-softmax JVP 64x1000 and 16x2000 7-9%
 * faster, 4096x128 3%, 8x32000 2.5%, 1024x1024 1%; the VJP and softmax
 * within 1%. AVX-512 keeps four: two measured 0.98-1.02 there. Hence
 * CHAIN_S2 and CHAIN_S3 (blocks_tmpl.c). */

/* One block [b, b + len) of out_row_dot_next (below) */
static ALWAYS_INLINE double out_block_dot_next(enum out_kind k, enum dot_kind d,
                                              const float *y, const float *v,
                                              float *o, const out_params *p,
                                              const float *yn, const float *vn,
                                              size_t b, size_t len,
                                              float *ymax_next, int stream)
{
    const enum dot_kind d1 = dot_first(k, d);
    vf bmax = vset1(-INFINITY);
    vf *const track = tracks_ymax(k) ? &bmax : NULL;
    vf s0 = vzero(), s1 = s0, s2 = s0, s3 = s0;
#define STEP(s, i) s = dot_step(d1, vload(yn + (i)), vload(vn + (i)), s, track)
    size_t i = b;
    for (; i + 4 * VLEN <= b + len; i += 4 * VLEN) {
        STEP(s0, i);
        STEP(s1, i + VLEN);
        STEP(CHAIN_S2, i + 2 * VLEN);
        STEP(CHAIN_S3, i + 3 * VLEN);
        for (size_t j = i; j < i + 4 * VLEN; j += VLEN) {
            const vf out = out_value(k, vload(y + j), vload(v + j), p);
            if (stream)
                vstream(o + j, out);
            else
                vstore(o + j, out);
        }
    }
#undef STEP
    float sum = vhsum(vadd(vadd(s0, s1), vadd(s2, s3)));
    if (i < b + len) {
        sum += block_dot(d1, yn + i, vn + i, b + len - i, track, 0);
        out_range(k, y + i, v + i, o + i, b + len - i, p, 0);
    }
    /* row r + 1 is not written yet: its block may be taken again */
    return block_dot_end(k, d, yn + b, vn + b, len, sum, bmax, ymax_next);
}

/* Writes one row's output (kind k, from y, v) while it takes the next row's
 * reduction (from yn, vn), a vector of each per step: the reduction's loads
 * then issue beside the output's stores, which two passes would serialize.
 * With `stream` (o aligned to the vector size), the whole vectors of the
 * output go with non-temporal stores. Returns the next row's constant, and
 * its max(y) where tracked. */
static ALWAYS_INLINE double out_row_dot_next(enum out_kind k, enum dot_kind d,
                                             const float *y, const float *v,
                                             float *o, const out_params *p,
                                             const float *yn, const float *vn,
                                             size_t n, float *ymax_next,
                                             int stream)
{
    double total = 0.0;
    *ymax_next = -INFINITY;
    for (size_t b = 0; b < n; b += BLOCK)
        total += out_block_dot_next(k, d, y, v, o, p, yn, vn, b,
                                    n - b < BLOCK ? n - b : BLOCK, ymax_next,
                                    stream);
    return total;
}

/* out_range over a row of n > 0 elements, block by block from the last */
static ALWAYS_INLINE void out_row_from_end(enum out_kind k, const float *y,
                                           const float *v, float *o, size_t n,
                                           const out_params *p)
{
    for (size_t b = (n - 1) / BLOCK * BLOCK;; b -= BLOCK) {
        out_range(k, y + b, v + b, o + b, n - b < BLOCK ? n - b : BLOCK, p, 0);
        if (b == 0)
            break;
    }
}

/* The output pass over a row whose reduction pass just ended. Softmax's
 * JVP walks a row of more than one block from the last block, whose
 * inputs that pass left in L1 and L2; forwards, a row that barely fits L2
 * (y and v of 8x128256) finds each block evicted just before it reads it.
 * Softmax JVP/VJP 1x32000 and 8x32000 3-7% faster, 8x128256 2-4%
 * (interleaved A/B, AVX-512 and AVX2). The log-softmax VJP's last row,
 * whose exps make it less bound by its loads, made 8x32000 3-6% slower
 * that way. Rows past SHORT_ROW go forwards, streamed (see out_row). */
static ALWAYS_INLINE void out_row_after_dot(enum out_kind k, const float *y,
                                            const float *v, float *o, size_t n,
                                            const out_params *p)
{
    if (k == OUT_JVP && n > BLOCK && n <= SHORT_ROW)
        out_row_from_end(k, y, v, o, n, p);
    else
        out_row(k, y, v, o, n, p);
}

/* out_range over a row of n <= BLOCK elements that prefetches the next
 * row's y and v (yn, vn, as long) to L1 meanwhile, for the reduction pass
 * that follows. Softmax JVP/VJP on an Intel Xeon (AVX-512, 2 MiB L2),
 * interleaved A/B: 64x1000 16% faster on AVX-512 and 32% on AVX2, 256x1000
 * 9%, 16x2000 5%; 4096x128 and 1024x1024, bound by L3 there, unchanged.
 * (Prefetching only the first 128 or 512 elements of the next row gave
 * about half of that.) Not measured on Zen4. The loop body is written out,
 * not taken as out_range steps of 2 VLEN: then GCC issues both vectors'
 * loads before the first store, and 64x1000 measured 1.2x (AVX-512) and
 * 1.7x (AVX2) slower (16x2000 and 4096x128 unchanged). Its stores are
 * aligned as out_range's (out_head): AVX-512 64x1000 10-12% faster, 64x1001
 * 16%, 64x1024 2% (a lone row of 1000, which does not come here, measured
 * 3-9% slower from the code's placement alone: built with -falign-loops=64,
 * both versions time the same). */
static ALWAYS_INLINE void out_row_prefetch_next(enum out_kind k, const float *y,
                                                const float *v, float *o,
                                                size_t n, const out_params *p,
                                                const float *yn, const float *vn)
{
    size_t i = out_head(k, y, v, o, n, p);
    if (i) { /* the lines the loop's first prefetch leaves out */
        prefetch_vecs(yn, 1, 1);
        prefetch_vecs(vn, 1, 1);
    }
    for (; i + 2 * VLEN <= n; i += 2 * VLEN) {
        prefetch_vecs(yn + i, 2, 1);
        prefetch_vecs(vn + i, 2, 1);
        vstore(o + i, out_value(k, vload(y + i), vload(v + i), p));
        vstore(o + i + VLEN, out_value(k, vload(y + i + VLEN), vload(v + i + VLEN), p));
    }
    out_range(k, y + i, v + i, o + i, n - i, p, 0);
}

/* Row r's output (kind k), and the reduction of row r + 1 unless r is the
 * last: pipelined (see backward_rows), with non-temporal stores if
 * `stream`, or in a pass of its own. */
static ALWAYS_INLINE double backward_row(enum out_kind k, enum dot_kind d,
                                         int pipelined, int stream, int last,
                                         const float *yr, size_t ldy,
                                         const float *vr, size_t ldv,
                                         float *o, size_t cols,
                                         const out_params *p, float *ymax)
{
    if (last) {
        out_row_after_dot(k, yr, vr, o, cols, p);
        return 0.0;
    }
    if (pipelined)
        return out_row_dot_next(k, d, yr, vr, o, p, yr + ldy, vr + ldv, cols,
                                ymax, stream);
    if (d == DOT_Y_V && cols <= BLOCK) /* the others pipeline such rows */
        out_row_prefetch_next(k, yr, vr, o, cols, p, yr + ldy, vr + ldv);
    else
        out_row_after_dot(k, yr, vr, o, cols, p);
    return row_dot(k, d, yr + ldy, vr + ldv, cols, ymax);
}

/* Batches of y, v and out larger than this many bytes are taken to come
 * from memory, not from a typical last-level cache (see backward_rows) */
#define CACHED_BATCH ((size_t)16 << 20)

/* backward_rows with its pass structure chosen; `stream` is a constant in
 * each use, so that the copy without it is the code it was before */
static ALWAYS_INLINE void backward_rows_as(enum out_kind k, enum dot_kind d,
                                           float sign, size_t rows,
                                           size_t cols, const float *y,
                                           size_t ldy, const float *v,
                                           size_t ldv, float *out, size_t ldo,
                                           int pipelined, int stream)
{
    float ymax = 0.0f; /* of the row to write next, where tracked */
    double c = rows ? row_dot(k, d, y, v, cols, &ymax) : 0.0;
    for (size_t r = 0; r < rows; r++) {
        const out_params p = params(0.0f, sign * (float)c, 0.0f);
        const int last = r + 1 == rows;
        const float *yr = y + r * ldy, *vr = v + r * ldv;
        float *o = out + r * ldo;
        const int stream_row =
            stream && (uintptr_t)o % (VLEN * sizeof(float)) == 0;
        if (k == OUT_LSM_VJP && tracks_ymax(k) && ymax <= 0.0f)
            c = backward_row(OUT_LSM_VJP_NONPOS, d, pipelined, stream_row,
                             last, yr, ldy, vr, ldv, o, cols, &p, &ymax);
        else
            c = backward_row(k, d, pipelined, stream_row, last, yr, ldy, vr,
                             ldv, o, cols, &p, &ymax);
    }
    if (stream)
        vstream_fence(); /* order the streamed stores before the return */
}

#if VEC_MAX_PACK
/* Rows of n <= VLEN / R, R to a vector (see rows_packed_tmpl.c): one load
 * of y and of v, one reduction (vpack_sum) and one store per R rows, the
 * exps with exp_any (no max(y) to track: exp_nonpos, where all y <= 0,
 * would save at most 3-7% on AVX-512, before the test that chooses it).
 * Padding lanes load y = v = 0: their terms are 0 (exp(0) 0), their
 * outputs are not stored. Of the rows past the last pack of four, two go
 * as a pair, a last odd row alone. Intel Xeon, interleaved A/B, ns per
 * element (before: rows one at a time, pipelined): AVX-512 softmax JVP
 * 4096x8 0.65 -> 0.14, 4096x4 1.25 -> 0.21, log-softmax JVP 4096x4 2.19
 * -> 0.32, VJP 1.77 -> 0.32; AVX2 4096x4 softmax JVP 1.05 -> 0.22,
 * log-softmax JVP 2.27 -> 0.58, VJP 2.26 -> 0.54. */
static ALWAYS_INLINE void backward_packed_as(int R, enum out_kind k,
                                             enum dot_kind d, float sign,
                                             size_t rows, size_t n,
                                             const float *y, size_t ldy,
                                             const float *v, size_t ldv,
                                             float *out, size_t ldo)
{
    const enum out_kind ko = k == OUT_LSM_VJP_NONPOS ? OUT_LSM_VJP : k;
    size_t r = 0;
    for (; r + R <= rows; r += R) {
        const vf yv = vload_pack(R, y + r * ldy, ldy, n, 0.0f);
        const vf vv = vload_pack(R, v + r * ldv, ldv, n, 0.0f);
        const vf c = vpack_sum(R, dot_term(d, yv, vv, vzero()));
        const out_params p = {vzero(), vmul(vset1(sign), c), vzero(), vzero()};
        vstore_pack(R, out + r * ldo, ldo, out_value(ko, yv, vv, &p), n);
    }
    if (R > 2 && rows - r >= 2) /* a pair of the rows left */
        backward_packed_as(2, k, d, sign, rows - r, n, y + r * ldy, ldy,
                           v + r * ldv, ldv, out + r * ldo, ldo);
    else if (r < rows)
        backward_rows_as(k, d, sign, 1, n, y + r * ldy, ldy, v + r * ldv, ldv,
                         out + r * ldo, ldo, 0, 0);
}
#endif

#if VEC_LANE_COLS
/* Rows of 2 to 16, VLEN at a time one per lane (rows_lanes_tmpl.c): the
 * reduction is n - 1 vertical operations, no horizontal one. Everything
 * is loaded before the outputs are stored, so out may be y or v. Taken
 * before the packs, except where the vector layer packs four rows
 * (AVX-512), whose packs the backward ops keep for rows of up to half a
 * vector: with no exp-sum-divide chain for the lanes to shorten, they
 * measured 0.83-1.50x the packs' time there (faster at 4 floats, slower
 * at 3 and from 5 to 8, either way at 2). Intel Xeon, interleaved A/B
 * against the packs or one row at a time: AVX2 softmax JVP 4096x8 0.49
 * -> 0.16 ns per element, 4096x4 0.23 -> 0.17, 4096x16 0.29 -> 0.19,
 * log-softmax JVP 4096x8 1.03 -> 0.49, 4096x3 0.89 -> 0.72, VJP 4096x8
 * 1.09 -> 0.48, 4096x2 1.15 -> 0.77; AVX-512 softmax JVP 4096x16 0.29 ->
 * 0.21, log-softmax JVP and VJP 4096x16 0.65-0.74 of the time. */
static ALWAYS_INLINE void backward_lanes_as(size_t n, size_t cap,
                                            enum out_kind k, enum dot_kind d,
                                            float sign, size_t rows,
                                            const float *y, size_t ldy,
                                            const float *v, size_t ldv,
                                            float *out, size_t ldo)
{
    for (size_t r = 0; r + VLEN <= rows; r += VLEN) {
        vf yc[VEC_LANE_COLS], vc[VEC_LANE_COLS], c0 = vzero(), c1 = c0;
        lanes_load(y + r * ldy, ldy, n, cap, yc);
        lanes_load(v + r * ldv, ldv, n, cap, vc);
        UNROLL_ALL
        for (size_t j = 0; j < VEC_LANE_COLS; j++) {
            if (j < cap && j < n) {
                if (j & 1)
                    c1 = dot_term(d, yc[j], vc[j], c1);
                else
                    c0 = dot_term(d, yc[j], vc[j], c0);
            }
        }
        const out_params p = {vzero(), vmul(vset1(sign), vadd(c0, c1)), vzero(), vzero()};
        UNROLL_ALL
        for (size_t j = 0; j < VEC_LANE_COLS; j++)
            if (j < cap && j < n)
                yc[j] = out_value(k, yc[j], vc[j], &p);
        lanes_store(out + r * ldo, ldo, n, cap, yc);
    }
}

/* The whole VLENs of rows; returns how many */
static ALWAYS_INLINE size_t backward_lanes(enum out_kind k, enum dot_kind d,
                                           float sign, size_t rows, size_t n,
                                           const float *y, size_t ldy,
                                           const float *v, size_t ldv,
                                           float *out, size_t ldo)
{
    LANES_BY_LENGTH(n, backward_lanes_as, k, d, sign, rows, y, ldy, v, ldv, out, ldo);
    return rows / VLEN * VLEN;
}
#endif

/* out = f(y, v, c) row by row, c the row's reduction (see dot_kind). Rows
 * of up to SHORT_ROW elements may be software-pipelined: row r is written
 * while row r + 1 is reduced. Rows do not overlap and `out` aliases an
 * input only exactly, so writing row r never changes row r + 1.
 * Measured (AVX-512, Zen4): 10-20% faster for the log-softmax ops on every
 * multi-row shape. Softmax, whose plain dot pass is cheap, gains only when
 * the rows stream from memory: pipelined, 256x32000 is 10-15% faster,
 * but 8x32000 and 8x128256 (held in L2 and L3) are up to 7% slower, and
 * 1024x1024 (rows of one block) 15% slower. So softmax pipelines only rows
 * longer than a block in batches too large for a typical last-level
 * cache.
 * Pipelined rows of such batches write with non-temporal stores where the
 * row is aligned to the vector size: the output is not read back soon,
 * and those stores skip the read for ownership from memory. 256x32000:
 * softmax JVP/VJP 8-27% faster (most on AVX-512), log-softmax JVP/VJP
 * 5-11% on AVX-512 and within noise on AVX2 (-8% to +10% between runs).
 * A lone row of up to 8 vectors held in registers from load to store, as
 * softmax forward takes it, ran fewer instructions (AVX2 softmax JVP 1x64:
 * 203 -> 155 a call) but, on an Intel Xeon, 4-7% slower for the softmax
 * JVP and log-softmax VJP 1x64, 7-10% faster for the log-softmax JVP: not
 * taken. */
static ALWAYS_INLINE void backward_rows(enum out_kind k, enum dot_kind d,
                                        float sign, size_t rows, size_t cols,
                                        const float *y, size_t ldy,
                                        const float *v, size_t ldv,
                                        float *out, size_t ldo)
{
#if VEC_LANE_COLS
    if (lane_rows(rows, cols) && (VEC_MAX_PACK < 4 || cols > VLEN / 2)) {
        const size_t done = backward_lanes(k, d, sign, rows, cols, y, ldy, v,
                                           ldv, out, ldo);
        if (done == rows)
            return;
        rows -= done;
        y += done * ldy;
        v += done * ldv;
        out += done * ldo;
    }
#endif
#if VEC_MAX_PACK
    if (rows > 1 && cols <= VLEN / 2) {
        if (pack_rows(cols) == 4)
            backward_packed_as(4, k, d, sign, rows, cols, y, ldy, v, ldv, out, ldo);
        else
            backward_packed_as(2, k, d, sign, rows, cols, y, ldy, v, ldv, out, ldo);
        return;
    }
#endif
    const int from_memory = rows * cols > CACHED_BATCH / (3 * sizeof(float));
    const int pipelined = cols <= SHORT_ROW &&
                          (d != DOT_Y_V || (cols > BLOCK && from_memory));
    if (VEC_HAS_STREAM && pipelined && from_memory)
        backward_rows_as(k, d, sign, rows, cols, y, ldy, v, ldv, out, ldo, 1, 1);
    else
        backward_rows_as(k, d, sign, rows, cols, y, ldy, v, ldv, out, ldo,
                         pipelined, 0);
}

/* out = y * (v - <y, v>) */
static void softmax_jvp(size_t rows, size_t cols, const float *y, size_t ldy,
                        const float *v, size_t ldv, float *out, size_t ldo)
{
    backward_rows(OUT_JVP, DOT_Y_V, 1.0f, rows, cols, y, ldy, v, ldv, out, ldo);
}

/* out = v - <exp(y), v> */
static void log_softmax_jvp(size_t rows, size_t cols, const float *y,
                            size_t ldy, const float *v, size_t ldv,
                            float *out, size_t ldo)
{
    backward_rows(OUT_LSM_JVP, DOT_EXPY_V, 1.0f, rows, cols, y, ldy, v, ldv,
                  out, ldo);
}

/* out = g - exp(y) * sum(g) */
static void log_softmax_vjp(size_t rows, size_t cols, const float *y,
                            size_t ldy, const float *g, size_t ldg,
                            float *out, size_t ldo)
{
    backward_rows(OUT_LSM_VJP, SUM_V, -1.0f, rows, cols, y, ldy, g, ldg, out,
                  ldo);
}
