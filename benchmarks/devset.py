"""The project's real dev set for the benchmarks that need it, or a clean exit saying where it goes."""
from __future__ import annotations

import sys
import time
from pathlib import Path

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


def train_and_encode(index, train, x) -> tuple:
    """``(fit seconds, codes of x, encode rows/s)`` for a faiss index trained on ``train``."""
    start = time.perf_counter()
    index.train(train)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    codes = index.sa_encode(x)
    return fit_s, codes, len(x) / (time.perf_counter() - start)
