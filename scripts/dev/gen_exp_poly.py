#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Derives the constants of the inline exp in src/simd/exp.h.

exp(x) = 2^n * exp(r), n = round(x / ln2), r = x - n*ln2 in [-ln2/2, ln2/2],
with ln2 split Cody-Waite style into LN2_HI (trailing zero bits, so n*LN2_HI
is exact for |n| < 2^12) and LN2_LO. exp(r) ~ 1 + r*P(r), P of degree 4,
fitted by the Remez exchange algorithm to minimise the RELATIVE error of
exp(r), then rounded to float. The powers r..r^5 all vanish at 0 and are
not a Haar system, so the fit is posed as P ~ g(r) = (exp(r) - 1) / r on
1..r^4 with a weight that makes the error be counted in ulps of the float
result: the relative error |r| exp(-r) (P - g) times the mantissa that
exp(r) has once normalized to [1, 2) (exp(r) for r >= 0, 2 exp(r) below),
since an ulp is relatively twice as large at mantissa 1 as at mantissa 2. 
--table B fits the table variant instead: n = round(x 2^B / ln2) / 2^B,
exp(x) = 2^floor(n) * 2^frac(n) * exp(r) with 2^frac(n) from a table of
2^B entries (also printed) and r in [-ln2/2^(B+1), ln2/2^(B+1)]; the
polynomial is then short, and its error is counted relative to exp(r)
(the table entry sets the mantissa, so no ulp weight applies).

Needs mpmath (Debian: python3-mpmath).
Run it and compare its output with the constants in src/simd/exp.h:
    gen_exp_poly.py               degree-6 exp(r), the polynomial method
    gen_exp_poly.py --table 4     degree-3 exp(r), the 16-entry table method
"""
import argparse
import struct
from mpmath import mp, mpf, exp, log, matrix, lu_solve

mp.dps = 50
ap = argparse.ArgumentParser()
ap.add_argument('--table', type=int, default=0, metavar='B',
                help='table of 2^B entries of 2^(j/2^B) (default 0: none)')
ap.add_argument('--deg', type=int, default=None,
                help='degree of P in exp(r) ~ 1 + r P(r) (default 5, or 2 with a table)')
args = ap.parse_args()
TABLE = args.table
DEG = args.deg if args.deg is not None else (2 if TABLE else 5)
A = log(2) / 2 ** (TABLE + 1)


def to_f32(v):
    return struct.unpack('<f', struct.pack('<f', float(v)))[0]


def hexf(v):
    return float(v).hex()


def g(r):
    return (exp(r) - 1) / r if r != 0 else mpf(1)


def mantissa(r):
    if TABLE:
        return 1
    return exp(r) if r >= 0 else 2 * exp(r)


def weighted_err(c, r):
    """The error in units of 2^-23 relative to exp(r)'s leading bit, up to
    its sign: (P - g) |r| exp(-r) mantissa(r)."""
    return rel_err(c, r) * (1 if r >= 0 else -1) * mantissa(r)


def rel_err(c, r):
    p = mpf(0)
    for ck in reversed(c):
        p = p * r + ck
    return (1 + r * p - exp(r)) / exp(r)


def remez():
    n = DEG + 2  # unknowns: c0..c4 and E
    # Chebyshev nodes, nudged off r = 0 where the weight vanishes
    pts = [A * mp.cos(mp.pi * (n - 1 - i) / (n - 1)) + A / 1000 for i in range(n)]
    pts[-1] = A
    for _ in range(30):
        m = matrix(n, n)
        b = matrix(n, 1)
        for i, r in enumerate(pts):
            for k in range(DEG + 1):
                m[i, k] = r ** k
            m[i, DEG + 1] = -((-1) ** i) * exp(r) / (abs(r) * mantissa(r))
            b[i] = g(r)
        sol = lu_solve(m, b)
        c = [sol[k] for k in range(DEG + 1)]
        # New reference: the largest |error| within each run of one sign.
        grid = [-A + 2 * A * i / 4000 for i in range(4001) if i != 2000]
        errs = [weighted_err(c, r) for r in grid]
        cand, best = [], None
        for r, e in zip(grid, errs):
            if best is not None and (e > 0) != (best[1] > 0):
                cand.append(best)
                best = None
            if best is None or abs(e) > abs(best[1]):
                best = (r, e)
        cand.append(best)
        while len(cand) > n:  # drop the smaller end extremum
            cand.pop(0 if abs(cand[0][1]) < abs(cand[-1][1]) else -1)
        pts = [r for r, _ in cand]
    return c, max(abs(e) for e in errs)


c, err = remez()
ln2 = log(2)
ln2_hi = mpf(to_f32(ln2))
# clear the low 12 bits of the float's mantissa for an exact n*LN2_HI
bits = struct.unpack('<I', struct.pack('<f', float(ln2_hi)))[0] & ~0xFFF
ln2_hi = mpf(struct.unpack('<f', struct.pack('<I', bits))[0])
ln2_lo = to_f32(ln2 - ln2_hi)
print(f"/* minimax error of exp(r) ~ 1 + r*P(r), |r| <= {float(A):.6g}, before float"
      f" rounding: {float(err) * 2**23:.4f} ulp */")
print(f"LOG2E  {hexf(to_f32(1 / ln2))}f")
print(f"LN2_HI {hexf(ln2_hi)}f")
print(f"LN2_LO {hexf(ln2_lo)}f")
for k, ck in enumerate(c):
    print(f"C{k}     {hexf(to_f32(ck))}f   /* {float(ck):.9g} */")
for j in range(2 ** TABLE if TABLE else 0):
    print(f"T[{j:2}]  {hexf(to_f32(mpf(2) ** (mpf(j) / 2 ** TABLE)))}f")
