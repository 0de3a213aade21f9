"""A mergeable, seeded reservoir sample of embedding rows, as a Beam CombineFn.

Each valid row gets a key: a seeded 64-bit hash of its float32 bytes. The sample is the
``sample_size`` rows with the smallest keys, ordered by key. Keeping the smallest keys
is a reservoir that merges exactly (per bundle, then across bundles), and because the
key depends only on the row's content and the seed, the sample (and so the fitted codec)
is the same however the runner splits, orders or retries the input.
Null and unusable rows (NaN, Inf, wrong length, wrong type) are left out of the sample
and counted in the ``fit_rows_skipped`` counter; encoding reports them row by row. With
``with_counts=True`` the output also says how many rows were seen and how many left out
(and why the first was), which the nightly job's invalid-share threshold needs.
"""
from __future__ import annotations

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.metrics import Metrics

from embcompress import EmbeddingError
from embcompress.arrow import vectors_from_arrow

from . import _rows, _tables

HASH_BLOCK = 4096
PENDING_ROWS = 4096
_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def row_keys(matrix: np.ndarray, seed: int) -> np.ndarray:
    """Seeded 64-bit content hash of each float32 row (splitmix64 finaliser over a weighted sum)."""
    n, d = matrix.shape
    weights = np.random.default_rng([seed, d]).integers(1, 2**63, size=d, dtype=np.uint64) | np.uint64(1)
    keys = np.empty(n, dtype=np.uint64)
    bits = matrix.view(np.uint32)
    with np.errstate(over="ignore"):
        for start in range(0, n, HASH_BLOCK):
            h = bits[start:start + HASH_BLOCK].astype(np.uint64) @ weights
            h ^= h >> np.uint64(30)
            h *= _M1
            h ^= h >> np.uint64(27)
            h *= _M2
            h ^= h >> np.uint64(31)
            keys[start:start + HASH_BLOCK] = h
    return keys


class Reservoir:
    """Accumulator: the best rows so far (``keys``, ``matrix``) plus row-dict values not yet folded in."""

    def __init__(self):
        self.keys = np.zeros(0, dtype=np.uint64)
        self.matrix = None
        self.pending = []
        self.rows = 0  # rows folded in
        self.invalid = 0  # of which left out as null or unusable
        self.first = None  # the reason of one of those

    def count(self, rows: int, invalid: int, first) -> None:
        self.rows += rows
        self.invalid += invalid
        if self.first is None:
            self.first = first


class ReservoirSample(beam.CombineFn):
    """Sample ``sample_size`` valid vectors of ``column`` from tables or row dicts; output (n, d) float32,
    or ``(matrix, {"rows": seen, "invalid": left out, "first": a reason})`` with ``with_counts``.
    ``nonzero_norm`` also leaves out rows a normalizing codec cannot take (zero norm)."""

    def __init__(self, column: str, sample_size: int, seed: int, *, with_counts: bool = False,
                 nonzero_norm: bool = False):
        self._column = column
        self._size = sample_size
        self._seed = seed
        self._with_counts = with_counts
        self._nonzero_norm = nonzero_norm
        self._skipped = Metrics.counter("embcompress", "fit_rows_skipped")

    def create_accumulator(self):
        return Reservoir()

    def add_input(self, acc, element):
        if isinstance(element, (pa.Table, pa.RecordBatch)):
            table, _ = _tables.as_table(element)
            return self._fold(acc, _tables.column_of(table, self._column))
        if not _rows.is_row_dict(element):
            raise TypeError(f"expected pyarrow Tables, RecordBatches or row dicts, got {type(element).__name__}")
        acc.pending.append(element)
        if len(acc.pending) >= PENDING_ROWS:
            acc = self._flush(acc)
        return acc

    def _flush(self, acc):
        rows, acc.pending = acc.pending, []
        values, reasons = _rows.vector_column(rows, self._column)
        self._skipped.inc(sum(r is not None for r in reasons))
        return self._fold(acc, values)

    def _fold(self, acc, values):
        dim = None if acc.matrix is None else acc.matrix.shape[1]
        batch = vectors_from_arrow(values, dim=dim, column=self._column, nonzero_norm=self._nonzero_norm)
        good = ~batch.invalid
        self._skipped.inc(int(batch.rejected.sum()))
        bad = np.flatnonzero(batch.invalid)
        acc.count(len(good), bad.size, batch.reasons[bad[0]] if bad.size else None)
        if not good.any():
            return acc
        matrix = batch.matrix[good] if not good.all() else batch.matrix
        return self._keep(acc, row_keys(matrix, self._seed), matrix)

    def _keep(self, acc, keys, matrix):
        if acc.matrix is not None:
            if acc.matrix.shape[1] != matrix.shape[1]:
                raise EmbeddingError(f"vectors of two lengths in the fit sample: {acc.matrix.shape[1]} and "
                                     f"{matrix.shape[1]}", column=self._column)
            keys = np.concatenate([acc.keys, keys])
            matrix = np.concatenate([acc.matrix, matrix])
        if len(keys) > self._size:
            top = np.argpartition(keys, self._size - 1)[:self._size]
            keys, matrix = keys[top], matrix[top]
        acc.keys, acc.matrix = keys, np.ascontiguousarray(matrix, dtype=np.float32)
        return acc

    def merge_accumulators(self, accs):
        merged = Reservoir()
        for acc in accs:
            if acc.pending:
                acc = self._flush(acc)
            merged.count(acc.rows, acc.invalid, acc.first)
            if acc.matrix is not None:
                merged = self._keep(merged, acc.keys, acc.matrix)
        return merged

    def compact(self, acc):
        return self._flush(acc) if acc.pending else acc

    def extract_output(self, acc):
        acc = self.compact(acc)
        if acc.matrix is None:
            matrix = np.zeros((0, 0), dtype=np.float32)
        else:
            matrix = np.ascontiguousarray(acc.matrix[np.argsort(acc.keys, kind="stable")])
        if self._with_counts:
            return matrix, {"rows": acc.rows, "invalid": acc.invalid, "first": acc.first}
        return matrix
