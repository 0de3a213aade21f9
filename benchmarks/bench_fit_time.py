"""Fit time of the specs ``recommend`` proposes, on 100,000 x 768 rows with 2 threads (issue 17: < 10 min each).

The data is synthetic (the timing does not depend on it being real, only on its shape):
seeded, unit-norm, low-rank-plus-noise rows like sentence embeddings (the generator of
``make_big_parquet.py``). Each spec is fitted by ``ec.fit`` (default arguments) in its own
process, so a fit that overruns ``--timeout`` is stopped and reported as "> timeout"
(faiss training cannot be interrupted from Python); once a spec of a family (RQ, OPQ, ...)
overruns, larger members of the same family are reported as overrunning too without being
run (their training does strictly more work: more stages or sub-quantizers on the same rows).

    python benchmarks/bench_fit_time.py                          # the default list below
    python benchmarks/bench_fit_time.py --specs 'UNIT,RQ32x8_p3_nopca' --rows 20000 --timeout 120
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import time

import numpy as np

# What recommend proposes at 32, 48 and 96 B for unit-norm embeddings (its residual quantizers,
# trained with 3 progressive k-means steps without PCA, and the fast tier), then faiss's other baselines.
DEFAULT_SPECS = ["UNIT,RQ32x8_p3_nopca", "UNIT,RQ48x8_p3_nopca", "UNIT,PRQ2x48x8_p3_nopca", "UNIT,OPQ32,PQ32",
                 "UNIT,OPQ48,PQ48", "OPQ96,PQ96", "PQ32", "PQ48", "PQ96", "PCA96,SQ8", "PCA192,SQ4"]


def make_rows(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((64, d)).astype(np.float32)
    weights = (rng.standard_normal((n, 64)) / np.sqrt(np.arange(1, 65))).astype(np.float32)
    x = weights @ basis + 0.05 * rng.standard_normal((n, d), dtype=np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def _fit(spec, n, d, threads, queue):
    import faiss

    import embcompress as ec

    faiss.omp_set_num_threads(threads)
    x = make_rows(n, d)
    start = time.perf_counter()
    ec.fit(spec, x)
    queue.put(time.perf_counter() - start)


def _family(spec: str):
    """``(family, size)``: e.g. ("UNIT,RQ{}x8", 32) for UNIT,RQ32x8; size None when not comparable."""
    m = re.search(r"(RQ|LSQ|PQ)(\d+)", spec)
    if not m:
        return spec, None
    return spec[:m.start(2)] + "{}" + re.sub(r"\d+", "{}", spec[m.end(2):]), int(m.group(2))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--specs", default=";".join(DEFAULT_SPECS), help="';'-separated specs")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per fit (the issue's target)")
    args = parser.parse_args(argv)
    print(f"ec.fit on {args.rows:,} x {args.dim} synthetic unit-norm rows, {args.threads} faiss threads, "
          f"load {os.getloadavg()[0]:.1f}", flush=True)
    print("| spec | fit s | < timeout |\n|---|---|---|", flush=True)
    overran = {}
    ctx = mp.get_context("spawn")
    for spec in filter(None, args.specs.split(";")):
        family, size = _family(spec)
        if size is not None and family in overran and size >= overran[family]:
            print(f"| {spec} | > {args.timeout:.0f} (not run: {family.format(overran[family])} overran) | no |",
                  flush=True)
            continue
        queue = ctx.Queue()
        proc = ctx.Process(target=_fit, args=(spec, args.rows, args.dim, args.threads, queue))
        proc.start()
        proc.join(args.timeout)
        if proc.is_alive():
            proc.terminate()
            proc.join()
            if size is not None:
                overran[family] = min(size, overran.get(family, size))
            print(f"| {spec} | > {args.timeout:.0f} (stopped) | no | load {os.getloadavg()[0]:.1f}", flush=True)
            continue
        seconds = queue.get() if proc.exitcode == 0 else float("nan")
        print(f"| {spec} | {seconds:.0f} | {'yes' if seconds < args.timeout else 'no'} | "
              f"load {os.getloadavg()[0]:.1f}", flush=True)


if __name__ == "__main__":
    main()
