"""Find unusable vectors (NaN, Inf, wrong length, null, zero norm) without per-row Python.

Every entry point shares these checks, so a bad row gets the same reason string whether it
is rejected by the core, a Spark job, a Beam pipeline or the CLI.
"""
from __future__ import annotations

import faiss
import numpy as np

from .errors import EmbeddingError

NAN = "NaN in vector"
INF = "Inf in vector"
NULL = "null vector"
NULL_ELEMENT = "null inside vector"
ZERO_NORM = "zero norm vector (cannot be normalized)"
TINY_NORM = "norm too small to normalize: its square underflows float32"
OUT_OF_RANGE = "value out of float32 range"
EMPTY = "empty vector"


def wrong_type(got) -> str:
    return f"wrong type: expected a list of floats, got {got}"


def wrong_length(expected, got) -> str:
    return f"wrong length: expected {expected}, got {got}"


def _row_problem(row, expected):
    """Why one row of a Python sequence of vectors cannot be part of a float matrix, or None."""
    if row is None:
        return NULL
    if isinstance(row, (str, bytes)) or not hasattr(row, "__len__"):
        return wrong_type(type(row).__name__)
    if isinstance(row, np.ndarray):
        if row.dtype == bool or row.dtype == object:
            return wrong_type(f"ndarray of {row.dtype}")
    else:
        kinds = set(map(type, row))
        if None.__class__ in kinds:
            return NULL_ELEMENT
        if bool in kinds or np.bool_ in kinds:
            return wrong_type("a list containing bool (booleans are not coordinates)")
        if not all(issubclass(k, (int, float, np.number)) for k in kinds):
            return wrong_type(f"a list containing {sorted(k.__name__ for k in kinds)}")
    if expected is not None and len(row) != expected:
        return EMPTY if len(row) == 0 else wrong_length(expected, len(row))
    return None


def _check_rows(x, column, dim) -> None:
    """Name the first row of a Python sequence that cannot be a float vector (ragged, null, bool)."""
    expected = dim
    for i, row in enumerate(x):
        problem = _row_problem(row, expected)
        if problem is not None:
            raise EmbeddingError(problem, row=i, column=column, hint="every row must be a list of numbers of "
                                 "one length; use a pyarrow column and on_invalid= to route bad rows")
        if expected is None:
            expected = len(row)


def _check_range(source: np.ndarray, out: np.ndarray, column) -> None:
    """Values finite in a wider type that became Inf in float32 are out of range, not Inf."""
    inf = np.isinf(out)
    if not inf.any():
        return
    rows = np.flatnonzero(inf.any(axis=1))
    over = rows[np.isfinite(source[rows]).all(axis=1)]
    if over.size:
        raise EmbeddingError(OUT_OF_RANGE, row=int(over[0]), column=column,
                             hint=f"float32 holds magnitudes up to {float(np.finfo(np.float32).max):.3g}")


def as_float_matrix(x, *, column=None, dim=None) -> np.ndarray:
    """Return ``x`` as a C-contiguous (n, d) float32 array, copying only when needed.

    A Python list of rows is checked row by row (null, ragged, bool or non-numeric rows raise
    EmbeddingError naming the row), and finite values beyond float32's range raise
    "value out of float32 range" rather than turning into Inf.
    """
    if isinstance(x, np.ndarray) and x.dtype == np.float32 and x.ndim == 2 and x.flags.c_contiguous:
        arr = x
    else:
        if isinstance(x, (list, tuple)):
            _check_rows(x if not x or _is_row(x[0]) else [x], column, dim)
        arr = np.asarray(x)
        if arr.dtype == object or not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise EmbeddingError(
                f"non-numeric type: expected float vectors, got dtype {arr.dtype}", column=column,
                hint="pass an (n, d) float array or a pyarrow list<float> column",
            )
        if arr.ndim == 1 and arr.size and dim is not None and arr.size == dim:
            arr = arr.reshape(1, -1)
        if arr.ndim != 2:
            raise EmbeddingError(f"expected a 2-D (n, d) array, got shape {arr.shape}", column=column)
        source = arr
        with np.errstate(over="ignore"):
            arr = np.ascontiguousarray(arr, dtype=np.float32)
        if source.dtype.itemsize > 4 and np.issubdtype(source.dtype, np.floating):
            _check_range(source, arr, column)
    if dim is not None and arr.shape[1] != dim:
        raise EmbeddingError(
            wrong_length(dim, arr.shape[1]), row=0 if len(arr) else None, column=column,
            hint="every vector must have the codec's dimension",
        )
    return arr


