"""DecodeEmbeddings: codes back to float32 vectors, on Arrow tables or row dicts.

Tables gain a ``fixed_size_list<float32>[dim]`` column; row dicts and ``beam.Row``s a list of
floats (a schema'd PCollection keeps its schema, plus an ``Optional[List[float]]`` field). Null
codes stay null. A code of the wrong size fails with an error naming column and row.
"""
from __future__ import annotations

import apache_beam as beam
import pyarrow as pa
from apache_beam.metrics import Metrics

from embcompress.arrow import decode_arrow
from embcompress.conventions import default_decoded_column

from . import _rows, _schemas, _tables
from ._codec_ref import CodecArg, CodecDoFn, FaissThreads, split_codec_arg
from ._errors import ExceptionHandlingMixin, TaggedResult
from .encode import NAMESPACE, apply_by_form


class _DecodeDoFn(CodecDoFn):
    def __init__(self, blob, column, output_column, drop_input, faiss_threads, replace=False):
        super().__init__(blob, faiss_threads)
        self._replace = replace
        self._column = column
        self._output_column = output_column
        self._drop_input = drop_input
        self._decoded = Metrics.counter(NAMESPACE, "rows_decoded")

    def _decode(self, codec, codes):
        vectors = decode_arrow(codec, codes, column=self._column)
        self._decoded.inc(len(vectors) - vectors.null_count)
        return vectors


class _ArrowCodesToVectors(_DecodeDoFn):
    """pyarrow Table/RecordBatch with a code column in, the same with a vector column out."""

    def process(self, element, codec_blob=None):
        codec = self.codec(codec_blob)
        table, was_batch = _tables.as_table(element)
        vectors = self._decode(codec, _tables.column_of(table, self._column))
        yield _tables.restore(_tables.put_column(table, self._column, self._output_column, vectors,
                                                 self._drop_input, self._replace), was_batch)


class _SchemaRowsToVectors(_DecodeDoFn):
    """Schema'd rows with a code field in (batched by Beam's Arrow converter), ``beam.Row``s out
    with the vector as a list of floats."""

    def get_input_batch_type(self, input_element_type):
        return pa.Table

    @beam.DoFn.yields_elements
    def process_batch(self, batch: pa.Table, codec_blob=None):
        vectors = self._decode(self.codec(codec_blob), _tables.column_of(batch, self._column)).to_pylist()
        for row, vector in zip(_schemas.rows_of(batch), vectors):
            yield _schemas.as_row(_rows.with_value(row, self._column, self._output_column, vector, self._drop_input,
                                                   self._replace))


class _RowCodesToVectors(_DecodeDoFn):
    """A batch of row dicts with code bytes in, one row dict per row out with a list of floats."""

    def process(self, elements, codec_blob=None):
        codec = self.codec(codec_blob)
        rows = [_rows.as_dict(e) for e in elements]
        vectors = self._decode(codec, _rows.code_column(rows, self._column)).to_pylist()
        for element, row, vector in zip(elements, rows, vectors):
            yield _rows.like(element, _rows.with_value(row, self._column, self._output_column, vector,
                                                       self._drop_input, self._replace))


class DecodeEmbeddings(ExceptionHandlingMixin, beam.PTransform):
    """Decode the code column ``column`` with ``codec`` (Codec, artifact bytes or singleton side input).

    ``output_column`` defaults to ``column`` without ``_code`` (``embedding_code`` -> ``embedding``),
    else ``<column>_decoded``; equal to ``column`` replaces the codes.
    Another existing column of that name is an error unless ``replace=True``.
    ``with_exception_handling()`` / ``with_error_handler()`` route failing elements (e.g. a code of
    the wrong size) in Beam's error shape, as ``ParDo``'s do.
    """

    def __init__(self, column: str, codec: CodecArg, *, output_column: str | None = None, drop_input: bool = False,
                 replace: bool = False, faiss_threads: FaissThreads = "auto") -> None:
        super().__init__()
        self._column = column
        self._codec_arg = codec
        self._output_column = output_column or default_decoded_column(column)
        self._drop_input = drop_input
        self._replace = replace
        self._faiss_threads = faiss_threads

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection | TaggedResult:
        blob, side = split_codec_arg(self._codec_arg)
        args = (blob, self._column, self._output_column, self._drop_input, self._faiss_threads, self._replace)
        out_type = lambda rt: _schemas.with_field(rt, self._column, self._output_column,  # noqa: E731
                                                  _schemas.VECTOR_TYPE, self._drop_input, self._replace)
        good, bad = apply_by_form(pcoll, _ArrowCodesToVectors(*args), _RowCodesToVectors(*args),
                                  {} if side is None else {"codec_blob": side}, self._handling, keeps_table_type=True,
                                  schema_fn=_SchemaRowsToVectors(*args), schema_out=out_type)
        return self._finish(good, bad)
