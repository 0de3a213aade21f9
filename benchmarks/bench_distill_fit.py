"""How long DISTILL takes to fit at scale: 100,000 x 768-d on this machine.

    python benchmarks/bench_distill_fit.py [--rows 100000] [--dim 768] [--spec DISTILL128,SQ8]

The data is seeded low-rank synthetic data with a decaying spectrum (the real dev set is
384-d and 15,559 rows); it prints fit seconds and the student's held-back recall.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import embcompress as ec


def low_rank(n, d, rank=64, seed=0):
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((rank, d)).astype(np.float32)
    weights = (rng.standard_normal((n, rank)) / np.sqrt(np.arange(1, rank + 1))).astype(np.float32)
    x = weights @ basis + 0.05 * rng.standard_normal((n, d)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--spec", default="DISTILL128,SQ8")
    args = parser.parse_args(argv)
    x = low_rank(args.rows, args.dim)
    start = time.perf_counter()
    codec = ec.fit(args.spec, x, seed=0)
    seconds = time.perf_counter() - start
    print("| spec | rows | dim | fit s | held-back recall@10 (fit stats) |")
    print("|---|---|---|---|---|")
    print(f"| {args.spec} | {args.rows:,} | {args.dim} | {seconds:.1f} | {codec.fit_stats['recall_at_10']:.3f} |")


if __name__ == "__main__":
    main()
