"""Encode rows/s on one core at the dev set's 384-d, for the speed tiers of issue 17.

How fast a code encodes depends on its shape (codebooks, beam, sub-spaces), not on how well
it was trained, so faiss strings are trained quickly here (additive quantizers with plain
k-means and 2 iterations per stage, on 4,000 dev rows), then ``sa_encode`` of 4,000 other
rows is timed on one thread. ``--ours`` specs are fitted by ``ec.fit`` and timed through
``Codec.encode``. Run it on a quiet machine: the tiers are per core.

    python benchmarks/encode_rate.py --faiss 'PRQ2x48x8;RQ48x8;RQ96x8;OPQ48,PQ48' --ours 'APQ32'
"""
from __future__ import annotations

import argparse
import os
import time

import faiss
import numpy as np

import embcompress as ec

import devset

FIT_ROWS, ENCODE_ROWS = 4000, 4000


def quick_faiss_index(spec: str, x: np.ndarray):
    """faiss's ``spec`` trained fast: its additive quantizers use plain k-means, 2 iterations."""
    index = faiss.index_factory(x.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    inner = faiss.downcast_index(index.index) if isinstance(index, faiss.IndexPreTransform) else index
    aq = getattr(inner, "rq", None) or getattr(inner, "prq", None)
    quantizers = [] if aq is None else [aq] if not hasattr(aq, "nsplits") else \
        [faiss.downcast_AdditiveQuantizer(aq.subquantizer(i)) for i in range(aq.nsplits)]
    for q in quantizers:
        q.train_type, q.cp.niter = faiss.ResidualQuantizer.Train_default, 2
    index.train(x)
    return index


def rows_per_s(encode, x: np.ndarray) -> float:
    """Rows/s of ``encode(x)``, after one small warm-up call (lazy set-up is not encoding)."""
    encode(x[:256])
    start = time.perf_counter()
    encode(x)
    return len(x) / (time.perf_counter() - start)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--faiss", default="PRQ2x48x8;RQ48x8;RQ96x8;OPQ48,PQ48;PQ32")
    parser.add_argument("--ours", default="APQ32;UNIT,PQ32")
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(1)
    _, x, _, _ = devset.load_dev()
    fit, rows = x[:FIT_ROWS], np.ascontiguousarray(x[FIT_ROWS: FIT_ROWS + ENCODE_ROWS])
    print(f"one thread, {ENCODE_ROWS:,} rows x {x.shape[1]}, load average {os.getloadavg()[0]:.1f}")
    print("| by | spec | bytes | encode rows/s |\n|---|---|---|---|")
    for spec in filter(None, args.faiss.split(";")):
        index = quick_faiss_index(spec, fit)
        print(f"| faiss | {spec} | {index.sa_code_size()} | {rows_per_s(index.sa_encode, rows):,.0f} |", flush=True)
    for spec in filter(None, args.ours.split(";")):
        codec = ec.fit(spec, fit, holdout=0)
        print(f"| embcompress | {spec} | {codec.code_size} | {rows_per_s(codec.encode, rows):,.0f} |", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
