"""Signed feature hashing (count sketch) of dimensions or tokens into ``n`` buckets.

Each input dimension (or token) is sent to ``k`` buckets chosen by ``k`` independent seeded
hash functions, with a random sign, and weighted 1/sqrt(k): the hashed inner product is an
unbiased estimate of the original one. The hash is splitmix64 on integers (tokens are first
reduced to 64 bits with BLAKE2b), written out here so it is stable across numpy versions:
the artifact stores only the seed and the sizes.
"""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import numpy as np

from .. import _exact as exact
from .base import NoFit

if TYPE_CHECKING:
    import pyarrow as pa

def _mix64(z: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer, vectorized on uint64 (wrap-around arithmetic)."""
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def buckets_and_signs(keys: np.ndarray, n: int, k: int, seed: int):
    """(len(keys), k) bucket indices and +/-1 signs for uint64 ``keys``."""
    salts = _mix64(np.uint64(seed) * np.uint64(0x100000001B3) + np.arange(k, dtype=np.uint64))
    h = _mix64(keys.astype(np.uint64)[:, None] ^ salts[None, :])
    buckets = (h % np.uint64(n)).astype(np.int64)
    signs = np.where((h >> np.uint64(63)) == 1, -1.0, 1.0).astype(np.float32)
    return buckets, signs


def hashing_matrix(d: int, n: int, k: int, seed: int) -> np.ndarray:
    """The (d, n) count-sketch matrix: each row has k entries of +/-1/sqrt(k)."""
    buckets, signs = buckets_and_signs(np.arange(d, dtype=np.uint64), n, k, seed)
    p = np.zeros((d, n), dtype=np.float32)
    np.add.at(p, (np.repeat(np.arange(d), k), buckets.ravel()), signs.ravel() / np.float32(np.sqrt(k)))
    return p


class FeatureHash(NoFit):
    """``HASH{n}[x{k}]``: needs no fitting; decoding is the sketch's transpose estimate."""

    def __init__(self, piece, d_in, metric, seed):
        self.n, self.k = piece.args
        self.d_in, self.d_out, self.seed = d_in, self.n, seed
        self.p = hashing_matrix(d_in, self.n, self.k, seed)

    def forward(self, x):
        return exact.matmul(x, self.p)

    def inverse(self, y):
        return exact.matmul(y, self.p.T)


def _token_keys(tokens) -> np.ndarray:
    return np.array([int.from_bytes(hashlib.blake2b(str(t).encode("utf-8"), digest_size=8).digest(), "little")
                     for t in tokens], dtype=np.uint64)


def hash_features(features: list[str] | tuple[str, ...] | dict[str, float] | pa.Array | pa.ChunkedArray,
                  n: int, k: int = 2, seed: int = 0) -> np.ndarray:
    """Hash sparse or categorical features into dense float32 vectors of length ``n``.

    ``features`` is a list of tokens or a token->weight mapping (one vector, shape (n,)), or a
    pyarrow ``list<string>`` / ``map<string, float>`` column (one vector per row, (rows, n)).
    Only distinct tokens are hashed in Python; the scatter is vectorized.
    """
    if not (isinstance(n, (int, np.integer)) and n >= 1 and isinstance(k, (int, np.integer)) and k >= 1):
        raise ValueError(f"hash_features needs n >= 1 and k >= 1, got n={n!r}, k={k!r}")
    if type(features).__module__.startswith("pyarrow"):
        return _hash_arrow(features, n, k, seed)
    if isinstance(features, dict):
        tokens, weights = list(features.keys()), np.asarray(list(features.values()), dtype=np.float32)
    elif isinstance(features, (list, tuple)):
        tokens, weights = list(features), np.ones(len(features), dtype=np.float32)
    else:
        raise TypeError(f"features must be a list of tokens, a dict token->weight or a pyarrow column, "
                        f"got {type(features).__name__}")
    out = np.zeros(n, dtype=np.float32)
    if tokens:
        buckets, signs = buckets_and_signs(_token_keys(tokens), n, k, seed)
        np.add.at(out, buckets.ravel(), (signs * weights[:, None]).ravel() / np.float32(np.sqrt(k)))
    return out


def _hash_arrow(column, n, k, seed) -> np.ndarray:
    import pyarrow as pa

    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    t = column.type
    if pa.types.is_map(t):
        tokens, weights = column.keys, column.items.cast(pa.float32()).fill_null(0).to_numpy(zero_copy_only=False)
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        tokens, weights = column.values, None
    else:
        raise TypeError(f"hash_features needs a list<string> or map<string, float> column, got {t}")
    offsets = np.asarray(column.offsets, dtype=np.int64)
    start = offsets[0]
    tokens = tokens.slice(start, offsets[-1] - start)
    weights = np.ones(len(tokens), np.float32) if weights is None else weights[start:offsets[-1]]
    rows = np.repeat(np.arange(len(column)), np.diff(offsets))
    out = np.zeros((len(column), n), dtype=np.float32)
    if len(tokens):
        encoded = tokens.cast(pa.string()).dictionary_encode()
        keys = _token_keys(encoded.dictionary.to_pylist())
        buckets, signs = buckets_and_signs(keys, n, k, seed)
        idx = encoded.indices.to_numpy(zero_copy_only=False)
        valid = ~encoded.is_null().to_numpy(zero_copy_only=False)
        idx, rows_v, w = idx[valid], rows[valid], weights[valid]
        vals = signs[idx] * w[:, None] / np.float32(np.sqrt(k))
        np.add.at(out, (np.repeat(rows_v, k), buckets[idx].ravel()), vals.ravel())
    return out
