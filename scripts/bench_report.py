#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Turn smxbench's Google Benchmark JSON into a Markdown table (and a PNG).

One row per op x shape; one GB/s column per ISA (and peer) that ran; the
speedup of the best libsmxkern ISA over scalar and its time per element; the
floor of that shape, memcpy (one read, one write) or, for ops that read two
arrays and write one, add (out = a + b), and the best ISA as a percentage of
the floor's GB/s. With repetitions, medians are used.

    scripts/bench_report.py bench-results/latest.json [--plot PATH | --no-plot]
"""
import argparse
import json
import os
import statistics
import sys

ISAS = ["scalar", "avx2", "avx512", "neon"]  # libsmxkern; others are peers
PEER_NAMES = {"onednn": "oneDNN", "pytorch": "PyTorch"}
FLOORS = ["memcpy", "add"]
# Ops that read two arrays and write one: their floor is add, not memcpy.
TWO_READ_OPS = {"softmax_jvp", "softmax_vjp", "log_softmax_jvp",
                "log_softmax_vjp", "cross_entropy_soft"}
OPS = ["softmax", "log_softmax", "logsumexp", "softmax_jvp", "softmax_vjp",
       "log_softmax_jvp", "log_softmax_vjp", "cross_entropy",
       "cross_entropy_soft"]


def load(path):
    """-> (context, {(op, impl, shape): {'gbs':, 'eps':}}, {impl: reason},
    shapes in suite order, repetitions)."""
    with open(path) as f:
        doc = json.load(f)
    runs, medians, skipped, shapes = {}, {}, {}, []
    reps = 1
    for b in doc.get("benchmarks", []):
        parts = b.get("run_name", b["name"]).split("/")
        if len(parts) == 2:
            key = (parts[0], "", parts[1])  # memcpy/<shape>, add/<shape>
        elif len(parts) == 3:
            key = tuple(parts)
        else:
            continue
        if key[2] not in shapes:
            shapes.append(key[2])
        if b.get("error_occurred"):
            skipped.setdefault(key[1], b.get("error_message", "error"))
            continue
        reps = max(reps, int(b.get("repetitions", 1)))
        val = (b.get("bytes_per_second", 0.0), b.get("items_per_second", 0.0))
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[key] = val
        else:
            runs.setdefault(key, []).append(val)
    results = {}
    for key in set(runs) | set(medians):
        if key in medians:
            bps, ips = medians[key]
        else:  # no aggregate (e.g. 1 repetition): median of what there is
            bps = statistics.median(v[0] for v in runs[key])
            ips = statistics.median(v[1] for v in runs[key])
        results[key] = {"gbs": bps / 1e9, "eps": ips}
    # An impl that ran somewhere was not skipped as a whole.
    ran = {k[1] for k in results}
    skipped = {i: r for i, r in skipped.items() if i not in ran}
    # Random interleaving scrambles the JSON's order; smxbench records the
    # suite's own order of shapes in its context.
    ctx = doc.get("context", {})
    order = ctx.get("smxkern_shapes", "").split(",")
    shapes.sort(key=lambda s: order.index(s) if s in order else len(order))
    return ctx, results, skipped, shapes, reps


def fmt(x):
    if x is None:
        return "–"
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def peer_label(peer, ctx):
    """'onednn 2.6.3 (avx512_core_amx)' from what smxbench's context says."""
    version, isa = ctx.get(f"{peer}_version"), ctx.get(f"{peer}_isa")
    return peer + (f" {version}" if version else "") + (f" ({isa})" if isa else "")


