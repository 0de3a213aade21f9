"""Move embedding and code columns between Arrow and numpy, vectorized and copy-free when possible.

Vectors come in as ``list``, ``large_list`` or ``fixed_size_list`` of float16/32/64 (integers
are widened) and leave as ``fixed_size_list<float32>[dim]``. Codes travel as
``fixed_size_binary[code_size]``. Nulls stay nulls both ways.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import _validation as v
from ._typing import Vectors
from .conventions import check_on_invalid
from .errors import EmbeddingError



@dataclass
class VectorBatch:
    """An Arrow vector column as numpy: rows flagged ``invalid`` hold zeros in ``matrix``."""

    matrix: np.ndarray  # (n, dim) float32
    null: np.ndarray  # (n,) bool: the vector itself is null
    invalid: np.ndarray  # (n,) bool: null, wrong length, null element, NaN, Inf or zero norm
    reasons: np.ndarray  # (n,) object: reason string where invalid, else None

    @property
    def rejected(self) -> np.ndarray:
        """Rows that are bad for a reason other than being null (nulls map to null codes)."""
        return self.invalid & ~self.null


def _as_array(values, column=None) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if not isinstance(values, pa.Array):
        raise EmbeddingError(f"expected a pyarrow Array, got {type(values).__name__}", column=column)
    return values


def _check_vector_type(arr: pa.Array, column) -> None:
    t = arr.type
    if not (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)):
        raise EmbeddingError(
            f"non-numeric type: expected a list<float> embedding column, got {t}", column=column,
            hint="store embeddings as list<float>, list<double> or fixed_size_list<float>",
        )
    vt = t.value_type
    if not (pa.types.is_floating(vt) or pa.types.is_integer(vt)):
        raise EmbeddingError(f"non-numeric type: vector elements are {vt}, expected floats", column=column)


def _child_numpy(child: pa.Array) -> np.ndarray:
    if child.null_count == 0 and child.type == pa.float32():
        return child.to_numpy(zero_copy_only=True)
    with np.errstate(over="ignore"):
        return child.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)


def _out_of_range(child: pa.Array, offsets: np.ndarray, reasons: np.ndarray) -> None:
    """Rows called Inf whose float64 values were all finite overflowed float32: say so."""
    if not pa.types.is_float64(child.type):
        return
    rows = np.flatnonzero(reasons == v.INF)
    if not rows.size:
        return
    source = child.to_numpy(zero_copy_only=False)
    for r in rows:
        if np.isfinite(source[offsets[r]: offsets[r + 1]]).all():
            reasons[r] = v.OUT_OF_RANGE


def vectors_from_arrow(values, *, dim=None, column=None, nonzero_norm=False) -> VectorBatch:
    """Convert a vector column to a :class:`VectorBatch` without per-row Python.

    float32 columns whose rows are all present and of length ``dim`` become a zero-copy view.
    Without ``dim``, the most common non-zero length among the present rows is the expected one.
    """
    arr = _as_array(values, column)
    _check_vector_type(arr, column)
    n = len(arr)
    null = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else np.zeros(n, dtype=bool)
    if pa.types.is_fixed_size_list(arr.type):
        size = arr.type.list_size
        start = arr.offset * size
        offsets = start + np.arange(n + 1, dtype=np.int64) * size
    else:
        offsets = np.asarray(arr.offsets, dtype=np.int64)
    child = arr.values
    lengths = np.diff(offsets)
    if dim is None:
        dim = _expected_length(lengths[~null])
    reasons = np.full(n, None, dtype=object)
    reasons[null] = v.NULL
    bad_len = ~null & (lengths != dim)
    if bad_len.any():
        for length in np.unique(lengths[bad_len]):
            reasons[bad_len & (lengths == length)] = v.EMPTY if length == 0 else v.wrong_length(dim, int(length))
    if child.null_count:
        child_null = np.concatenate([[0], np.cumsum(child.is_null().to_numpy(zero_copy_only=False))])
        null_elem = ~null & ~bad_len & ((child_null[offsets[1:]] - child_null[offsets[:-1]]) > 0)
        reasons[null_elem] = v.NULL_ELEMENT
    else:
        null_elem = np.zeros(n, dtype=bool)
    structural = null | bad_len | null_elem
    flat = _child_numpy(child)
    regular = n == 0 or (offsets[-1] - offsets[0] == n * dim and not structural.any())
    if regular and (n == 0 or np.all(lengths == dim)):
        matrix = flat[offsets[0]: offsets[0] + n * dim].reshape(n, dim)
    else:
        matrix = np.zeros((n, dim), dtype=np.float32)
        good = np.flatnonzero(~structural)
        if good.size:
            idx = offsets[good][:, None] + np.arange(dim, dtype=np.int64)
            matrix[good] = flat[idx]
    mask, value_reasons = v.find_invalid(matrix, nonzero_norm=nonzero_norm)
    mask &= ~structural
    reasons[mask] = value_reasons[mask]
    if mask.any():
        _out_of_range(child, offsets, reasons)
    return VectorBatch(matrix, null, structural | mask, reasons)


def _expected_length(lengths: np.ndarray) -> int:
    """The most common non-zero length (ties: the earliest row's), so a stray short or empty row
    is the one called wrong, not the rest; 0 if every row is empty."""
    lengths = lengths[lengths > 0]
    if not lengths.size:
        return 0
    values, first, counts = np.unique(lengths, return_index=True, return_counts=True)
    best = np.flatnonzero(counts == counts.max())
    return int(values[best[np.argmin(first[best])]])


def _validity_buffer(null: np.ndarray | None):
    if null is None or not null.any():
        return None
    return pa.array(~null, type=pa.bool_()).buffers()[1]


def vectors_to_arrow(matrix: np.ndarray, null: np.ndarray | None = None) -> pa.FixedSizeListArray:
    """Wrap an (n, d) float32 matrix as ``fixed_size_list<float32>[d]`` without copying it."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float32)
    n, d = matrix.shape
    child = pa.array(matrix.reshape(-1), type=pa.float32())
    return pa.FixedSizeListArray.from_buffers(
        pa.list_(pa.float32(), d), n, [_validity_buffer(null)], children=[child]
    )


def codes_to_arrow(codes: np.ndarray, null: np.ndarray | None = None) -> pa.FixedSizeBinaryArray:
    """Wrap (n, code_size) uint8 codes as ``fixed_size_binary[code_size]``; null rows stay null."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    n, size = codes.shape
    return pa.Array.from_buffers(pa.binary(size), n, [_validity_buffer(null), pa.py_buffer(codes)])


def codes_as_binary(codes: pa.Array) -> pa.BinaryArray:
    """``fixed_size_binary`` codes as ``binary``, the type every engine writes (docs/conventions.md).

    Only the offsets are built; the code bytes are shared. (``pyarrow.compute.cast`` would
    copy every code.) A column whose offsets would pass 2 GiB, or a sliced one, is cast.
    """
    if not pa.types.is_fixed_size_binary(codes.type):
        return codes
    n, size = len(codes), codes.type.byte_width
    if codes.offset or (n + 1) * size >= 2**31:
        return codes.cast(pa.binary())
    validity, data = codes.buffers()
    offsets = pa.py_buffer(np.arange(n + 1, dtype=np.int32) * np.int32(size))
    return pa.Array.from_buffers(pa.binary(), n, [validity, offsets, data], null_count=codes.null_count)


def codes_from_arrow(values, code_size: int, *, column=None):
    """Return ``(codes, null)`` from a binary or fixed_size_binary column of ``code_size`` bytes.

    A code of another length raises EmbeddingError naming the row, the expected and the actual size.
    """
    arr = _as_array(values, column)
    n = len(arr)
    null = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else np.zeros(n, dtype=bool)
    t = arr.type
    if pa.types.is_fixed_size_binary(t):
        if t.byte_width != code_size:
            raise EmbeddingError(
                f"wrong code size: expected {code_size} bytes, got {t.byte_width}", row=0 if n else None,
                column=column, hint="decode with the codec that encoded this column",
            )
        data = np.frombuffer(arr.buffers()[1], dtype=np.uint8)
        start = arr.offset * code_size
        return data[start: start + n * code_size].reshape(n, code_size), null
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64 if pa.types.is_large_binary(t) else np.int32)[
            arr.offset: arr.offset + n + 1].astype(np.int64)
        lengths = np.diff(offsets)
        bad = np.flatnonzero(~null & (lengths != code_size))
        if bad.size:
            row = int(bad[0])
            raise EmbeddingError(
                f"wrong code size: expected {code_size} bytes, got {int(lengths[row])}", row=row, column=column,
                hint="decode with the codec that encoded this column",
            )
        values = arr.buffers()[2]
        data = np.frombuffer(values, dtype=np.uint8) if values is not None else np.zeros(0, np.uint8)
        codes = np.zeros((n, code_size), dtype=np.uint8)
        good = np.flatnonzero(~null)
        if good.size:
            codes[good] = data[offsets[good][:, None] + np.arange(code_size, dtype=np.int64)]
        return codes, null
    raise EmbeddingError(f"expected a binary code column, got {t}", column=column)


@dataclass
class EncodedColumn:
    codes: pa.FixedSizeBinaryArray  # null where the vector was null or rejected
    rejected: np.ndarray  # (n,) bool: rows refused for a reason other than being null
    reasons: np.ndarray  # (n,) object: why each rejected row was refused


def encode_arrow(codec, values, *, column=None, on_invalid="raise") -> EncodedColumn:
    """Encode a vector column; null vectors become null codes.

    ``on_invalid="raise"`` raises EmbeddingError on the first bad row; ``"null"`` and
    ``"dead_letter"`` give bad rows a null code and report them in ``rejected``/``reasons``.
    """
    check_on_invalid(on_invalid)
    batch = vectors_from_arrow(values, dim=codec.dim, column=column, nonzero_norm=codec.needs_nonzero_norm)
    rejected = batch.rejected
    if on_invalid == "raise":
        v.raise_on_invalid(rejected, batch.reasons, column=column)
    if batch.invalid.any():
        good = np.flatnonzero(~batch.invalid)
        codes = np.zeros((len(batch.matrix), codec.code_size), dtype=np.uint8)
        if good.size:
            codes[good] = codec.encode(batch.matrix[good], validate=False)
    else:
        codes = codec.encode(batch.matrix, validate=False)
    reasons = np.where(rejected, batch.reasons, np.array(None, dtype=object))
    return EncodedColumn(codes_to_arrow(codes, batch.invalid), rejected, reasons)


def decode_arrow(codec, values, *, column=None) -> pa.FixedSizeListArray:
    """Decode a code column to ``fixed_size_list<float32>[dim]``; null codes stay null."""
    codes, null = codes_from_arrow(values, codec.code_size, column=column)
    return vectors_to_arrow(codec.decode(codes), null)


def validate(x: Vectors, *, dim: int | None = None, column: str | None = None,
             nonzero_norm: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(bad_mask, reasons)``: ``reasons[i]`` says why row ``i`` is bad, None if it is fine.

    ``x`` is an (n, d) array or a pyarrow list / large_list / fixed_size_list array. Null
    vectors count as bad here (reason ``"null vector"``); the adapters keep them as nulls.
    """
    if isinstance(x, np.ndarray) or not type(x).__module__.startswith("pyarrow"):
        matrix = v.as_float_matrix(x, column=column, dim=dim)
        return v.find_invalid(matrix, nonzero_norm=nonzero_norm)
    batch = vectors_from_arrow(x, dim=dim, column=column, nonzero_norm=nonzero_norm)
    return batch.invalid, batch.reasons
