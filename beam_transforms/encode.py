"""EncodeEmbeddings: vectors to codes, on whole Arrow tables or on row dicts, with dead letters.

Tables (one per Parquet row group from ``ReadFromParquetBatched``) are encoded in one core
call each. Row dicts are gathered into batches, moved to an Arrow column and take the same
core path. Null vectors become null codes. Bad rows (NaN, Inf, wrong length, wrong type)
fail the pipeline with an error naming column, row and problem; after
``with_exception_handling()`` (or with an ``ErrorHandler``) they leave in Beam's error shape, and
after ``with_dead_letters()`` as ``{"row", "column", "embcompress_reason"}`` records on ``.bad``.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
from apache_beam.metrics import Metrics
from apache_beam.utils.windowed_value import WindowedValue

from embcompress import EmbeddingError
from embcompress.arrow import codes_as_binary, encode_arrow
from embcompress.conventions import check_on_invalid, default_code_column
from embcompress.provenance import ColumnRecord

from . import _rows, _schemas, _tables
from ._codec_ref import CodecArg, CodecDoFn, FaissThreads, limit_faiss_threads, split_codec_arg
from ._coders import arrow_hint, is_arrow_type
from ._errors import ExceptionHandlingMixin, Handling, TaggedResult, dead_letter

__all__ = ["EncodeEmbeddings", "EncodeResult", "dead_letter", "apply_by_form"]

NAMESPACE = "embcompress"
ROW_BATCH = (256, 4096)


class EncodeResult(NamedTuple):
    good: beam.PCollection
    bad: beam.PCollection


class _EncodeDoFn(CodecDoFn):
    """Shared by both conversions: encode one Arrow column, count, and route or raise on bad rows."""

    def __init__(self, blob, column, output_column, drop_input, on_invalid, faiss_threads, replace=False,
                 letters: Handling | None = None):
        super().__init__(blob, faiss_threads)
        self._letters = letters or Handling("dict")
        self._replace = replace
        self._column = column
        self._output_column = output_column
        self._drop_input = drop_input
        self._on_invalid = on_invalid
        self._encoded = Metrics.counter(NAMESPACE, "rows_encoded")
        self._rejected = Metrics.counter(NAMESPACE, "rows_rejected")
        self._nulls = Metrics.counter(NAMESPACE, "rows_null")
        self._bytes_in = Metrics.counter(NAMESPACE, "bytes_in")
        self._bytes_out = Metrics.counter(NAMESPACE, "bytes_out")

    def _encode(self, codec, values, extra_reasons=None):
        """Return ``(codes, rejected, reasons)`` for an Arrow vector column."""
        enc = encode_arrow(codec, values, column=self._column, on_invalid="dead_letter")
        return self._tally(codec, enc, len(values), extra_reasons)

    def _tally(self, codec, enc, n_rows, extra_reasons=None, count=True):
        """Count an encode result in the metrics (unless ``count`` is False); return
        ``(codes, rejected, reasons)``."""
        rejected, reasons = enc.rejected, enc.reasons
        if extra_reasons is not None and any(r is not None for r in extra_reasons):
            extra = np.array([r is not None for r in extra_reasons])
            rejected = rejected | extra
            reasons = np.where(extra, np.array(extra_reasons, dtype=object), reasons)
        if not count:
            return enc.codes, rejected, reasons
        n_rejected = int(rejected.sum())
        encoded = n_rows - enc.codes.null_count  # null codes: null vectors and rejected rows
        self._encoded.inc(encoded)
        self._nulls.inc(enc.codes.null_count - n_rejected)
        self._rejected.inc(n_rejected)
        self._bytes_in.inc(encoded * codec.dim * 4)
        self._bytes_out.inc(encoded * codec.code_size)
        return enc.codes, rejected, reasons

    def _refuse(self, rows_of, rejected, reasons):
        """Raise for the first bad row, naming it (position in the batch and its other fields)."""
        bad = np.flatnonzero(rejected)
        first = int(bad[0])
        more = f"; {bad.size - 1} more bad row(s) in this batch" if bad.size > 1 else ""
        raise EmbeddingError(f"{reasons[first]}{more} (row fields: {_tables.preview(rows_of(first), self._column)})",
                             row=first, column=self._column,
                             hint="fix or drop these rows, or pass on_invalid='null' or 'dead_letter' "
                                  "(EncodeEmbeddings(...).with_dead_letters())")


class _ArrowTableToCodes(_EncodeDoFn):
    """pyarrow Table/RecordBatch in, the same with a ``binary`` code column out.

    Tables are encoded one element ahead on a worker thread: while faiss (which releases
    the GIL) encodes this table, the bundle thread returns to Beam to read the next row
    group, so reading and encoding overlap. Each output carries its element's window,
    timestamp and pane, in order; metrics and errors are raised on the bundle thread.

    Outputs emitted late must be WindowedValues, and Beam multiplies the windows of a
    WindowedValue yielded for an input in several windows; so ``process`` asks for the window,
    which makes Beam call it once per window, and an element seen again for its next window
    reuses its encode and is counted once.
    """

    def setup(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embcompress-encode",
                                        initializer=limit_faiss_threads,
                                        initargs=(self._faiss_threads, self._built_in_pid))
        self._pending = self._last = None
        super().setup()

    def teardown(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=True)

    def start_bundle(self):
        self._pending = self._last = None

    def process(self, element, timestamp=beam.DoFn.TimestampParam, window=beam.DoFn.WindowParam,
                pane=beam.DoFn.PaneInfoParam, codec_blob=None):
        codec = self.codec(codec_blob)
        if self._letters.style == "beam":
            # Under Beam's exception handling each element is finished before the next, so an
            # error is charged to the element that caused it (and Beam's wrapper passes no windows).
            table, was_batch = _tables.as_table(element)
            enc = encode_arrow(codec, _tables.column_of(table, self._column), column=self._column,
                               on_invalid="dead_letter")
            yield from self._complete(_Done(enc), codec, table, was_batch, None, True)
            return
        if self._last is not None and self._last[0] is element and self._last[1] is codec:
            _, _, future, table, was_batch = self._last  # the same element, in its next window
            count = False
        else:
            table, was_batch = _tables.as_table(element)
            values = _tables.column_of(table, self._column)
            future = self._pool.submit(encode_arrow, codec, values, column=self._column, on_invalid="dead_letter")
            self._last = (element, codec, future, table, was_batch)
            count = True
        where = (timestamp, (window,), pane)
        previous, self._pending = self._pending, (future, codec, table, was_batch, where, count)
        if previous is not None:
            yield from self._complete(*previous)

    def finish_bundle(self):
        previous, self._pending, self._last = self._pending, None, None
        if previous is not None:
            yield from self._complete(*previous)

    def _complete(self, future, codec, table, was_batch, where, count):
        codes, rejected, reasons = self._tally(codec, future.result(), len(table), count=count)
        if rejected.any() and self._on_invalid != "null":  # under "null" they keep their null code
            rows_of = lambda i: table.slice(i, 1).to_pylist()[0]  # noqa: E731
            if self._on_invalid == "raise":
                self._refuse(rows_of, rejected, reasons)
            bad = np.flatnonzero(rejected)
            tag = self._letters.dead_letter_tag
            for i, row in zip(bad, table.take(pa.array(bad)).to_pylist()):
                letter = self._letters.letter(_tables.restore(table.slice(int(i), 1), was_batch), row, self._column,
                                              reasons[i], int(i))
                yield beam.pvalue.TaggedOutput(tag, letter if where is None else WindowedValue(letter, *where))
            keep = pa.array(~rejected)
            table, codes = table.filter(keep), codes.filter(keep)
        out = _tables.put_column(table, self._column, self._output_column, codes_as_binary(codes), self._drop_input,
                                 self._replace)
        out = _tables.restore(_tables.with_provenance(out, self._record(codec)), was_batch)
        yield out if where is None else WindowedValue(out, *where)

    def _record(self, codec):
        if getattr(self, "_record_for", None) is not codec:
            self._record_of = ColumnRecord.of(codec, self._column, self._output_column)
            self._record_for = codec
        return self._record_of


class _Done:
    """A finished result with a future's ``result()``, for the synchronous path."""

    def __init__(self, value):
        self._value = value

    def result(self):
        return self._value


