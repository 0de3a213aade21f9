"""The project's real dev set for the benchmarks that need it, or a clean exit saying where it goes."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import faiss

from embcompress import datasets


def dev_dir() -> Path:
    """``../shared/data`` next to the repository (or $EMBCOMPRESS_SHARED_DATA); exits if absent."""
    root = datasets.shared_data_dir()
    if root is None:
        sys.exit("../shared/data is absent (or point $EMBCOMPRESS_SHARED_DATA at it): "
                 "this benchmark needs the project's dev set")
    return root


def load_dev(data=None, gt=None):
    """The dev set as ``(ids, vectors, query_ids, ground_truth)``; or any (``data``, ``gt``) Parquet pair
    laid out like it (the second set of ``build_second_set.py``)."""
    if data is not None:
        return datasets.load_pair(data, gt)
    return datasets.load_dev(dev_dir())


def train_and_encode(index, train, x, fit_threads=None, encode_threads=None) -> tuple:
    """``(fit seconds, codes of x, encode rows/s)`` for a faiss index trained on ``train``, each step
    on the given number of faiss threads (None: as set)."""
    if fit_threads:
        faiss.omp_set_num_threads(fit_threads)
    start = time.perf_counter()
    index.train(train)
    fit_s = time.perf_counter() - start
    if encode_threads:
        faiss.omp_set_num_threads(encode_threads)
    start = time.perf_counter()
    codes = index.sa_encode(x)
    return fit_s, codes, len(x) / (time.perf_counter() - start)
