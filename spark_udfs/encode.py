"""Encode and decode DataFrame columns with ``mapInArrow``: every other column and every row
pass through untouched; the codec travels once as broadcast artifact bytes."""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal, cast, overload

import pyarrow as pa
from pyspark.sql import types as T

from embcompress.arrow import codes_as_binary, decode_arrow, encode_arrow, vectors_from_arrow
from embcompress import provenance
from embcompress.codec import Codec
from embcompress.conventions import REASON_COLUMN, check_on_invalid, default_code_column, default_decoded_column
from embcompress.errors import EmbeddingError
from embcompress.provenance import ColumnRecord

from . import _columns, _scan
from ._worker import broadcast_codec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

DEFAULT_REASON_COL = REASON_COLUMN
HINT = "fix or drop the row, or pass on_invalid='null' or on_invalid='dead_letter' to encode_column"
ENGINES = ("auto", "pyarrow", "spark")


def _located(exc: EmbeddingError, partition: int, offset: int, column: str, hint: str) -> EmbeddingError:
    """Re-raise a batch-relative error with the row counted from the start of its Spark partition."""
    # a batch-relative error counts its row as an int (cast: no runtime effect)
    row = None if exc.row is None else f"{cast(int, exc.row) + offset} of Spark partition {partition}"
    return EmbeddingError(exc.problem, row=row, column=column, hint=hint)


def _partition() -> int:
    from pyspark import TaskContext

    ctx = TaskContext.get()
    return ctx.partitionId() if ctx is not None else -1


def _output_schema(df, input_col, output_col, drop_input, out_type, metadata=None):
    """``df``'s schema with ``output_col`` (typed ``out_type``, carrying ``metadata``) added or replaced."""
    out = T.StructField(output_col, out_type, True, metadata)
    fields = []
    for f in df.schema.fields:
        if f.name.startswith(_columns.TEMP_PREFIX):
            continue
        if f.name == output_col:
            fields.append(out)
        elif not (drop_input and f.name == input_col):
            fields.append(f)
    if output_col not in df.columns:
        fields.append(out)
    return T.StructType(fields)


def _check_output(df, input_col, output_col, replace=False):
    """Refuse an ``output_col`` naming another existing column unless ``replace`` (the core's message)."""
    if output_col != input_col and output_col in df.columns and not replace:
        raise EmbeddingError("output column already exists; writing there would replace its data", column=output_col,
                             hint=f"choose another output_col, pass output_col={input_col!r} to replace the input "
                                  f"column, or replace=True to overwrite it")


def _assemble(batch: pa.RecordBatch, names, output_col, new_values, keep=None) -> pa.RecordBatch:
    cols = [new_values if name == output_col else batch.column(name) for name in names]
    out = pa.RecordBatch.from_arrays(cols, names=list(names))
    return out if keep is None else out.filter(pa.array(keep))


def _encoder(handle, read_col, column, output_col, names, mode):
    def run(batches):
        codec = handle.get()
        part, seen = _partition(), 0
        for batch in batches:
            try:
                enc = encode_arrow(codec, batch.column(read_col), column=column, on_invalid=mode)
            except EmbeddingError as exc:
                raise _located(exc, part, seen, column, HINT) from None
            seen += batch.num_rows
            keep = ~enc.rejected if mode == "dead_letter" else None
            yield _assemble(batch, names, output_col, codes_as_binary(enc.codes), keep)
    return run


def _row_group_encoder(handle, scan, column, output_col, names, mode):
    """Each task reads its row groups with pyarrow and encodes them: no Spark conversion of the vectors."""
    read = [n for n in names if n != output_col]
    read += [column] if column not in read else []

    def run(batches):
        codec = handle.get()
        for _, group in scan.task_groups(batches):
            seen = 0
            for data in scan.read(group, read):
                try:
                    enc = encode_arrow(codec, data.column(column), column=column, on_invalid=mode)
                except EmbeddingError as exc:
                    where = None if exc.row is None else f"{exc.row + seen} of row group {group.index} in {group.path}"
                    raise EmbeddingError(exc.problem, row=where, column=column, hint=HINT) from None
                seen += data.num_rows
                yield _assemble(data, names, output_col, codes_as_binary(enc.codes))
    return run


def _dead_letters(handle, read_col, column, names):
    def run(batches):
        codec = handle.get()
        for batch in batches:
            vb = vectors_from_arrow(batch.column(read_col), dim=codec.dim, column=column,
                                    nonzero_norm=codec.needs_nonzero_norm)
            bad = vb.rejected
            if not bad.any():
                continue
            reasons = pa.array(vb.reasons[bad].tolist(), pa.string())
            kept = batch.filter(pa.array(bad))
            yield pa.RecordBatch.from_arrays([kept.column(n) for n in names[:-1]] + [reasons], names=list(names))
    return run


def _plain_scan(df, src, engine, on_invalid):
    """The Parquet row groups to read directly, or None for Spark's own path (see ``_scan``)."""
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if engine == "spark":
        return None
    if engine == "pyarrow" and on_invalid == "dead_letter":
        raise ValueError("engine='pyarrow' does not split out dead letters; use engine='auto' or 'spark' "
                         "with on_invalid='dead_letter'")
    scan = _scan.parquet_scan(df) if src is df and on_invalid != "dead_letter" else None
    if scan is None and engine == "pyarrow":
        raise ValueError("engine='pyarrow' needs a DataFrame from spark_udfs.read_parquet(spark, path) "
                         "(optionally a select of its columns) of array<float|double> vectors that pyarrow "
                         "can open; use engine='auto' to fall back to Spark's path")
    return scan


