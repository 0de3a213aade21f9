"""Mergeable count, mean and scatter of vector rows, and the PCA they determine.

A PCA needs only the count, mean and scatter matrix (sum of outer products of the centred
rows) of its training rows, and these merge exactly in pairs (Chan, Golub and LeVeque's
update). A distributed fit can therefore compute them where the rows are and send d*d
numbers instead of the rows, as Spark MLlib's PCA does. Each batch is centred on its own
mean before its float32 product (faiss's precision for the same sum, without the
cancellation of an uncentred one) and everything is merged in float64.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import EmbeddingError
from .spec import parse_spec

_HEADER = np.dtype("<i8")
_VALUES = np.dtype("<f8")


@dataclass(frozen=True)
class Moments:
    """``count`` rows of dimension ``dim`` with float64 ``mean`` (dim,) and ``scatter`` (dim, dim)."""

    count: int
    mean: np.ndarray
    scatter: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @classmethod
    def empty(cls, dim: int) -> "Moments":
        return cls(0, np.zeros(dim), np.zeros((dim, dim)))

    @classmethod
    def of(cls, x: np.ndarray) -> "Moments":
        """The moments of an (n, d) float matrix (checked finite by the caller)."""
        x = np.asarray(x)
        n, dim = x.shape
        if n == 0:
            return cls.empty(dim)
        mean = x.mean(axis=0, dtype=np.float64)
        shift = mean.astype(np.float32)
        centred = np.asarray(x, dtype=np.float32) - shift
        scatter = (centred.T @ centred).astype(np.float64)
        off = mean - shift  # the float32 rounding of the mean: re-centre exactly
        scatter -= n * np.outer(off, off)
        return cls(int(n), mean, _symmetric(scatter))

    def _check_same_dim(self, other: "Moments") -> None:
        if self.dim != other.dim:
            raise EmbeddingError(f"vectors of {self.dim} and of {other.dim} values cannot share one codec",
                                 hint="every vector of the column must have the same length")

    def __add__(self, other: "Moments") -> "Moments":
        self._check_same_dim(other)
        if other.count == 0:
            return self
        if self.count == 0:
            return other
        n = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / n)
        scatter = self.scatter + other.scatter + np.outer(delta, delta) * (self.count * other.count / n)
        return Moments(n, mean, _symmetric(scatter))

    def __sub__(self, part: "Moments") -> "Moments":
        """The moments of the other rows, when ``part`` holds some of this one's rows."""
        self._check_same_dim(part)
        if part.count == 0:
            return self
        rest = self.count - part.count
        if rest <= 0:
            raise ValueError(f"cannot remove {part.count} rows from moments of {self.count}")
        mean = (self.mean * self.count - part.mean * part.count) / rest
        delta = part.mean - mean
        scatter = self.scatter - part.scatter - np.outer(delta, delta) * (part.count * rest / self.count)
        return Moments(rest, mean, _symmetric(scatter))

    def to_bytes(self) -> bytes:
        """Little-endian count, dim, mean and scatter: for moving moments between processes."""
        return (np.array([self.count, self.dim], dtype=_HEADER).tobytes() + self.mean.astype(_VALUES).tobytes()
                + self.scatter.astype(_VALUES).tobytes())

    @classmethod
    def from_bytes(cls, blob: bytes | bytearray | memoryview) -> "Moments":
        blob = memoryview(blob)
        if len(blob) < 16:
            raise ValueError(f"moments blob of {len(blob)} bytes is shorter than its header")
        count, dim = (int(v) for v in np.frombuffer(blob[:16], dtype=_HEADER))
        if count < 0 or dim < 0 or len(blob) != 16 + 8 * (dim + dim * dim):
            raise ValueError(f"moments blob of {len(blob)} bytes does not hold count {count} and dim {dim}")
        values = np.frombuffer(blob[16:], dtype=_VALUES)
        return cls(count, values[:dim].copy(), values[dim:].reshape(dim, dim).copy())

    def pca(self, d_out: int, eigen_power: float = 0.0, epsilon: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """faiss's ``PCAMatrix`` transform for these rows: ``(A, b)`` with ``y = A x + b``.

        Rows of A are the leading eigenvectors of the scatter matrix, largest first, each scaled
        by (eigenvalue + ``epsilon``) to ``eigen_power`` (-0.5 whitens, as in ``PCAW``); b
        re-centres on the mean. Each eigenvector's sign is fixed (largest component positive),
        so two LAPACKs cannot give opposite axes; their last bits may still differ.
        """
        if not 0 < d_out <= self.dim:
            raise ValueError(f"PCA to {d_out} dimensions needs 1..{self.dim}")
        if self.count < 2:
            raise EmbeddingError(f"a PCA needs at least 2 rows, got {self.count}", hint="pass a larger sample")
        values, vectors = np.linalg.eigh(self.scatter)
        order = np.argsort(values, kind="stable")[::-1][:d_out]
        values, vectors = np.maximum(values[order], 0.0), vectors[:, order].T
        peak = vectors[np.arange(d_out), np.argmax(np.abs(vectors), axis=1)]
        vectors *= np.where(peak < 0, -1.0, 1.0)[:, None]
        if eigen_power:
            with np.errstate(divide="ignore"):
                vectors *= ((values + epsilon) ** eigen_power)[:, None]
        a = vectors.astype(np.float32)
        b = (-(a.astype(np.float64) @ self.mean)).astype(np.float32)
        return a, b


def _symmetric(m: np.ndarray) -> np.ndarray:
    return (m + m.T) * 0.5


RANGE_SUBSAMPLE_ROWS = 20_000  # a scalar quantizer's per-dimension ranges: dev-set recall equal from 2k rows up
KMEANS_SUBSAMPLE_ROWS = 65_536  # faiss trains 8-bit k-means on at most 256 rows per centroid: 256 x 256


def subsample_rows(spec) -> int | None:
    """Rows besides the moments that fitting ``spec`` from moments needs, or None if it cannot.

    Only a spec that starts with ``PCA`` or ``PCAW`` can; what follows the PCA trains on the
    subsample. Scalar quantizers (and parameter-free steps) need few rows; anything else gets
    as many as faiss's 8-bit k-means would use. Codes of more than 8 bits per codebook can use
    more rows than any fixed subsample, so they take the whole sample (None).
    """
    parsed = parse_spec(spec)
    if not parsed.transforms or not parsed.transforms[0].info.fits_from_moments:
        return None
    code = parsed.code.info
    if code.codebook_bits is not None and code.codebook_bits(parsed.code.args) > 8:
        return None
    if code.moments_sample != "kmeans" and all(t.info.moments_sample == "none" for t in parsed.transforms[1:]):
        return RANGE_SUBSAMPLE_ROWS
    return KMEANS_SUBSAMPLE_ROWS
