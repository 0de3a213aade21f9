"""`make demo`: the main job on the shipped real dataset.

Fits a few codecs on 2,000 real MiniLM embeddings (all but the 200 query rows), streams the Parquet table through each
into a temporary folder (every other column kept), and prints bytes/vector, compression
ratio, recall@10 against exact search, and encode speed.
"""
from __future__ import annotations

import os
import tempfile
import time

import numpy as np

import embcompress as ec
from embcompress import datasets, parquet_io

SPECS = ["SQ8", "SQ4", "PCA128,SQ8", "PCA64,SQ8", "PQ32x4", "BIN"]
QUERIES = 200
K = 10


def main() -> None:
    table = datasets.load_demo()
    x = datasets.matrix(table)
    queries = np.arange(0, len(x), len(x) // QUERIES)
    fit_rows = np.setdiff1d(np.arange(len(x)), queries)  # leak-free: the codecs never see a query row
    truth, _ = ec.exact_search(x[queries], x, K, exclude=queries)
    raw_mb = os.path.getsize(datasets.DEMO_PATH) / 1e6
    print(f"embcompress {ec.__version__}: {len(x)} real all-MiniLM-L6-v2 embeddings ({x.shape[1]}-d) from "
          f"{datasets.DEMO_PATH.name} ({raw_mb:.1f} MB); codecs fitted on the {len(fit_rows)} rows that are "
          f"not among the {len(queries)} queries; recall@{K} vs exact search\n")
    header = f"{'spec':<12} {'bytes/vec':>9} {'ratio':>6} {'recall@10':>9} {'+rescore':>9} {'encode rows/s':>14} " \
             f"{'fit s':>6} {'parquet MB':>10}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory(prefix="embcompress-demo-") as tmp:
        for spec in SPECS:
            start = time.perf_counter()
            codec = ec.fit(spec, x[fit_rows], seed=0)
            fit_s = time.perf_counter() - start
            out = os.path.join(tmp, f"{spec.replace(',', '_')}.parquet")
            start = time.perf_counter()
            parquet_io.encode_file(datasets.DEMO_PATH, out, codec, "embedding", drop_input=True)
            rate = len(x) / (time.perf_counter() - start)
            codes = parquet_io.read_codes(out, "embedding_code", codec.code_size)
            ids, _ = codec.search(x[queries], codes, k=K, exclude=queries)
            rescored, _ = codec.search(x[queries], codes, k=K, exclude=queries, rescore=(x, 4))
            print(f"{spec:<12} {codec.code_size:>9} {x.shape[1] * 4 / codec.code_size:>5.0f}x "
                  f"{ec.recall_at_k(ids, truth, K):>9.3f} {ec.recall_at_k(rescored, truth, K):>9.3f} "
                  f"{rate:>14,.0f} {fit_s:>6.1f} {os.path.getsize(out) / 1e6:>10.2f}")
    print("\nrecall@10: the codec's top-10 against the exact top-10, self-matches excluded. +rescore: top-40 by "
          "code re-ranked with the original vectors. encode rows/s: Parquet read + validate + encode + write, "
          "end to end.")


if __name__ == "__main__":
    main()
