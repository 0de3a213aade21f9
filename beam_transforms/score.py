"""ScoreEmbeddings and TopKNeighbors: top-k rows per query, found from the codes.

Each table (or batch of row dicts) is searched with ``Codec.search`` against a small set
of float queries, giving that batch's top-k candidates per query; ``TopKNeighbors``
merges candidates per query with a combiner, so each worker pre-merges its bundles and
only k candidates per query and bundle cross the shuffle.
"""
from __future__ import annotations

import heapq
from itertools import chain
from typing import Any

import apache_beam as beam
import numpy as np
import numpy.typing as npt
import pyarrow as pa
from apache_beam.pvalue import AsDict, AsSingleton, PCollection

from embcompress import EmbeddingError
from embcompress.arrow import codes_from_arrow
from embcompress._checks import check_k
from embcompress._validation import as_float_matrix

from . import _rows, _schemas, _tables
from ._codec_ref import CodecArg, CodecDoFn, FaissThreads, split_codec_arg
from ._errors import ExceptionHandlingMixin, TaggedResult
from .encode import apply_by_form


def best_k(candidates, k: int) -> list:
    """The ``k`` best ``(id, score)`` pairs: highest score first, ties to the smaller id."""
    return [tuple(c) for c in heapq.nsmallest(k, candidates, key=lambda c: (-c[1], c[0]))]


class _MergeTopK(beam.CombineFn):
    """Keep the best k ``(id, score)`` candidates; accumulators never exceed k entries."""

    def __init__(self, k: int):
        self._k = k

    def create_accumulator(self):
        return []

    def add_input(self, acc, candidates):
        return best_k(chain(acc, candidates), self._k)

    def merge_accumulators(self, accs):
        return best_k(chain.from_iterable(accs), self._k)

    def extract_output(self, acc):
        return acc


def _as_pair(element, key_field: str, candidates_field: str) -> tuple:
    """``(query_key, [(id, score), ...])`` from a pair, a row dict or a schema row (whose candidates
    may be pairs or rows of two fields: id, then score)."""
    if isinstance(element, tuple) and not hasattr(element, "_asdict"):
        return element
    row = _rows.as_dict(element)
    if key_field not in row or candidates_field not in row:
        raise EmbeddingError(f"expected fields {key_field!r} and {candidates_field!r}, got {sorted(row)}",
                             column=candidates_field)
    return row[key_field], [_candidate(c) for c in row[candidates_field]]


def _candidate(c) -> tuple:
    """``(id, score)`` from a pair (tuple or list) or a row of two fields."""
    if _rows.is_row_dict(c):
        return tuple(_rows.as_dict(c).values())[:2]
    return tuple(c)


def _as_row(merged: tuple, key_field: str, candidates_field: str, candidate_names) -> beam.Row:
    """A merged ``(key, candidates)`` as a ``beam.Row``; candidates as rows when the schema declares rows."""
    key, candidates = merged
    if candidate_names is not None:
        candidates = [beam.Row(**dict(zip(candidate_names, c))) for c in candidates]
    return beam.Row(**{key_field: key, candidates_field: candidates})


class TopKNeighbors(beam.PTransform):
    """Candidate lists in, the global top-``k`` per query out.

    Elements are ``(query_key, [(id, score), ...])`` pairs, or rows (``beam.Row``, row dicts,
    schema'd PCollections) with a ``key_field`` and a ``candidates_field``. Pairs give pairs;
    rows give ``beam.Row``s, and a schema'd input whose candidates are rows (``id``, ``score``)
    keeps its schema.
    """

    def __init__(self, k: int = 10, *, key_field: str = "query", candidates_field: str = "candidates"):
        super().__init__()
        check_k(k)
        self._k = k
        self._key_field, self._candidates_field = key_field, candidates_field

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection:
        rt = _schemas.row_type(pcoll.element_type)
        fields = (self._key_field, self._candidates_field)
        if rt is None:
            pairs = pcoll | "AsPairs" >> beam.Map(_as_pair, *fields)
            return pairs | "MergeTopK" >> beam.CombinePerKey(_MergeTopK(self._k))
        _schemas.check_fields(rt, *fields)
        merged = (pcoll | "AsPairs" >> beam.Map(_as_pair, *fields)
                  | "MergeTopK" >> beam.CombinePerKey(_MergeTopK(self._k)))
        out_type = _schemas.select(rt, fields)
        names = _schemas.list_row_fields(out_type, self._candidates_field)
        as_rows = beam.Map(_as_row, *fields, names)
        # Only rows of candidates keep the schema: Beam 2.77 encodes a Tuple[int, float] inside a
        # schema row as a list of ints (the scores become 0), so such an input was already damaged.
        return merged | "AsRows" >> (as_rows.with_output_types(out_type) if names is not None else as_rows)


def query_set(queries):
    """``(keys, matrix)`` from an (nq, d) array-like (keys 0..nq-1) or a ``{key: vector}`` dict."""
    if isinstance(queries, dict):
        keys = list(queries)
        rows = [queries[key] for key in keys]
    else:
        rows = queries if isinstance(queries, np.ndarray) else list(queries)
        keys = list(range(len(rows)))
    if len(rows) == 0:
        raise ValueError("queries must be a non-empty (nq, d) set of vectors, got none")
    # the core's checks: ragged, null and bool rows, and float64 beyond float32, are named by row
    return keys, as_float_matrix(rows, column="queries")


