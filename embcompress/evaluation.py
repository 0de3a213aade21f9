"""Measure a codec on data: bytes/vector, compression ratio, recall@k, MSE and encode speed."""
from __future__ import annotations

import time

import numpy as np
import numpy.typing as npt

from .codec import Codec
from .protocol import recall_at_k, split_queries
from ._scoring import exact_search
from ._validation import as_float_matrix

DEFAULT_QUERIES = 1000


def evaluate(codec: Codec, data: npt.ArrayLike, queries: npt.ArrayLike | None = None, k: int = 10,
             ground_truth: npt.ArrayLike | None = None, *, seed: int = 0,
             rescore_factor: float | None = None) -> dict:
    """Quality and cost of ``codec`` on ``data``.

    ``queries`` is None (1,000 seeded rows of ``data``, self-matches excluded), an int array
    of row ids of ``data`` (self-matches excluded), or a float (nq, d) matrix of external
    queries. ``ground_truth`` (nq, >=k) row ids skips the exact search.
    """

    data = as_float_matrix(data, dim=codec.dim)
    n = len(data)
    exclude = None
    if queries is None:
        queries = split_queries(n, min(DEFAULT_QUERIES, n), seed)[0]
    queries = np.asarray(queries)
    if np.issubdtype(queries.dtype, np.integer) and queries.ndim == 1:
        exclude = queries.astype(np.int64)
        q = data[exclude]
    else:
        q = as_float_matrix(queries, dim=codec.dim)
    start = time.perf_counter()
    codes = codec.encode(data)
    encode_s = time.perf_counter() - start
    recon = codec.decode(codes)
    mse = float(np.mean(np.sum((data - recon) ** 2, axis=1))) if n else float("nan")
    if ground_truth is None:
        truth, _ = exact_search(q, data, k, codec.metric, exclude)
    else:
        truth = np.asarray(ground_truth)[:, :k]
    ids, _ = codec.search(q, codes, k=k, exclude=exclude)
    result = {
        "spec": codec.spec,
        "bytes_per_vector": codec.code_size,
        "compression_ratio": codec.dim * 4 / codec.code_size,
        "recall_at_k": recall_at_k(ids, truth, k),
        "k": k,
        "mse": mse,
        "encode_rows_per_s": n / encode_s if encode_s > 0 else float("inf"),
    }
    if rescore_factor:
        ids_r, _ = codec.search(q, codes, k=k, exclude=exclude, rescore=(data, rescore_factor))
        result["recall_at_k_rescored"] = recall_at_k(ids_r, truth, k)
    return result