class _SchemaRowsToCodes(_EncodeDoFn):
    """Schema'd rows in, batched by Beam's Arrow batch converter; one ``beam.Row`` per row out
    with the code as a ``bytes`` field, or (routed) the bad row in Beam's or our record shape."""

    def get_input_batch_type(self, input_element_type):
        return pa.Table  # Beam's Arrow batch converter (this module's annotations are strings)

    @beam.DoFn.yields_elements
    def process_batch(self, batch: pa.Table, codec_blob=None):
        codec = self.codec(codec_blob)
        codes, rejected, reasons = self._encode(codec, _tables.column_of(batch, self._column))
        rows = _schemas.rows_of(batch)
        if rejected.any() and self._on_invalid == "raise":
            self._refuse(lambda i: rows[i], rejected, reasons)
        values = codes_as_binary(codes).to_pylist()
        for i, row in enumerate(rows):
            if rejected[i] and self._on_invalid == "dead_letter":
                letter = self._letters.letter(_schemas.as_row(row), row, self._column, reasons[i], i)
                yield beam.pvalue.TaggedOutput(self._letters.dead_letter_tag, letter)
                continue
            yield _schemas.as_row(_rows.with_value(row, self._column, self._output_column, values[i],
                                                   self._drop_input, self._replace))


class _RowDictsToCodes(_EncodeDoFn):
    """A batch (list) of row dicts or ``beam.Row``s in, one row of the same kind per row out,
    with the code as ``bytes``."""

    def process(self, elements, codec_blob=None):
        codec = self.codec(codec_blob)
        rows = [_rows.as_dict(e) for e in elements]
        values, type_reasons = _rows.vector_column(rows, self._column)
        codes, rejected, reasons = self._encode(codec, values, type_reasons)
        if rejected.any() and self._on_invalid == "raise":
            self._refuse(lambda i: rows[i], rejected, reasons)
        size = codec.code_size
        flat = np.frombuffer(codes.buffers()[1], dtype=np.uint8)[codes.offset * size:]
        null = codes.is_null().to_numpy(zero_copy_only=False)
        for i, row in enumerate(rows):
            if rejected[i] and self._on_invalid == "dead_letter":
                letter = self._letters.letter(elements[i], row, self._column, reasons[i], i)
                yield beam.pvalue.TaggedOutput(self._letters.dead_letter_tag, letter)
                continue
            code = None if null[i] else flat[i * size:(i + 1) * size].tobytes()
            out = _rows.with_value(row, self._column, self._output_column, code, self._drop_input, self._replace)
            yield _rows.like(elements[i], out)


