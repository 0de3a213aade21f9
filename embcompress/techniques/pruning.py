"""``PRUNE{n}[_imp]``: keep n input dimensions, chosen on the sample.

By default the n dims of highest variance. ``_imp`` keeps the dims that matter most to
neighbour rankings: a dim's importance is how much more it contributes to the similarity of
each sample query with its true top-10 neighbours than with random rows, so dropping the
least important ones changes rankings least. Dropped dims decode to their sample mean.
"""
from __future__ import annotations

import numpy as np

from .._scoring import blocked_topk

IMPORTANCE_QUERIES = 256
NEIGHBOURS = 10


def _importance(x: np.ndarray, metric: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q_rows = rng.choice(len(x), min(IMPORTANCE_QUERIES, len(x)), replace=False)
    k = min(NEIGHBOURS, len(x) - 1)
    _, nbrs = blocked_topk(x[q_rows], len(x), k, lambda a, b: x[a:b], metric, exclude=q_rows)
    q = x[q_rows]
    near = np.einsum("qd,qkd->d", q, x[nbrs]) / nbrs.size
    rand = np.einsum("qd,qkd->d", q, x[rng.integers(0, len(x), nbrs.shape)]) / nbrs.size
    return near - rand


class Prune:
    def __init__(self, piece, d_in, metric, seed):
        self.d_in, self.d_out = d_in, piece.args[0]
        self.by_importance = piece.args[1]
        self.metric = metric

    def fit(self, x, seed):
        score = _importance(x, self.metric, seed) if self.by_importance and len(x) > 1 else x.var(axis=0)
        # stable sort: ties keep the lower dim, so the choice is deterministic
        self.keep = np.sort(np.argsort(-score, kind="stable")[: self.d_out]).astype(np.int64)
        self.mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)

    def export(self):
        return {"keep": self.keep, "mean": self.mean}

    def load(self, arrays):
        keep, mean = arrays["keep"], arrays["mean"]
        if keep.shape != (self.d_out,) or mean.shape != (self.d_in,) or keep.dtype != np.int64:
            raise ValueError(f"PRUNE arrays have shapes {keep.shape}/{mean.shape}")
        if keep.size and (keep.min() < 0 or keep.max() >= self.d_in):
            raise ValueError("PRUNE keeps a dimension index out of range")
        self.keep, self.mean = keep, mean

    def forward(self, x):
        return x[:, self.keep]

    def inverse(self, y):
        out = np.repeat(self.mean[None, :], len(y), axis=0)
        out[:, self.keep] = y
        return out
