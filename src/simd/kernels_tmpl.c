/* SPDX-License-Identifier: MIT */
/*
 * Every operation, written once against the vector vocabulary of a
 * vec_<isa>.h header, which the including file (kernels_<isa>.c) provides.
 *
 * Structure:
 * - Rows are processed in blocks of BLOCK elements. Sums are taken in float
 *   within a block (at most BLOCK / (4 VLEN) terms per lane) and added up in
 *   double across blocks, which keeps the accuracy bar for rows of 2^20 and
 *   more, where a running float sum would not.
 * - Row statistics (max M and S = sum exp(x - M)) come from one pass over
 *   memory, "online" by block: each block's max is taken while the block is
 *   in L1, S is rescaled when M grows, then the block's exps are summed.
 * - Softmax and cross-entropy (class or soft targets, with a gradient) of
 *   rows that fit in cache store exp(x - M) during the sum and turn it into
 *   the output afterwards (one exp per element); log-softmax stores x - M
 *   and subtracts log S. Longer rows recompute the exp (or x - M) in the
 *   output pass instead (two reads of x, one write of y, rather than two
 *   reads and two writes). Rows of up to 8 vectors stay in registers from
 *   load to store.
 * - Backward ops write row r while they reduce row r + 1 (one loop, so the
 *   reduction's loads issue beside the output's stores).
 * - A row whose maximum is NaN or infinite is handed to the scalar reference,
 *   which defines those limits; a NaN elsewhere shows up as a NaN sum, and
 *   the row's results are NaN. So is a soft cross-entropy row whose targets
 *   sum to inf or NaN.
 *
 * Parts, included in this order, each building on those before it:
 * blocks_tmpl.c (reductions, the exp-sum pass, row statistics, output
 * passes), rows_regs_tmpl.c (rows held in registers), rows_packed_tmpl.c
 * (short rows two or four to a vector; the backward and cross-entropy
 * parts pack theirs with its pack_rows), rows_lanes_tmpl.c (rows of up to
 * a vector, one per lane, where the vector layer transposes), forward_tmpl.c
 * (softmax, log-softmax, logsumexp), backward_tmpl.c (JVPs and VJPs),
 * xent_tmpl.c and xent_soft_tmpl.c (cross-entropy), then the table below.
 */
#include <float.h>
#include <math.h>
#include <stdint.h>

#include "../kernels.h"
#include "../scalar/scalar.h"
#include "exp.h"
#include "log.h"

#define CAT2(a, b) a##_##b
#define CAT(a, b) CAT2(a, b)

#define BLOCK 2048                 /* elements; 8 KiB stays in L1 */
#define SHORT_ROW ((size_t)1 << 18) /* store-then-scale up to this (1 MiB) */
/* Rows up to GROUP_ROW elements are processed GROUP at a time, phase by
 * phase (all maxima, then all sums, then all outputs): each row alone is a
 * serial chain of reductions, and side by side the chains overlap. */
#define GROUP 4
#define GROUP_ROW 1024 /* <= BLOCK: a grouped row is one block */

#include "blocks_tmpl.c"
#include "rows_regs_tmpl.c"
#include "rows_packed_tmpl.c"
#include "rows_lanes_tmpl.c"
#include "forward_tmpl.c"
#include "backward_tmpl.c"
#include "xent_tmpl.c"
#include "xent_soft_tmpl.c"

/* ---- the table ------------------------------------------------------------ */

const smx_kernels CAT(smx_kernels, VEC_ISA) = {
    .isa = VEC_ISA_ENUM,
    .softmax = softmax,
    .log_softmax = log_softmax,
    .logsumexp = logsumexp,
    .softmax_jvp = softmax_jvp,
    .log_softmax_jvp = log_softmax_jvp,
    .log_softmax_vjp = log_softmax_vjp,
    .xent = xent,
    .xent_soft = xent_soft,
};