def _form(element, _n) -> int:
    """Partition index: 0 for Arrow tables and record batches, 1 for row dicts and ``beam.Row``s."""
    if isinstance(element, (pa.Table, pa.RecordBatch)):
        return 0
    if _rows.is_row_dict(element):
        return 1
    raise TypeError(f"expected pyarrow Tables, RecordBatches, row dicts or beam.Rows, got {type(element).__name__}")



def _pardo(fn, side_inputs: dict, handling: Handling | None):
    """``ParDo(fn)`` with its bad-row outputs: our tag for legacy records, Beam's wrapper for Beam's shape."""
    do = beam.ParDo(fn, **side_inputs)
    if handling is None:
        return do
    if handling.style == "beam":
        return do.with_exception_handling(handling.main_tag, handling.dead_letter_tag, **handling.beam_kwargs)
    return do.with_outputs(handling.dead_letter_tag, main=handling.main_tag)


def apply_by_form(pcoll, table_fn, rows_fn, side_inputs: dict, handling: Handling | None,
                  keeps_table_type: bool = False, schema_fn=None, schema_out=None):
    """Send tables through ``table_fn`` and batched row dicts through ``rows_fn``; flatten the results.

    A PCollection typed ``pa.Table``/``pa.RecordBatch`` (e.g. ``ReadFromParquetBatched(...)
    .with_output_types(ArrowTable)``) goes straight to ``table_fn``: no Partition, batching or
    Flatten, and when ``keeps_table_type`` the output is typed with our Arrow hint, so Beam uses
    the Arrow coder (:mod:`._coders`) rather than pickling tables to sample their size.
    A schema'd PCollection (:func:`._schemas.row_type`) goes to ``schema_fn`` (a batched DoFn
    fed by Beam's Arrow batch converter), typed ``schema_out(row_type)`` on output.
    Returns ``(main, bad)`` (``bad`` is None unless ``handling``).
    """
    def split(out):
        if handling is None:
            return out, None
        return out[handling.main_tag], out[handling.dead_letter_tag]

    if is_arrow_type(pcoll.element_type):
        main, bad = split(pcoll | "Tables" >> _pardo(table_fn, side_inputs, handling))
        if keeps_table_type:
            # Typed after the fact, not with with_output_types: a declared output type would make
            # runtime_type_check test the dead letters against it too.
            main.element_type = arrow_hint(pcoll.element_type)
        return main, bad
    rt = _schemas.row_type(pcoll.element_type) if schema_fn is not None else None
    if rt is not None and (handling is None or handling.style != "beam"):
        # Batched by Beam's Arrow converter. Our DoFn routes its bad rows itself (tagged outputs,
        # records shaped by the DoFn); Beam's exception-handling wrapper, which would bypass
        # process_batch, takes the per-element path below instead.
        main, bad = split(pcoll | "SchemaRows" >> _pardo(schema_fn, side_inputs, handling))
        if schema_out is not None:
            main.element_type = schema_out(rt)
        return main, bad
    main, bad = _by_partition(pcoll, table_fn, rows_fn, side_inputs, handling, split)
    if rt is not None and schema_out is not None:
        main.element_type = schema_out(rt)
    return main, bad