class _ScoreDoFn(CodecDoFn):
    def __init__(self, blob, column, id_column, queries, k, mode, faiss_threads):
        super().__init__(blob, faiss_threads)
        self._column = column
        self._id_column = id_column
        self._const_queries = queries
        self._k = k
        self._mode = mode
        self._query_cache = (None, None)

    def _queries(self, side_queries):
        value = self._const_queries if side_queries is None else side_queries
        if self._query_cache[0] is not value:
            self._query_cache = (value, query_set(value))
        return self._query_cache[1]

    def _candidates(self, codec, code_array, take_ids, side_queries):
        codes, null = codes_from_arrow(code_array, codec.code_size, column=self._column)
        present = np.flatnonzero(~null)
        if present.size == 0:
            return
        keys, q = self._queries(side_queries)
        pos, sims = codec.search(q, codes[present] if present.size < len(codes) else codes,
                                 k=min(self._k, present.size), mode=self._mode)
        ids = take_ids(present[pos.ravel()]).reshape(pos.shape) if pos.size else pos
        for qi, key in enumerate(keys):
            yield key, [(ids[qi, j], float(sims[qi, j])) for j in range(pos.shape[1]) if pos[qi, j] >= 0]


class _ArrowCodesToCandidates(_ScoreDoFn):
    """A table of codes in, one ``(query_key, candidates)`` pair per query out."""

    def process(self, element, codec_blob=None, queries=None):
        table, _ = _tables.as_table(element)
        ids = _tables.column_of(table, self._id_column)
        take = lambda rows: np.asarray(ids.take(rows).to_pylist(), dtype=object)  # noqa: E731
        yield from self._candidates(self.codec(codec_blob), _tables.column_of(table, self._column), take, queries)


class _SchemaRowsToCandidates(_ScoreDoFn):
    """Schema'd rows with a code field (batched by Beam's Arrow converter) in, candidates out."""

    def get_input_batch_type(self, input_element_type):
        return pa.Table

    @beam.DoFn.yields_elements
    def process_batch(self, batch: pa.Table, codec_blob=None, queries=None):
        ids = _tables.column_of(batch, self._id_column)
        take = lambda rows: np.asarray(ids.take(rows).to_pylist(), dtype=object)  # noqa: E731
        yield from self._candidates(self.codec(codec_blob), _tables.column_of(batch, self._column), take, queries)


class _RowCodesToCandidates(_ScoreDoFn):
    """A batch of row dicts (or ``beam.Row``s) with code bytes in, one ``(query_key, candidates)``
    pair per query out."""

    def process(self, elements, codec_blob=None, queries=None):
        rows = [_rows.as_dict(e) for e in elements]
        missing = next((i for i, row in enumerate(rows) if self._id_column not in row), None)
        if missing is not None:
            raise EmbeddingError(f"no id column {self._id_column!r} in the row", row=missing, column=self._id_column)
        ids = np.empty(len(rows), dtype=object)
        ids[:] = [row[self._id_column] for row in rows]
        yield from self._candidates(self.codec(codec_blob), _rows.code_column(rows, self._column),
                                    lambda r: ids[r], queries)


class ScoreEmbeddings(ExceptionHandlingMixin, beam.PTransform):
    """Top-``k`` rows per query by code score: ``(query_key, [(id, score), ...])``, best first.

    ``queries``: an (nq, d) array (keys 0..nq-1), a ``{key: vector}`` dict, an ``AsSingleton``
    of either, or a PCollection of ``(key, vector)`` pairs (used as a dict side input).
    ``id_column`` names each row in the result. ``mode`` is passed to ``Codec.search``.
    ``with_exception_handling()`` / ``with_error_handler()`` route failing elements (a missing id
    column, codes of the wrong size) in Beam's error shape.
    """

    def __init__(self, column: str, codec: CodecArg,
                 queries: npt.ArrayLike | dict[Any, npt.ArrayLike] | AsSingleton | AsDict | PCollection, *,
                 k: int = 10, id_column: str = "id", mode: str = "asymmetric",
                 faiss_threads: FaissThreads = "auto") -> None:
        super().__init__()
        check_k(k)
        self._column = column
        self._codec_arg = codec
        self._queries = queries
        self._k = k
        self._id_column = id_column
        self._mode = mode
        self._faiss_threads = faiss_threads

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection | TaggedResult:
        blob, side = split_codec_arg(self._codec_arg)
        side_inputs = {} if side is None else {"codec_blob": side}
        queries = self._queries
        if isinstance(queries, PCollection):
            queries = AsDict(queries)
        if isinstance(queries, (AsSingleton, AsDict)):
            side_inputs["queries"] = queries
            const = None
        else:
            query_set(queries)  # fail at construction on a malformed constant query set
            const = queries
        args = (blob, self._column, self._id_column, const, self._k, self._mode, self._faiss_threads)
        rt = _schemas.row_type(pcoll.element_type)
        if rt is not None:
            _schemas.check_fields(rt, self._column, self._id_column)
        candidates, bad = apply_by_form(pcoll, _ArrowCodesToCandidates(*args), _RowCodesToCandidates(*args),
                                        side_inputs, self._handling, schema_fn=_SchemaRowsToCandidates(*args))
        return self._finish(candidates | "TopK" >> TopKNeighbors(self._k), bad)
