"""Trade-off report for every technique on the real dev set, in one run.

Leak-free (embcompress.protocol): fits each spec on the first 10,000 rows of
../shared/data/dev_docstrings_minilm384.parquet that are not ground-truth queries, encodes
all 15,559 rows, and scores the 1,000 queries against the codes only (self-matches excluded).
Each fitted artifact is also loaded and used to encode in a fresh Python process, and the
bytes are compared. A second table shows feature hashing's inner-product distortion against
the number of buckets n and hash functions k.

    python benchmarks/techniques.py                       # everything (OPQ32,PQ32 trains for minutes)
    python benchmarks/techniques.py --specs 'TOPK32;MP48' # a subset
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import embcompress as ec
from embcompress.protocol import DevProtocol
from embcompress.techniques.hashing import hashing_matrix

import devset

SPECS = ["SQ8", "PCA128,SQ8", "UNIT,PCA128,SQ8", "DISTILL128,SQ8", "TRUNC128,SQ8", "PRUNE256,SQ8", "PRUNE256_imp,SQ8",
         "HASH256x2,SQ8", "HASH512x2,SQ8", "TOPK32", "MP48", "PCA256,MP48", "PCA256,MP32", "PCA128,MP32",
         "OPQ32,PQ32", "BIN", "RaBitQ"]
K = 10
_CHILD = "import sys, numpy as np, embcompress as ec; " \
         "sys.stdout.buffer.write(ec.load(sys.argv[1]).encode(np.load(sys.argv[2])).tobytes())"


def fresh_process_encode(codec, x, tmp) -> bool:
    path = os.path.join(tmp, "codec.ecz")
    codec.save(path, overwrite=True)
    np.save(os.path.join(tmp, "x.npy"), x)
    out = subprocess.run([sys.executable, "-c", _CHILD, path, os.path.join(tmp, "x.npy")],
                         capture_output=True, check=True).stdout
    return out == codec.encode(x).tobytes()


def hashing_table(x, rng):
    pairs = rng.integers(0, len(x), (20000, 2))
    exact = np.einsum("ij,ij->i", x[pairs[:, 0]], x[pairs[:, 1]])
    lines = ["| n buckets | k | mean abs IP error | error / mean abs IP | recall@10 (HASH{n}x{k},Flat) |",
             "|---|---|---|---|---|"]
    return lines, pairs, exact


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--specs", default=";".join(SPECS), help="semicolon-separated specs")
    parser.add_argument("--no-hashing-table", action="store_true")
    args = parser.parse_args(argv)
    ids, x, query_ids, truth = devset.load_dev()
    dev = DevProtocol.from_dev(ids, x, query_ids, truth)
    rows = dev.query_rows
    train = dev.fit_sample
    lines = ["| spec | bytes/vec | recall@10 | MSE | fit s | encode rows/s | fresh-process bytes equal "
             "| PCA{n},SQ8 at the same bytes | beats it |", "|---|---|---|---|---|---|---|---|---|"]
    pca = {}  # bytes -> recall@10 of PCA{bytes},SQ8 (PCA to d is SQ8 itself), measured once per size
    with tempfile.TemporaryDirectory() as tmp:
        for spec in [s.strip() for s in args.specs.split(";") if s.strip()]:
            t = time.perf_counter()
            codec = ec.fit(spec, train, holdout=0)
            fit_s = time.perf_counter() - t
            m = dev.measure(codec, K)
            same = fresh_process_encode(codec, x[:500], tmp)
            ref = f"PCA{codec.code_size},SQ8" if codec.code_size < x.shape[1] else "SQ8"
            if codec.code_size not in pca:
                pca[codec.code_size] = dev.measure(ec.fit(ref, train, holdout=0), K)[f"recall@{K}"]
            gain = m[f"recall@{K}"] - pca[codec.code_size]
            verdict = "(is it)" if spec == ref else "yes" if gain > 0.005 else "no" if gain < -0.005 else "tie"
            lines.append(f"| {spec} | {codec.code_size} | {m[f'recall@{K}']:.3f} | {m['mse']:.4f} | "
                         f"{fit_s:.1f} | {m['encode_rows_per_s']:,.0f} | {'yes' if same else 'NO'} | "
                         f"{ref} {pca[codec.code_size]:.3f} | {verdict} ({gain:+.3f}) |")
            print(lines[-1], flush=True)
    print("\n" + "\n".join(lines))
    if args.no_hashing_table:
        return
    rng = np.random.default_rng(0)
    hl, pairs, exact = hashing_table(x, rng)
    for n in (128, 256, 512, 1024):
        for k in (1, 2, 4):
            p = hashing_matrix(x.shape[1], n, k, seed=0)
            h = x @ p
            err = np.abs(np.einsum("ij,ij->i", h[pairs[:, 0]], h[pairs[:, 1]]) - exact)
            found, _ = ec.exact_search(h[rows], h, K, exclude=rows)
            hl.append(f"| {n} | {k} | {err.mean():.4f} | {err.mean() / np.abs(exact).mean():.3f} | "
                      f"{ec.recall_at_k(found, truth, K):.3f} |")
    print("\nFeature hashing: inner-product distortion on 20,000 random pairs of real embeddings\n")
    print("\n".join(hl))


if __name__ == "__main__":
    main()
