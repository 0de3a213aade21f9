"""``TOPK{k}``: keep each vector's k largest-magnitude values, stored sparsely.

Code layout, fixed size 4k bytes: k pairs of (uint16 little-endian dimension index, float16
little-endian value), indices ascending. Scoring gathers the query at the stored indices,
so codes are never densified.
"""
from __future__ import annotations

import numpy as np

from .base import NoFit

_PAIR = np.dtype([("index", "<u2"), ("value", "<f2")])


class TopK(NoFit):
    def __init__(self, piece, d_in, metric, seed):
        self.k, self.d_in, self.metric = piece.args[0], d_in, metric
        if d_in > 65536:
            raise ValueError(f"TOPK stores uint16 indices: dimension {d_in} is above 65536")
        self.code_size = 4 * self.k

    def encode(self, y, out):
        idx = np.argpartition(-np.abs(y), self.k - 1, axis=1)[:, : self.k]
        idx.sort(axis=1)
        pairs = np.empty(idx.shape, dtype=_PAIR)
        pairs["index"] = idx
        pairs["value"] = np.take_along_axis(y, idx, axis=1)
        out[:] = pairs.view(np.uint8).reshape(len(y), self.code_size)

    def _pairs(self, codes):
        pairs = np.ascontiguousarray(codes).view(_PAIR).reshape(len(codes), self.k)
        idx = pairs["index"].astype(np.int64)
        if idx.size and idx.max() >= self.d_in:
            raise ValueError(f"TOPK code holds index {idx.max()}, beyond dimension {self.d_in}")
        return idx, pairs["value"].astype(np.float32)

    def decode(self, codes):
        idx, val = self._pairs(codes)
        out = np.zeros((len(codes), self.d_in), dtype=np.float32)
        np.put_along_axis(out, idx, val, axis=1)
        return out

    def similarity(self, q, codes, metric):
        """(nq, n) similarity of dense queries to sparse codes, one stored pair at a time."""
        idx, val = self._pairs(codes)
        dots = np.zeros((len(q), len(codes)), dtype=np.float32)
        for j in range(self.k):
            dots += q[:, idx[:, j]] * val[:, j]
        if metric == "ip":
            return dots
        qn = np.einsum("ij,ij->i", q, q)
        return 2 * dots - qn[:, None] - np.einsum("ij,ij->i", val, val)[None, :]