def _by_partition(pcoll, table_fn, rows_fn, side_inputs, handling, split):
    """Mixed or untyped elements: tables one way, row dicts and rows batched the other, flattened."""
    tables, rows = pcoll | "SplitByForm" >> beam.Partition(_form, 2)
    batches = rows | "BatchRows" >> beam.BatchElements(min_batch_size=ROW_BATCH[0], max_batch_size=ROW_BATCH[1])
    outs = [split(source | name >> _pardo(fn, side_inputs, handling))
            for name, source, fn in (("Tables", tables, table_fn), ("Rows", batches, rows_fn))]
    good = [o[0] for o in outs] | "FlattenGood" >> beam.Flatten()
    if handling is None:
        return good, None
    return good, [o[1] for o in outs] | "FlattenBad" >> beam.Flatten()


class EncodeEmbeddings(ExceptionHandlingMixin, beam.PTransform):
    """Encode ``column`` with ``codec`` (a Codec, artifact bytes, or a singleton side input of bytes).

    Output is in the input's form: tables gain a ``binary`` code column ``output_column``
    (default ``<column>_code``; equal to ``column`` replaces it; another existing column of that
    name is an error unless ``replace=True``) and schema metadata naming
    the codec; row dicts gain the code as ``bytes``. Bad vectors (NaN, Inf, wrong length or
    type) follow ``on_invalid``: ``"raise"`` fails naming the row, ``"null"`` keeps the row
    with a null code, ``"dead_letter"`` (the same as ``.with_dead_letters()``) returns
    ``(good, bad)``. Counters (namespace ``embcompress``):
    ``rows_encoded``, ``rows_rejected``, ``rows_null``, ``bytes_in`` (float32 bytes of the
    encoded vectors) and ``bytes_out`` (code bytes).
    """

    def __init__(self, column: str, codec: CodecArg, *, output_column: str | None = None, drop_input: bool = False,
                 replace: bool = False, on_invalid: str = "raise", faiss_threads: FaissThreads = "auto") -> None:
        super().__init__()
        self._on_invalid = check_on_invalid(on_invalid)
        self._column = column
        self._codec_arg = codec
        self._output_column = output_column or default_code_column(column)
        self._drop_input = drop_input
        self._replace = replace
        self._faiss_threads = faiss_threads

    def with_dead_letters(self) -> "EncodeEmbeddings":
        """``on_invalid="dead_letter"``: bad rows go to ``.bad`` as ``{"row", "column", "embcompress_reason"}``
        records (the shape ``CompressParquet`` writes as its rejected files); the result has ``.good``
        and ``.bad``. For Beam's own error shape use ``with_exception_handling()``."""
        self._on_invalid = "dead_letter"
        self._handling = None
        return self

    def expand(self, pcoll: beam.PCollection) -> beam.PCollection | EncodeResult | TaggedResult:
        blob, side = split_codec_arg(self._codec_arg)
        handling = self._handling
        on_invalid = self._on_invalid
        if handling is not None and on_invalid == "raise":
            on_invalid = "dead_letter"  # Beam's exception handling: every bad row is routed
        if handling is None and on_invalid == "dead_letter":
            handling = Handling("dict")
        letters = None if handling is None else Handling(handling.style, handling.main_tag, handling.dead_letter_tag)
        args = (blob, self._column, self._output_column, self._drop_input, on_invalid, self._faiss_threads,
                self._replace, letters)
        side_inputs = {} if side is None else {"codec_blob": side}
        out_type = lambda rt: _schemas.with_field(rt, self._column, self._output_column,  # noqa: E731
                                                  _schemas.CODE_TYPE, self._drop_input, self._replace)
        good, bad = apply_by_form(pcoll, _ArrowTableToCodes(*args), _RowDictsToCodes(*args), side_inputs,
                                  handling, keeps_table_type=True, schema_fn=_SchemaRowsToCodes(*args),
                                  schema_out=out_type)
        if self._handling is None:
            return good if bad is None else EncodeResult(good, bad)
        return self._finish(good, bad)
