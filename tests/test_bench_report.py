#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""scripts/bench_report.py --targets on a synthetic run whose every case sits
just inside or just outside its target, so each verdict is known.

    test_bench_report.py scripts/bench_report.py
"""
import importlib.util
import json
import os
import subprocess
import sys
import tempfile

REPORT = sys.argv[1]

# (op, impl, shape) -> ns per element; impl "" for the floors
NS = {
    ("softmax", "avx512", "1x1000"): 0.29,      # <= 0.30: met
    ("softmax", "avx512", "64x1000"): 0.31,     # missed
    ("softmax", "avx2", "1x1000"): 0.29 * 1.4,  # AVX2 ratio 1.40: met
    ("softmax", "avx2", "64x1000"): 0.31 * 1.6,  # 1.60: missed
    ("softmax", "scalar", "1x1000"): 0.29 * 12,  # 12x and 8.6x: met
    ("softmax", "scalar", "64x1000"): 0.31 * 9,  # 9x met, 5.6x (AVX2) missed
    ("softmax", "onednn", "1x1000"): 0.35,      # ours faster: met
    ("softmax", "onednn", "64x1000"): 0.30,     # ours slower: missed
    ("softmax", "pytorch", "1x1000"): 0.80,     # each peer judged alone
    ("softmax", "pytorch", "64x1000"): 0.25,
    ("memcpy", "", "1x4194304"): 0.25,
    ("softmax", "avx512", "1x4194304"): 0.30,   # 83% of memcpy: met
    ("cross_entropy", "avx512", "1x4194304"): 0.33,  # 76%: missed
    ("add", "", "1x1000"): 0.10,
    ("softmax_jvp", "avx512", "1x1000"): 0.105,  # 1.05 of add: met
    ("softmax_vjp", "avx512", "1x1000"): 0.12,   # 1.20: missed
    ("softmax_vjp", "avx2", "1x1000"): 0.13,     # the best ISA counts
    # a shape shown but not judged: would miss every target it enters
    ("softmax", "avx512", "4096x8"): 0.50,
    ("softmax", "avx2", "4096x8"): 1.00,
    ("softmax", "scalar", "4096x8"): 1.00,
    ("softmax", "onednn", "4096x8"): 0.40,
    ("add", "", "4096x8"): 0.10,
    ("softmax_jvp", "avx512", "4096x8"): 0.50,
}


def bench_json(ns):
    runs = []
    for (op, impl, shape), t in ns.items():
        name = f"{op}/{shape}" if impl == "" else f"{op}/{impl}/{shape}"
        runs.append({"name": name + "_median", "run_name": name,
                     "run_type": "aggregate", "aggregate_name": "median",
                     "repetitions": 5, "items_per_second": 1e9 / t,
                     "bytes_per_second": 8e9 / t})
    shapes = sorted({k[2] for k in ns})
    return {"context": {"smxkern_shapes": ",".join(shapes),
                        "pytorch_version": "1.13.0", "pytorch_isa": "best",
                        "smxkern_buildtype": "release",
                        "smxkern_optimization": "3"},
            "benchmarks": runs}


def line_of(lines, start):
    found = [i for i, l in enumerate(lines) if l.startswith(start)]
    assert len(found) == 1, f"one line starting {start!r} in:\n" + "\n".join(lines)
    return found[0]


def main():
    spec = importlib.util.spec_from_file_location("bench_report", REPORT)
    rep = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rep)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "run.json")
        with open(path, "w") as f:
            json.dump(bench_json(NS), f)
        ctx, results, _, shapes, _ = rep.load(path)
        lines = rep.targets(results, shapes)
        # the command line prints the same section after the table
        out = subprocess.run([sys.executable, REPORT, "--no-plot", "--targets",
                              path], capture_output=True, text=True, check=True)
        assert "\n".join(lines) in out.stdout, out.stdout
        # the table names each peer, with what the context says of it
        assert "\n- peers: onednn, pytorch 1.13.0 (best)\n" in out.stdout, out.stdout
    text = "\n".join(lines)
    print(text)

    # each target: its line's start, its count, the lines that follow it
    want = [
        ("- AVX-512 at most 0.30", "1 of 2 met",
         ["softmax 1x1000 0.290, softmax 64x1000 0.310*"]),
        ("- AVX-512 1x4194304", "1 of 2 met",
         ["softmax 83%, cross_entropy 76%*"]),
        ("- softmax JVP/VJP", "1 of 2 met",
         ["softmax_jvp 1x1000 1.05, softmax_vjp 1x1000 1.20*"]),
        ("- AVX2 within 1.5x", "2 of 3 met",  # softmax_vjp's 1.08 too
         ["misses: softmax 64x1000 1.60"]),
        ("- every SIMD ISA at least 8x", "3 of 4 met",
         ["misses: softmax avx2 64x1000 5.6x"]),
        ("- faster than oneDNN", "1 of 2 met",
         ["misses: softmax 64x1000 1.03", "closest: softmax 64x1000 1.03"]),
        ("- faster than PyTorch", "1 of 2 met",
         ["misses: softmax 64x1000 1.24", "closest: softmax 64x1000 1.24",
          "- not judged (shapes beyond the issue's): 4096x8"]),
    ]
    for start, count, after in want:
        i = line_of(lines, start)
        assert lines[i].endswith(count), (lines[i], count)
        got = [l.strip() for l in lines[i + 1:i + 1 + len(after)]]
        assert got == after, (start, got, after)
    # a run without AVX-512 (or without the shapes) says so, target by target
    ns2 = {k: t for k, t in NS.items() if k[1] != "avx512"}
    results2 = {k: {"gbs": 8 / t, "eps": 1e9 / t} for k, t in ns2.items()}
    lines2 = rep.targets(results2, sorted({k[2] for k in ns2}))
    for start in ("- AVX-512 at most 0.30", "- AVX-512 1x4194304",
                  "- AVX2 within 1.5x"):
        i = line_of(lines2, start)
        assert lines2[i].endswith(": no cases in this run"), lines2[i]
    print("bench_report targets: ok")


if __name__ == "__main__":
    main()