def _squared_norms(x: np.ndarray) -> np.ndarray:
    """Row norms squared, by faiss's SIMD loop: one pass that exposes NaN, Inf and zero rows alike."""
    out = np.empty(len(x), dtype=np.float32)
    norms_l2sqr = faiss.fvec_norms_L2sqr  # type: ignore[attr-defined]  # a SWIG function faiss's stubs omit
    norms_l2sqr(faiss.swig_ptr(out), faiss.swig_ptr(x), x.shape[1], len(x))
    return out


def find_invalid(x: np.ndarray, *, nonzero_norm: bool = False):
    """Return ``(mask, reasons)`` for an (n, d) float32 matrix (see :func:`as_float_matrix`):
    True and a reason where a row is unusable.

    One pass computes each row's squared norm: NaN or Inf makes it non-finite and an all-zero
    row makes it zero. Only those suspect rows are then inspected element by element, since a
    huge finite value can overflow the square and a tiny one can underflow it. (faiss's loop
    runs in its own OpenMP threads, 0.16 ms for 15k x 384 here, against 0.38 ms for a numpy
    row sum and 0.98 ms more for a separate zero-row pass.)
    """
    n = len(x)
    reasons = np.full(n, None, dtype=object)
    if n == 0 or x.shape[1] == 0:
        if x.shape[1] == 0 and n:
            reasons[:] = EMPTY
            return np.ones(n, dtype=bool), reasons
        return np.zeros(n, dtype=bool), reasons
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = _squared_norms(x)
    suspect = np.flatnonzero(~np.isfinite(norms))
    mask = np.zeros(n, dtype=bool)
    if suspect.size:
        rows = x[suspect]
        has_nan = np.isnan(rows).any(axis=1)
        has_inf = np.isinf(rows).any(axis=1)
        reasons[suspect[has_inf]] = INF
        reasons[suspect[has_nan]] = NAN
        mask[suspect[has_nan | has_inf]] = True
    if nonzero_norm:
        # a non-zero row whose squared norm underflows to 0 (all |x| below ~1e-23) is left
        # unnormalized by faiss's L2norm and would encode as a near-zero vector: refuse it too
        small = np.flatnonzero(norms == 0)
        small = small[~mask[small]]
        zero = ~np.any(x[small] != 0, axis=1)
        reasons[small[zero]] = ZERO_NORM
        reasons[small[~zero]] = TINY_NORM
        mask[small] = True
    return mask, reasons


def check_queries(q: np.ndarray) -> None:
    """Raise EmbeddingError naming the first query with NaN or Inf (it would score every row NaN)."""
    mask, reasons = find_invalid(q)
    bad = np.flatnonzero(mask)
    if bad.size:
        raise EmbeddingError(f"query {int(bad[0])}: {reasons[bad[0]]}", hint="queries must be finite vectors")


def raise_on_invalid(mask: np.ndarray, reasons: np.ndarray, *, column=None, row_offset: int = 0) -> None:
    """Raise EmbeddingError naming the first bad row and how many rows are bad in total."""
    bad = np.flatnonzero(mask)
    if bad.size == 0:
        return
    first = int(bad[0])
    more = f"; {bad.size - 1} more bad row(s) in this batch" if bad.size > 1 else ""
    raise EmbeddingError(
        f"{reasons[first]}{more}", row=first + row_offset, column=column,
        hint="fix or drop these rows, or use on_invalid='null' / 'dead_letter' to route them",
    )


def _is_row(value) -> bool:
    """Whether ``value`` is one row of a list of rows (a sequence), not a coordinate."""
    return value is None or (hasattr(value, "__len__") and not isinstance(value, (str, bytes)))
