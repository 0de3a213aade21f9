"""Core acceptance benchmark: our codecs against raw faiss on the real dev set, side by side.

Leak-free (embcompress.protocol). For each spec: fit on the first 10,000 rows that are not
ground-truth queries (seed 0, as faiss trains), encode
all 15,559 rows, score the 1,000 ground-truth queries against the reconstructions with
self-matches excluded, and compare recall@10, codes and encode speed with faiss's own
index_factory + sa_encode/sa_decode in the same run. BIN is compared with faiss's IndexLSH
(no rotation, no thresholds), which produces the same bits.

    python benchmarks/bench_core.py                 # every acceptance spec (PQ96/OPQ48 train for minutes)
    python benchmarks/bench_core.py --specs 'SQ8;SQ4' # a quick subset
"""
from __future__ import annotations

import argparse
import statistics
import time

import faiss
import numpy as np

import embcompress as ec
from embcompress.protocol import DEV_FIT_ROWS, DevProtocol

import devset

SPECS = ["SQfp16", "SQ8", "SQ4", "PQ96", "PQ48", "OPQ48,PQ48", "PCA128,SQ8", "BIN"]
K = 10


def faiss_index(spec, train):
    if spec == "BIN":
        index = faiss.IndexLSH(train.shape[1], train.shape[1], False, False)
    else:
        index = faiss.index_factory(train.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
    index.train(train)
    return index


def faiss_reconstruction(spec, index, codes):
    if spec == "BIN":
        return (np.unpackbits(codes, axis=1, bitorder="little").astype(np.float32) * 2 - 1)
    return index.sa_decode(codes)


def encode_rates(codec, index, x, reps):
    """Median rows/s of codec.encode and index.sa_encode, runs interleaved so both see the same load."""
    ours, raw = [], []
    for _ in range(reps):
        t = time.perf_counter()
        codec.encode(x)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        index.sa_encode(x)
        raw.append(time.perf_counter() - t)
    return len(x) / statistics.median(ours), len(x) / statistics.median(raw)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--specs", default=";".join(SPECS), help="semicolon-separated specs")
    parser.add_argument("--reps", type=int, default=9, help="encode timing repetitions (median)")
    args = parser.parse_args(argv)
    ids, x, query_ids, truth = devset.load_dev()
    dev = DevProtocol.from_dev(ids, x, query_ids, truth)
    rows, queries, train = dev.query_rows, dev.queries, dev.fit_sample
    header = ("spec", "bytes/vec", "ratio", "recall@10 ours", "recall@10 faiss", "|diff|", "rows with identical codes",
              "MSE", "fit s", "encode r/s ours", "encode r/s faiss", "ours/faiss")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    print(f"faiss {faiss.__version__}, numpy {np.__version__}, {len(x)} rows x {x.shape[1]}, "
          f"{len(queries)} queries, fit on the first {DEV_FIT_ROWS} non-query rows", flush=True)
    for spec in [s.strip() for s in args.specs.split(";") if s.strip()]:
        t = time.perf_counter()
        codec = ec.fit(spec, train, holdout=0)
        fit_s = time.perf_counter() - t
        index = faiss_index(spec, train)
        codes = codec.encode(x)
        raw_codes = index.sa_encode(x)
        identical = float((codes == raw_codes).all(axis=1).mean())
        ours_ids, _ = codec.search(queries, codes, k=K, exclude=rows)
        raw_ids, _ = ec.exact_search(queries, faiss_reconstruction(spec, index, raw_codes), K, exclude=rows)
        r_ours, r_raw = ec.recall_at_k(ours_ids, truth, K), ec.recall_at_k(raw_ids, truth, K)
        mse = float(np.mean(np.sum((x - codec.decode(codes)) ** 2, axis=1)))
        rate_ours, rate_raw = encode_rates(codec, index, x, args.reps)
        label = spec + (" (asymmetric)" if spec == "BIN" else "")
        lines.append(f"| {label} | {codec.code_size} | {x.shape[1] * 4 / codec.code_size:.0f}x | {r_ours:.3f} | "
                     f"{r_raw:.3f} | {abs(r_ours - r_raw):.3f} | {identical:.2%} | {mse:.4f} | "
                     f"{fit_s:.1f} | {rate_ours:,.0f} | {rate_raw:,.0f} | {rate_ours / rate_raw:.2f} |")
        if spec == "BIN":
            ham, _ = codec.search(queries, codes, k=K, exclude=rows, mode="hamming")
            res, _ = codec.search(queries, codes, k=K, exclude=rows, rescore=(x, 4))
            hamming = ec.recall_at_k(ham, truth, K)
            lines.append(f"| BIN (Hamming) | {codec.code_size} | | {hamming:.3f} | | | | | | | | |")
            lines.append(f"| BIN + rescore(originals, 4) | {codec.code_size} | | {ec.recall_at_k(res, truth, K):.3f} "
                         f"| | | | | | | | |")
        print(lines[-1] if spec != "BIN" else "\n".join(lines[-3:]), flush=True)
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
