"""faiss's additive quantizers under their training and encoding settings, leak-free, on the dev set.

Answers "does a larger beam, codebook refinement or more local-search iterations help?" on
faiss directly: each variant is fitted on the first 10,000 non-query rows (``--fit-rows all``:
all 14,559), encodes all 15,559, and is scored on the 1,000 ground-truth queries
(embcompress.protocol), as faiss decodes it and renormalized to unit norm (what the ``UNIT``
transform does), on one thread (``--threads``).

    python benchmarks/aq_settings.py 'RQ32x8;RQ32x8|beam=16;RQ32x8|refine=1'
    python benchmarks/aq_settings.py 'LSQ32x8|ils=4&tit=10'

Settings after ``|``, joined by ``&``: beam=N (RQ max_beam_size), refine=1 (RQ
Train_refine_codebook), plain=1 (RQ plain k-means per stage, not progressive dimensions),
niter=N (k-means iterations per stage), steps=N (progressive-dimension steps, faiss's 10), pca=0 (those
steps on the raw residual dimensions), ils=N (LSQ encode_ils_iters), tit=N (LSQ train_iters).

    python benchmarks/aq_settings.py 'RQ32x8;RQ32x8|plain=1;RQ32x8|plain=1&niter=25'   # fit time
    python benchmarks/aq_settings.py --fit-rows all --threads 2 'RQ32x8;RQ32x8|steps=3&pca=0'
"""
from __future__ import annotations

import argparse

import faiss
import numpy as np

from embcompress import _faiss_backend as fb
from embcompress.protocol import DevProtocol

import devset


def configure(index, settings: str) -> None:
    for q in fb.additive_quantizers(index):
        for item in filter(None, settings.split("&")):
            key, value = item.split("=")
            if key == "beam":
                q.max_beam_size = int(value)
            elif key == "plain":  # plain k-means per stage instead of faiss's progressive-dimension default
                q.train_type = faiss.ResidualQuantizer.Train_default
            elif key == "niter":
                q.cp.niter = int(value)
            elif key == "steps":
                q.cp.progressive_dim_steps = int(value)
            elif key == "pca":
                q.cp.apply_pca = bool(int(value))
            elif key == "refine":
                q.train_type = q.train_type | faiss.ResidualQuantizer.Train_refine_codebook
            elif key == "ils":
                q.encode_ils_iters = int(value)
            elif key == "tit":
                q.train_iters = int(value)
            else:
                raise SystemExit(f"unknown setting {key!r}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", help="';'-separated faiss strings, each with optional |settings")
    parser.add_argument("--fit-rows", default="10000", help="non-query rows to fit on, or 'all'")
    parser.add_argument("--threads", type=int, default=1, help="faiss threads (fit and encode)")
    args = parser.parse_args(argv)
    faiss.omp_set_num_threads(args.threads)
    dev = DevProtocol.from_dev(*devset.load_dev(), fit_limit=None if args.fit_rows == "all" else int(args.fit_rows))
    train = dev.fit_sample
    print("| variant | bytes | recall@10 (faiss decode) | recall@10 (unit norm) | fit s | "
          f"encode rows/s ({args.threads} thread(s)) |")
    print("|---|---|---|---|---|---|", flush=True)
    for variant in filter(None, args.variants.split(";")):
        spec, _, settings = variant.partition("|")
        index = faiss.index_factory(train.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
        configure(index, settings)
        fit_s, codes, rate = devset.train_and_encode(index, train, dev.x)
        recon = index.sa_decode(codes)
        unit = recon / np.linalg.norm(recon, axis=1, keepdims=True)
        print(f"| {variant} | {codes.shape[1]} | {dev.recall_of_reconstruction(recon):.3f} | "
              f"{dev.recall_of_reconstruction(unit):.3f} | {fit_s:.0f} | {rate:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