@overload
def encode_column(df: DataFrame, codec: Codec, input_col: str, output_col: str | None = None, *,
                  on_invalid: Literal["raise", "null"] = "raise", drop_input: bool = False,
                  reason_col: str = DEFAULT_REASON_COL, engine: str = "auto", replace: bool = False,
                  ship: str = "auto") -> DataFrame: ...


@overload
def encode_column(df: DataFrame, codec: Codec, input_col: str, output_col: str | None = None, *,
                  on_invalid: Literal["dead_letter"], drop_input: bool = False, reason_col: str = DEFAULT_REASON_COL,
                  engine: str = "auto", replace: bool = False, ship: str = "auto") -> tuple[DataFrame, DataFrame]: ...


@overload
def encode_column(df: DataFrame, codec: Codec, input_col: str, output_col: str | None = None, *,
                  on_invalid: str = "raise", drop_input: bool = False, reason_col: str = DEFAULT_REASON_COL,
                  engine: str = "auto", replace: bool = False,
                  ship: str = "auto") -> DataFrame | tuple[DataFrame, DataFrame]: ...


def encode_column(df: DataFrame, codec: Codec, input_col: str, output_col: str | None = None, *,
                  on_invalid: str = "raise", drop_input: bool = False, reason_col: str = DEFAULT_REASON_COL,
                  engine: str = "auto", replace: bool = False,
                  ship: str = "auto") -> DataFrame | tuple[DataFrame, DataFrame]:
    """Add ``output_col`` (binary, ``codec.code_size`` bytes per row) holding the codes of ``input_col``.

    ``input_col`` is ``array<float>``, ``array<double>`` or a Spark ML vector; null vectors give
    null codes. Bad vectors (NaN, Inf, wrong length, ...) are handled by ``on_invalid``:
    ``"raise"`` fails the job naming column, row and problem; ``"null"`` gives them a null code;
    ``"dead_letter"`` returns ``(encoded_df, bad_df)``, where ``bad_df`` holds the bad rows
    unchanged plus ``reason_col``. Rows in = rows in ``encoded_df`` + rows in ``bad_df``.
    An ``output_col`` naming another existing column is refused unless ``replace=True``, which
    puts the codes in its place (``output_col=input_col`` replaces the vectors).

    ``engine="auto"`` reads the row groups with pyarrow on the executors when ``df`` comes from
    :func:`spark_udfs.read_parquet` (or is a select of its columns), skipping Spark's element-by-element
    conversion of the vectors; any other DataFrame goes through ``mapInArrow``. ``"spark"``
    always uses ``mapInArrow`` (for files only the JVM can open, e.g. through Hadoop
    credentials); ``"pyarrow"`` fails unless the direct read is possible.

    ``ship`` says how the codec reaches the tasks: ``"broadcast"`` (classic sessions),
    ``"closure"`` (inside each task, the only way on Spark Connect) or ``"auto"`` (docs/spark.md
    measures both).
    """
    check_on_invalid(on_invalid)
    output_col = output_col or default_code_column(input_col)
    _check_output(df, input_col, output_col, replace)
    src, read_col = _columns.vector_input(df, input_col)
    scan = _plain_scan(df, src, engine, on_invalid)
    handle = broadcast_codec(df.sparkSession, codec, how=ship)
    record = ColumnRecord.of(codec, input_col, output_col)  # saved by Spark in every file footer it writes
    schema = _output_schema(src, input_col, output_col, drop_input, T.BinaryType(), provenance.field_metadata(record))
    if scan is not None:
        run = _row_group_encoder(handle, scan, input_col, output_col, schema.names, on_invalid)
        return _scan.task_frame(df.sparkSession, scan).mapInArrow(run, schema)
    encoded = src.mapInArrow(_encoder(handle, read_col, input_col, output_col, schema.names, on_invalid), schema)
    if on_invalid != "dead_letter":
        return encoded
    if reason_col in df.columns:
        raise ValueError(f"reason column {reason_col!r} already exists; pass another reason_col")
    bad_schema = T.StructType([f for f in src.schema.fields if not f.name.startswith(_columns.TEMP_PREFIX)]
                              + [T.StructField(reason_col, T.StringType(), False)])
    bad = src.mapInArrow(_dead_letters(handle, read_col, input_col, bad_schema.names), bad_schema)
    return encoded, bad


def _decoder(handle, column, output_col, names):
    def run(batches):
        codec = handle.get()
        part, seen = _partition(), 0
        for batch in batches:
            try:
                vectors = decode_arrow(codec, batch.column(column), column=column)
            except EmbeddingError as exc:
                raise _located(exc, part, seen, column,
                               "decode with the codec that encoded this column") from None
            seen += batch.num_rows
            yield _assemble(batch, names, output_col, _columns.to_list(vectors))
    return run


def decode_column(df: DataFrame, codec: Codec, input_col: str, output_col: str | None = None, *,
                  drop_input: bool = False, replace: bool = False, ship: str = "auto") -> DataFrame:
    """Add ``output_col`` (``array<float>``, the reconstruction) decoded from the binary codes in ``input_col``.

    ``output_col`` defaults to ``input_col`` without ``_code`` (``embedding_code`` -> ``embedding``),
    else ``{input_col}_decoded``; an existing column of that name is an error.

    Null codes give null vectors; a code of the wrong size fails naming the row, the expected
    and the actual size. An ``output_col`` naming another existing column is refused unless
    ``replace=True``.
    """
    output_col = output_col or default_decoded_column(input_col)
    _check_output(df, input_col, output_col, replace)
    _columns.code_input(df, input_col)
    handle = broadcast_codec(df.sparkSession, codec, how=ship)
    schema = _output_schema(df, input_col, output_col, drop_input, T.ArrayType(T.FloatType(), True))
    return df.mapInArrow(_decoder(handle, input_col, output_col, schema.names), schema)
