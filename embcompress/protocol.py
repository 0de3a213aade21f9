"""The leak-free evaluation protocol, written once for benchmarks, ``evaluate``, ``recommend`` and fit stats.

Quality is only meaningful on rows the codec never saw while fitting. The rules:

- the fit sample never holds a query row (:func:`fit_rows`, :func:`split_queries`);
- the database searched is every row, each query excluding its own row;
- the codec keeps codes only (no originals), and queries are scored asymmetrically:
  the float query against the decoded database;
- recall@k is |found top-k ∩ exact top-k| / k, averaged over the queries.

On the project's dev set (15,559 rows, 1,000 ground-truth queries) :class:`DevProtocol`
fits on the first 10,000 non-query rows (or all 14,559 with ``fit_limit=None``); any other
set with the same layout (:meth:`DevProtocol.from_files`) goes through the same rules.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .datasets import load_pair
from ._scoring import exact_search

DEV_FIT_ROWS = 10_000


def fit_rows(n: int, query_rows, limit: int | None = DEV_FIT_ROWS) -> np.ndarray:
    """The first ``limit`` rows of ``range(n)`` that are not query rows (all of them when None)."""
    is_query = np.zeros(n, dtype=bool)
    is_query[np.asarray(query_rows, dtype=np.int64)] = True
    rows = np.flatnonzero(~is_query)
    return rows if limit is None else rows[:limit]


def split_queries(n: int, n_queries: int, seed) -> tuple:
    """``(query_rows, other_rows)``: a seeded choice of ``n_queries`` rows held back, and the rest, sorted.

    ``seed`` is an int or a numpy Generator (which callers keep drawing from afterwards).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    query_rows = np.sort(rng.choice(n, n_queries, replace=False))
    keep = np.ones(n, dtype=bool)
    keep[query_rows] = False
    return query_rows, np.flatnonzero(keep)


def recall_at_k(ids: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Mean of |ids[:, :k] ∩ truth[:, :k]| / k over the queries (negative ids never match)."""
    if len(ids) == 0:
        return float("nan")
    a, b = ids[:, :k], truth[:, :k]
    hits = (a[:, :, None] == b[:, None, :]) & (a[:, :, None] >= 0)
    return float(hits.any(axis=2).sum(axis=1).mean() / k)


@dataclass
class DevProtocol:
    """The dev set under the protocol: vectors, query rows, their exact neighbours, and the fit rows."""

    x: np.ndarray
    query_rows: np.ndarray
    truth: np.ndarray
    fit_limit: int | None = DEV_FIT_ROWS

    @classmethod
    def from_dev(cls, ids, x, query_ids, truth, fit_limit: int | None = DEV_FIT_ROWS) -> "DevProtocol":
        """Build from :func:`embcompress.datasets.load_dev`'s ``(ids, vectors, query_ids, ground_truth)``."""
        return cls(x, np.searchsorted(ids, query_ids), truth, fit_limit)

    @classmethod
    def from_files(cls, parquet, gt_parquet, fit_limit: int | None = DEV_FIT_ROWS) -> "DevProtocol":
        """Any (Parquet, ground truth) pair laid out like the dev set (:func:`embcompress.datasets.load_pair`),
        e.g. the second set that ``benchmarks/build_second_set.py`` builds."""
        ids, x, query_ids, truth = load_pair(parquet, gt_parquet)
        return cls.from_dev(ids, x, query_ids, truth, fit_limit=fit_limit)

    @property
    def fit_sample(self) -> np.ndarray:
        """The rows to fit on: no query row among them."""
        return np.ascontiguousarray(self.x[fit_rows(len(self.x), self.query_rows, self.fit_limit)])

    @property
    def queries(self) -> np.ndarray:
        return np.ascontiguousarray(self.x[self.query_rows])

    def recall_of_reconstruction(self, recon: np.ndarray, k: int = 10) -> float:
        """Recall@k of the float queries against reconstructed rows (faiss's sa_decode, say)."""
        found, _ = exact_search(self.queries, recon, k, exclude=self.query_rows)
        return recall_at_k(found, self.truth, k)

    def measure(self, codec, k: int = 10) -> dict:
        """Encode every row, search the queries against the codes only; recall, MSE and encode speed."""
        start = time.perf_counter()
        codes = codec.encode(self.x)
        encode_s = time.perf_counter() - start
        found, _ = codec.search(self.queries, codes, k=k, exclude=self.query_rows)
        mse = float(np.mean(np.sum((self.x - codec.decode(codes)) ** 2, axis=1)))
        return {"spec": codec.spec, "bytes": codec.code_size, f"recall@{k}": recall_at_k(found, self.truth, k),
                "mse": mse, "encode_rows_per_s": len(self.x) / encode_s if encode_s > 0 else float("inf"),
                "codes": codes}
