"""Blocked similarity and top-k search: memory stays bounded whatever the number of codes.

Work runs over blocks of database rows (decoded once per block) and blocks of queries,
merging each block's candidates into a running top-k, so 10,000 queries against 10
million codes never build a 10,000 x 10,000,000 matrix.
"""
from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._validation import as_float_matrix

DB_BLOCK = 32768
QUERY_BLOCK = 1024


def similarity(queries: np.ndarray, vectors: np.ndarray, metric: str) -> np.ndarray:
    """(nq, n) similarity: inner product, or negative squared L2 distance for ``metric="l2"``."""
    dots = queries @ vectors.T
    if metric == "ip":
        return dots
    qn = np.einsum("ij,ij->i", queries, queries)
    vn = np.einsum("ij,ij->i", vectors, vectors)
    return 2 * dots - qn[:, None] - vn[None, :]


def _merge(best_s, best_i, s, ids, k):
    """Merge a block's scores into the running top-k (ties go to the smaller id)."""
    cat_s = np.concatenate([best_s, s], axis=1)
    cat_i = np.concatenate([best_i, np.broadcast_to(ids, s.shape)], axis=1)
    if cat_s.shape[1] > k:
        part = np.argpartition(-cat_s, k - 1, axis=1)[:, :k]
        cat_s = np.take_along_axis(cat_s, part, axis=1)
        cat_i = np.take_along_axis(cat_i, part, axis=1)
    return cat_s, cat_i


def blocked_topk(queries: np.ndarray, n: int, k: int, block_vectors, metric: str, exclude=None,
                 db_block: int = DB_BLOCK, query_block: int = QUERY_BLOCK, score_fn=similarity):
    """Top-``k`` rows by similarity for each query, in decreasing order.

    ``block_vectors(start, stop)`` returns the (stop-start, d) float32 vectors of those rows
    (decoded codes, or originals for exact search), or anything ``score_fn(q, block, metric)``
    scores. ``exclude[i]`` is a row id never returned
    for query ``i`` (self-matches), or -1. Missing results are id -1 with score -inf.
    """
    nq = len(queries)
    best_s = np.full((nq, 0), -np.inf, dtype=np.float32)
    best_i = np.full((nq, 0), -1, dtype=np.int64)
    for start in range(0, n, db_block):
        stop = min(n, start + db_block)
        vectors = block_vectors(start, stop)
        ids = np.arange(start, stop, dtype=np.int64)
        new_s, new_i = [], []
        for q0 in range(0, nq, query_block):
            q1 = min(nq, q0 + query_block)
            # score functions return fresh arrays, so exclusions may be written into them
            s = np.asarray(score_fn(queries[q0:q1], vectors, metric), dtype=np.float32)
            if exclude is not None:
                ex = exclude[q0:q1]
                hit = (ex >= start) & (ex < stop)
                s[np.flatnonzero(hit), ex[hit] - start] = -np.inf
            bs, bi = _merge(best_s[q0:q1], best_i[q0:q1], s, ids, k)
            new_s.append(bs)
            new_i.append(bi)
        best_s = np.concatenate(new_s) if new_s else best_s
        best_i = np.concatenate(new_i) if new_i else best_i
    if best_s.shape[1] < k:
        pad = k - best_s.shape[1]
        best_s = np.concatenate([best_s, np.full((nq, pad), -np.inf, np.float32)], axis=1)
        best_i = np.concatenate([best_i, np.full((nq, pad), -1, np.int64)], axis=1)
    best_i = np.where(np.isneginf(best_s), -1, best_i)
    return _order(best_s, best_i)


def _order(best_s, best_i):
    """Sort each row by decreasing score, ties by increasing id, missing (-1) last."""
    ids_key = np.where(best_i < 0, np.iinfo(np.int64).max, best_i)
    if best_s.size:
        order = np.lexsort((ids_key, -best_s.astype(np.float64)), axis=1)
    else:
        order = np.zeros(best_s.shape, np.int64)
    return np.take_along_axis(best_s, order, axis=1), np.take_along_axis(best_i, order, axis=1)


def rescore(queries, candidates, originals, k: int, metric: str):
    """Re-rank candidate ids by exact similarity against the original vectors, keep top ``k``."""
    nq = len(queries)
    scores = np.full(candidates.shape, -np.inf, dtype=np.float32)
    valid = candidates >= 0
    for q0 in range(0, nq, QUERY_BLOCK):
        q1 = min(nq, q0 + QUERY_BLOCK)
        cand = np.where(valid[q0:q1], candidates[q0:q1], 0)
        vecs = originals[cand]  # (b, c, d)
        q = queries[q0:q1]
        dots = np.einsum("bd,bcd->bc", q, vecs)
        if metric == "l2":
            dots = 2 * dots - np.einsum("bd,bd->b", q, q)[:, None] - np.einsum("bcd,bcd->bc", vecs, vecs)
        scores[q0:q1] = np.where(valid[q0:q1], dots, -np.inf)
    s, i = _order(scores, np.where(valid, candidates, -1))
    return s[:, :k], i[:, :k]


def exact_search(queries: npt.ArrayLike, data: npt.ArrayLike, k: int, metric: str = "ip",
                 exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` ``(ids, sims)`` of ``queries`` among ``data`` rows, in bounded blocks."""
    data = as_float_matrix(data)
    queries = as_float_matrix(queries, dim=data.shape[1])
    sims, ids = blocked_topk(queries, len(data), k, lambda a, b: data[a:b], metric, exclude)
    return ids, sims