def table(ctx, results, skipped, shapes, reps, source):
    impls = [i for i in ISAS if any(k[1] == i for k in results)]
    peers = sorted({k[1] for k in results} - set(ISAS) - {""})
    ops = [o for o in OPS if any(k[0] == o for k in results)]
    ops += sorted({k[0] for k in results} - set(OPS) - set(FLOORS))
    out = []
    model = ctx.get("cpu_model", "unknown CPU")
    out.append(f"Throughput in GB/s (10^9 bytes/s, per the suite's bytes-per-"
               f"element table), {model}, one core, "
               f"{'median of %d repetitions' % reps if reps > 1 else '1 run'};"
               f" {os.path.basename(source)}, {ctx.get('date', '?')}.")
    out.append("")
    cols = impls + peers
    head = ["op", "shape"] + cols + ["best/scalar", "ns/elt", "floor", "% floor"]
    out.append("| " + " | ".join(head) + " |")
    out.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|")
    for op in ops:
        for shape in shapes:
            vals = {c: results.get((op, c, shape), {}).get("gbs") for c in cols}
            if all(v is None for v in vals.values()):
                continue
            own = {i: vals[i] for i in impls if vals[i] is not None}
            best = max(own, key=own.get) if own else None
            floor = "add" if op in TWO_READ_OPS else "memcpy"
            mem = results.get((floor, "", shape), {}).get("gbs")
            speed = (f"{own[best] / own['scalar']:.2f}x ({best})"
                     if best and own.get("scalar") else "–")
            eps = results.get((op, best, shape), {}).get("eps") if best else None
            nspe = f"{1e9 / eps:.3f}" if eps else "–"
            pct = (f"{100 * own[best] / mem:.{0 if own[best] >= 0.1 * mem else 1}f}%"
                   if best and mem else "–")
            out.append("| " + " | ".join(
                [op, shape] + [fmt(vals[c]) for c in cols] +
                [speed, nspe, f"{floor} {fmt(mem)}" if mem else "–", pct]) + " |")
    out.append("")
    for impl, why in sorted(skipped.items()):
        out.append(f"- {impl}: {why}")
    if peers:
        out.append("- peers: " + ", ".join(peer_label(p, ctx) for p in peers))
    return "\n".join(out)


# The performance targets of the x86 kernels (issue 4), stated for AVX-512
# on AMD Zen 4: --targets checks a run against them, on whatever machine.
IN_CACHE = ["1x1000", "64x1000", "1x32000", "8x128256", "4096x128",
            "1024x1024"]
FORWARD_OPS = ["softmax", "log_softmax", "logsumexp", "cross_entropy",
               "cross_entropy_soft"]
LONG_ROW = "1x4194304"
SIMD = ["avx2", "avx512", "neon"]
# Shapes the suite shows beside the but does not judge: rows far
# shorter than any the targets were stated for.
NOT_JUDGED = ["4096x8"]


def targets(results, shapes):
    """-> Markdown lines: each target, how many cases meet it, and the cases
    (all of them for the short lists, the misses for the long ones)."""
    def ns(op, impl, shape):
        r = results.get((op, impl, shape))
        return 1e9 / r["eps"] if r and r.get("eps") else None

    def best_simd(op, shape):
        t = [x for x in (ns(op, i, shape) for i in SIMD) if x is not None]
        return min(t) if t else None

    out = ["", "Targets (issue 4, stated for AVX-512 on Zen 4; * = missed):", ""]
    shown = [sh for sh in shapes if sh in NOT_JUDGED]
    shapes = [sh for sh in shapes if sh not in NOT_JUDGED]

    def verdict(title, cases, list_all):  # cases: (label, value, met)
        if not cases:
            out.append(f"- {title}: no cases in this run")
            return
        met = sum(1 for c in cases if c[2])
        out.append(f"- {title}: {met} of {len(cases)} met")
        shown = cases if list_all else [c for c in cases if not c[2]]
        if shown:
            out.append("  " + ("" if list_all else "misses: ") + ", ".join(
                f"{c[0]} {c[1]}{'*' if list_all and not c[2] else ''}"
                for c in shown))

    # library ops only: softmax_sleef is a bench variant, not an operation
    ops = [o for o in OPS if any(k[0] == o for k in results)]
    verdict("AVX-512 at most 0.30 ns per element on the in-cache shapes",
            [(f"{op} {sh}", f"{t:.3f}", t <= 0.30)
             for op in FORWARD_OPS for sh in IN_CACHE
             if (t := ns(op, "avx512", sh)) is not None], True)
    mem = ns("memcpy", "", LONG_ROW)
    verdict(f"AVX-512 {LONG_ROW} at 80% of memcpy or more (memcpy's time per"
            " element over the op's; logsumexp writes no row)",
            [(op, f"{100 * mem / t:.0f}%", mem / t >= 0.80)
             for op in FORWARD_OPS[:4]
             if mem and (t := ns(op, "avx512", LONG_ROW)) is not None], True)
    verdict("softmax JVP/VJP within 10% of add (best ISA's time over add's)",
            [(f"{op} {sh}", f"{q:.2f}", q <= 1.10)
             for op in ("softmax_jvp", "softmax_vjp") for sh in shapes
             if (t := best_simd(op, sh)) and (add := ns("add", "", sh))
             and (q := t / add)], True)
    verdict("AVX2 within 1.5x of AVX-512 (time ratio)",
            [(f"{op} {sh}", f"{q:.2f}", q <= 1.5)
             for op in ops for sh in shapes
             if (a2 := ns(op, "avx2", sh)) and (a5 := ns(op, "avx512", sh))
             and (q := a2 / a5)], False)
    verdict("every SIMD ISA at least 8x the scalar reference",
            [(f"{op} {isa} {sh}", f"{q:.1f}x", q >= 8.0)
             for op in ops for sh in shapes for isa in SIMD
             if (sc := ns(op, "scalar", sh)) and (t := ns(op, isa, sh))
             and (q := sc / t)], False)
    for peer in sorted({k[1] for k in results} - set(ISAS) - {""}):
        cases = [(f"{op} {sh}", f"{q:.2f}", q < 1.0)
                 for op in ops for sh in shapes
                 if (t := ns(op, peer, sh)) and (b := best_simd(op, sh))
                 and (q := b / t)]
        verdict(f"faster than {PEER_NAMES.get(peer, peer)} on every shared"
                " case (our time over theirs)", cases, False)
        if cases:
            c = max(cases, key=lambda c: float(c[1]))
            out.append(f"  closest: {c[0]} {c[1]}")
    if shown:
        out.append(f"- not judged (shapes beyond the issue's): {', '.join(shown)}")
    return out


