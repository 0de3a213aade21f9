"""``APQ{m}``: a product quantizer whose codes are chosen for the angle, for cosine embeddings.

The codebooks are faiss's ``PQ{m}x8`` trained on the same rows, so the fit is faiss's. Only
the encode differs. For unit-norm embeddings scored by cosine or inner product, what matters
is a reconstruction's direction: the decode puts it back on the unit sphere (as ``UNIT``
does), so the best code is the one whose reconstruction has the smallest angle to the input,
not the smallest Euclidean error. That is the score-aware idea of ScaNN's anisotropic loss,
worked out for a decoder that renormalises.

With ``A = sum_j y_j . c_j`` and ``B = sum_j |c_j|^2`` over the m sub-vectors, the cosine of
the angle is ``A / (|y| sqrt(B))``. Its gradient condition makes each sub-quantizer pick
``argmax_c (y_j . c - lam |c|^2)`` with ``lam = A / 2B``: Euclidean encoding is the case
``lam = 1/2``. Starting from the Euclidean codes, two passes update every row's ``lam`` and
re-pick all sub-codes; a row keeps a pass's codes only when its cosine went up, so no row is
further from its input than plain PQ puts it.

Rows are processed in fixed blocks of ``BLOCK`` (the last one padded), so every matrix
product has the same shape and a row's code does not depend on its batch.
"""
from __future__ import annotations

import faiss
import numpy as np

from .. import _faiss_backend as fb
from ..spec import parse_spec
from .unit_norm import normalize

BITS = 8
CENTROIDS = 1 << BITS
BLOCK = 64  # small enough that BLAS runs each product on one thread: steadier under load
PASSES = 2


class AngularPQ:
    def __init__(self, piece, d_in, metric, seed):
        self.m, self.d_in, self.metric = piece.args[0], d_in, metric
        self.dsub = d_in // self.m
        self.code_size = self.m
        self._set(np.zeros((self.m, CENTROIDS, self.dsub), np.float32))

    def _set(self, centroids: np.ndarray) -> None:
        self.centroids = centroids
        self._by_dim = np.ascontiguousarray(centroids.transpose(0, 2, 1))  # (m, dsub, 256) for the products
        self._norms = np.einsum("mkd,mkd->mk", centroids, centroids)

    def fit(self, y, seed):
        index = fb.new_index(parse_spec(f"PQ{self.m}x{BITS}"), self.d_in, self.metric)
        fb.apply_seed(index, seed)
        index.train(np.ascontiguousarray(y, dtype=np.float32))
        flat = faiss.vector_to_array(index.pq.centroids)
        self._set(flat.reshape(self.m, CENTROIDS, self.dsub).astype(np.float32))

    def export(self):
        return {"centroids": self.centroids.reshape(-1)}

    def load(self, arrays):
        flat = arrays["centroids"]
        if flat.dtype != np.float32 or flat.shape != (self.m * CENTROIDS * self.dsub,):
            raise ValueError(f"centroids must be {self.m * CENTROIDS * self.dsub} float32")
        self._set(flat.reshape(self.m, CENTROIDS, self.dsub))

    def encode(self, y, out):
        y = np.ascontiguousarray(y, dtype=np.float32)
        for start in range(0, len(y), BLOCK):
            block = y[start: start + BLOCK]
            n = len(block)
            if n < BLOCK:  # only the last block is padded; full ones are views
                block = np.concatenate([block, np.zeros((BLOCK - n, self.d_in), np.float32)])
            out[start: start + n] = self._encode_block(block)[:n]

    def _encode_block(self, y: np.ndarray) -> np.ndarray:
        """Codes ``(BLOCK, m)`` of one full block."""
        sub = np.ascontiguousarray(y.reshape(BLOCK, self.m, self.dsub).transpose(1, 0, 2))
        dots = np.matmul(sub, self._by_dim)  # (m, BLOCK, 256): y_j . c for every sub-code
        codes = (dots - 0.5 * self._norms[:, None, :]).argmax(axis=2)  # Euclidean codes
        a, b = self._sums(dots, codes)
        for _ in range(PASSES):
            tried = (dots - (a / (2 * b))[None, :, None] * self._norms[:, None, :]).argmax(axis=2)
            tried_a, tried_b = self._sums(dots, tried)
            better = tried_a / np.sqrt(tried_b) > a / np.sqrt(b)  # a / sqrt(b): the cosine times |y|
            codes = np.where(better[None, :], tried, codes)
            a, b = np.where(better, tried_a, a), np.where(better, tried_b, b)
        return codes.T.astype(np.uint8)

    def _sums(self, dots: np.ndarray, codes: np.ndarray) -> tuple:
        """Per row: A = sum of the chosen sub-codes' dot products, B = sum of their squared norms
        (kept above float32's smallest normal, so a zero reconstruction never divides by 0)."""
        sub = np.arange(self.m)[:, None]
        a = dots[sub, np.arange(dots.shape[1])[None, :], codes].sum(axis=0)
        b = self._norms[sub, codes].sum(axis=0)
        return a, np.maximum(b, np.finfo(np.float32).tiny)

    def decode(self, codes):
        codes = np.asarray(codes, dtype=np.int64)
        return normalize(self.centroids[np.arange(self.m)[None, :], codes].reshape(len(codes), self.d_in))