def warnings(ctx):
    w = []
    bt, opt = ctx.get("smxkern_buildtype"), ctx.get("smxkern_optimization")
    if bt is None:
        w.append("the JSON does not say how libsmxkern was built")
    elif opt not in ("2", "3") or bt in ("debug", "plain"):
        w.append(f"libsmxkern was built with buildtype={bt}, optimization={opt}:"
                 " numbers are not representative (use scripts/bench.sh)")
    if ctx.get("cpu_scaling_enabled"):
        w.append("CPU frequency scaling was enabled during the run")
    if ctx.get("library_build_type") == "debug":
        w.append("note: Google Benchmark itself is a debug build (Debian's"
                 " package); that only affects its bookkeeping, not the timed"
                 " calls")
    return w


def plot(results, shapes, ctx, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"note: matplotlib not found for {sys.executable}, no plot "
              "(apt-get install python3-matplotlib)", file=sys.stderr)
        return False
    ops = [o for o in OPS if any(k[0] == o for k in results)]
    if not ops:
        return False
    impls = [i for i in ISAS if any(k[1] == i for k in results)]
    impls += sorted({k[1] for k in results} - set(ISAS) - {""})
    dims = {s: tuple(int(v) for v in s.split("x")) for s in shapes}
    ncol = min(3, len(ops))
    nrow = (len(ops) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(5 * ncol, 3.6 * nrow),
                             squeeze=False, sharey=True)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    series = [("", "memcpy", "0.6")] + [
        (i, i, colors[n % len(colors)]) for n, i in enumerate(impls)]
    for ax, op in zip(axes.flat, ops):
        for impl, label, color in series:
            key_op = "memcpy" if impl == "" else op
            # Single rows as a line; batches as bare markers, since several
            # batches share a row length (8x32000 in cache, 256x32000 not).
            for batched, style in ((False, "o-"), (True, "s")):
                pts = sorted((dims[s][1], results[(key_op, impl, s)]["gbs"])
                             for s in shapes if (key_op, impl, s) in results
                             and (dims[s][0] > 1) == batched)
                if pts:
                    ax.plot(*zip(*pts), style, color=color, ms=4,
                            mfc="none" if batched else color,
                            label=f"{label}{' (batched)' if batched else ''}")
        ax.set_title(op, fontsize=10)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlabel("row length (cols)")
    for ax in axes[:, 0]:
        ax.set_ylabel("GB/s")
    for ax in list(axes.flat)[len(ops):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)),
               fontsize=8, frameon=False)
    fig.suptitle(f"libsmxkern throughput, one core, "
                 f"{ctx.get('cpu_model', '')}", fontsize=11)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", help="Google Benchmark JSON written by smxbench")
    ap.add_argument("--plot", metavar="PATH",
                    help="PNG to write (default: next to the JSON)")
    ap.add_argument("--no-plot", action="store_true", help="table only")
    ap.add_argument("--targets", action="store_true",
                    help="also check the run against the x86 kernels' "
                         "performance targets")
    a = ap.parse_args()
    try:
        ctx, results, skipped, shapes, reps = load(a.json)
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"{a.json}: not a readable smxbench JSON ({e})")
    if not results:
        sys.exit(f"{a.json}: no successful benchmark results")
    for w in warnings(ctx):
        print(w if w.startswith("note:") else f"WARNING: {w}", file=sys.stderr)
    print(table(ctx, results, skipped, shapes, reps, a.json))
    if a.targets:
        print("\n".join(targets(results, shapes)))
    if not a.no_plot:
        path = a.plot or os.path.splitext(a.json)[0] + ".png"
        if plot(results, shapes, ctx, path):
            print(f"plot: {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
