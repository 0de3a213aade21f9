"""Stream a Parquet file row group by row group through a codec, with bounded memory.

Output is written to a temporary file next to the target and renamed into place only when
complete, so a crash leaves either no output or the previous one, never a truncated file.
The output's schema metadata records which codec encoded which column.

An encode with a rejected file is one result in two files. Both footers carry a run record
(``embcompress.run``: a run id, the row counts, the rejected file's name); the run id is a
digest of the input's footer, the codec and the options, so a rerun writes the same bytes and
a run over other input or with another codec gets another id. The rejected file
is renamed into place first and the output last, so the output's rename commits the result.
:func:`verify_result` tells a complete result from a partial or mixed one.

A result of many files (Beam's ``CompressParquet``: output shards and rejected shards) uses
the same record: each file's footer carries ``embcompress.run`` with the run id and its role,
and once every file is in place one small JSON file, ``_<name>.embcompress.run.json`` next to
the output (:func:`result_record_path`), holds the run record with the lists of files. That
file is written last, atomically: it is the commit point, and :func:`verify_result` on it
checks every file it names.
"""
from __future__ import annotations

import hashlib
import json
import os
import struct

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import provenance, storage
from .arrow import codes_as_binary, codes_from_arrow, decode_arrow, encode_arrow, vectors_from_arrow
from .conventions import REASON_COLUMN, check_on_invalid, default_code_column, default_decoded_column
from .errors import EmbeddingError
from ._paths import check_no_alias
from ._prefetch import prefetched
from .provenance import ColumnRecord
from ._validation import raise_on_invalid

METADATA_KEY = provenance.KEY
RUN_KEY = b"embcompress.run"
RESULT_SUFFIX = ".embcompress.run.json"
MAX_RESULT_RECORD_BYTES = 64 << 20
# Rows per read, and a small read buffer instead of pyarrow's pre-buffering of whole column
# chunks: memory stays bounded whatever the row-group size. For 1M x 384 rows (PCA128,SQ8,
# 50k-row groups) the CLI encode peaked at 602 MB this way, against 1,041 MB with 64k-row
# batches and pre-buffering, and ran no slower.
BATCH_ROWS = 32768
READ_BUFFER_BYTES = 1 << 20
# From an object store each buffered read is one HTTP request: larger reads, fewer round trips.
REMOTE_READ_BUFFER_BYTES = 8 << 20
# A row group may hold this many values beyond rows x dim (rows of the wrong length, which
# on_invalid routes) before it is refused unread: a 923-byte file can hold one 100M-float row.
MAX_EXCESS_VALUES = 1 << 24


def codec_metadata(codec, column: str, output_column: str, *, codec_version: int | None = None) -> ColumnRecord:
    """The provenance record of ``codec`` encoding ``column`` into ``output_column``."""
    return ColumnRecord.of(codec, column, output_column, codec_version=codec_version)


def read_codec_metadata(path) -> list[ColumnRecord]:
    """The provenance records (one per code column) of a Parquet file, whichever engine wrote it."""
    return provenance.read(path)


def _release_batch_memory() -> None:
    """Hand a finished batch's freed Arrow pages back to the OS.

    Arrow's allocator keeps freed pages for reuse, which raised the peak RSS of a streaming
    encode. (A full ``gc.collect()`` per batch, used before, cost 34 ms a batch and is not
    needed: the batches' buffers are not held by reference cycles.)
    """
    pa.default_memory_pool().release_unused()


def _tables(source: pq.ParquetFile):
    """The file as tables, one per row group, with oversized row groups split to BATCH_ROWS rows."""
    for i in range(source.num_row_groups):
        for batch in source.iter_batches(batch_size=BATCH_ROWS, row_groups=[i]):
            yield pa.Table.from_batches([batch])


def open_column(path, column: str, *, hint=None) -> pq.ParquetFile:
    """Open ``path`` and check that ``column`` exists, listing the available ones if not."""
    try:
        buffer = READ_BUFFER_BYTES if storage.is_local(path) else REMOTE_READ_BUFFER_BYTES
        source = storage.open_parquet(path, pre_buffer=False, buffer_size=buffer)
    except FileNotFoundError:
        raise storage.missing(path, "input file") from None
    except (pa.ArrowInvalid, OSError) as exc:
        raise ValueError(f"{path} is not a readable Parquet file ({exc})") from None
    names = source.schema_arrow.names
    if column not in names:
        raise EmbeddingError(f"no such column in {path}; available columns: {', '.join(names)}", column=column,
                             hint=hint)
    return source


def check_value_counts(source, column: str, dim: int, path) -> None:
    """Refuse, from the footer alone, a row group whose vectors hold far more values than
    ``dim`` per row: reading it would materialise a huge row before any length check.
    ``source`` is a ``ParquetFile`` or its ``FileMetaData`` (a dataset fragment's footer)."""
    meta = source if isinstance(source, pq.FileMetaData) else source.metadata
    leaves = [j for j in range(meta.num_columns) if meta.schema.column(j).path.split(".")[0] == column]
    if len(leaves) != 1:
        return  # not a plain list column: the type check names the problem
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        values, rows = group.column(leaves[0]).num_values, group.num_rows
        if values - rows * dim > MAX_EXCESS_VALUES:
            raise EmbeddingError(f"row group {i} of {path} holds {values:,} values for {rows:,} rows, far more than "
                                 f"{dim} per row: a vector is much longer than expected; refusing to read it",
                                 column=column, hint=f"rows of the wrong length are tolerated up to "
                                 f"{MAX_EXCESS_VALUES:,} extra values per row group")


def check_files(paths, column: str, dim: int, *, open_file=None) -> None:
    """:func:`check_value_counts` for every file of ``paths``, reading footers only.

    ``open_file`` opens a path for binary reading (default: a local file; Beam passes its
    ``FileSystems.open`` for remote files)."""
    for path in paths:
        with (open_file(path) if open_file is not None else open(path, "rb")) as f:
            check_value_counts(pq.ParquetFile(f), column, dim, path)


class _AtomicWriter:
    """A ParquetWriter on a hidden temporary file that ``commit`` puts in place whole
    (:class:`storage.AtomicOutput`: a rename locally, a server-side copy on object stores)."""

    def __init__(self, path, schema):
        self.path = os.fspath(path)
        self.out = storage.AtomicOutput(self.path)
        self.writer = pq.ParquetWriter(self.out.stream, schema, compression="zstd")

    def write(self, table):
        self.writer.write_table(table)

    def annotate(self, record: dict) -> None:
        """Put ``record`` in the file's footer (written by ``commit``)."""
        self.writer.add_key_value_metadata({RUN_KEY: json.dumps(record, sort_keys=True).encode()})

    def commit(self):
        self.writer.close()
        self.out.commit()

    def abort(self):
        self.writer.close()
        self.out.abort()


def _check_target(path, overwrite: bool):
    if storage.exists(path) and not overwrite:
        raise FileExistsError(f"{path} already exists; pass overwrite=True to replace it")


def refuse_existing(names, output_column: str, replace: bool, path, removed=()) -> None:
    """Raise EmbeddingError when ``output_column`` would overwrite a column of the input that
    the output keeps (``removed`` names the columns the output drops anyway)."""
    if output_column in names and output_column not in removed and not replace:
        raise EmbeddingError(f"output column already exists in {path}; writing there would replace its data",
                             column=output_column,
                             hint="choose another output column, or pass replace=True (--replace-column) "
                                  "to overwrite it")


def encode_file(input_path, output_path, codec, column: str, *, output_column=None, drop_input=False,
                on_invalid="raise", rejected_path=None, overwrite=False, replace=False, progress=None,
                codec_version: int | None = None, run_id: str | None = None) -> dict:
    """Encode ``column`` of a Parquet file into a ``binary`` code column (docs/conventions.md).

    Every other column and every row is kept (bad rows get a null code with
    ``on_invalid="null"``; with ``"dead_letter"`` they go to ``rejected_path`` with a reason
    column instead). ``run_id`` makes the file one part of a multi-file result (the CLI's
    directory encode, committed by its run record); by default it is a digest of this input,
    codec and options. An ``output_column`` that names another existing column is refused
    unless ``replace``; outputs that alias the input are refused before anything is written.
    With ``overwrite``, a rejected file left by an earlier run is removed when this run
    rejects nothing, so the files on disk always describe one run. Returns counts:
    rows_in, rows_out, rows_rejected.
    """
    check_on_invalid(on_invalid)
    if on_invalid == "dead_letter" and rejected_path is None:
        raise ValueError("on_invalid='dead_letter' needs rejected_path for the rejected rows")
    output_column = output_column or default_code_column(column)
    check_no_alias({"input": input_path}, {"output": output_path, "rejected_path": rejected_path})
    _check_target(output_path, overwrite)
    source = open_column(input_path, column)
    check_value_counts(source, column, codec.dim, input_path)
    in_schema = source.schema_arrow
    refuse_existing(in_schema.names, output_column, replace, input_path, removed=(column,) if drop_input else ())
    if on_invalid == "dead_letter":
        _check_target(rejected_path, overwrite)
    fields = [f for f in in_schema if not (drop_input and f.name == column) and f.name != output_column]
    record = codec_metadata(codec, column, output_column, codec_version=codec_version)
    out_schema = pa.schema(fields + [pa.field(output_column, pa.binary())],
                           metadata=provenance.with_record(in_schema.metadata, record))
    writer = _AtomicWriter(output_path, out_schema)
    rejected_writer = None
    counts = {"rows_in": 0, "rows_out": 0, "rows_rejected": 0}
    try:
        for table in prefetched(_tables(source)):
            try:
                encoded = encode_arrow(codec, table[column], column=column, on_invalid=on_invalid)
            except EmbeddingError as exc:
                raise exc.at_offset(counts["rows_in"]) from None  # name the row within the file
            counts["rows_in"] += table.num_rows
            if on_invalid == "dead_letter" and encoded.rejected.any():
                keep = pa.array(~encoded.rejected)
                bad = table.filter(pa.array(encoded.rejected))
                reasons = pa.array(encoded.reasons[encoded.rejected].tolist(), pa.string())
                bad = bad.append_column(REASON_COLUMN, reasons)
                if rejected_writer is None:
                    _check_target(rejected_path, overwrite)
                    rejected_writer = _AtomicWriter(rejected_path, bad.schema)
                rejected_writer.write(bad)
                counts["rows_rejected"] += bad.num_rows
                table, codes = table.filter(keep), encoded.codes.filter(keep)
            else:
                codes = encoded.codes
            out = table.select([f.name for f in fields]).append_column(output_column, codes_as_binary(codes))
            writer.write(out.cast(out_schema))
            counts["rows_out"] += out.num_rows
            if progress is not None:
                progress(len(encoded.rejected))
            del table, out, codes, encoded
            _release_batch_memory()
    except BaseException:
        writer.abort()
        if rejected_writer is not None:
            rejected_writer.abort()
        raise
    run_id = run_id or hashlib.sha256(footer_digest(input_path) + json.dumps(
        [codec.fingerprint, column, output_column, drop_input, on_invalid]).encode()).hexdigest()[:32]
    run = {"run_id": run_id, **counts,
           "rejected": os.path.basename(rejected_path) if rejected_writer is not None else None}
    if rejected_writer is not None:
        rejected_writer.annotate(dict(run, role="rejected", output=os.path.basename(output_path)))
        rejected_writer.commit()
    elif rejected_path is not None and storage.exists(rejected_path):
        storage.remove(rejected_path)  # an earlier run's rejects (overwrite=True): they do not belong to this output
    writer.annotate(dict(run, role="output"))
    writer.commit()  # the commit point: the output names its rejected file and the run
    return counts


def footer_digest(path) -> bytes:
    """sha256 of a Parquet file's footer (schema, row groups, column statistics): cheap and content-sensitive."""
    with storage.open_input_file(path) as f:
        end = f.size()
        f.seek(end - 8)
        length, magic = struct.unpack("<i4s", f.read(8))
        if magic != b"PAR1":
            raise ValueError(f"{path} is not a Parquet file (no PAR1 footer)")
        f.seek(end - 8 - length)
        return hashlib.sha256(f.read(length)).digest()


def run_record(path) -> dict | None:
    """The ``embcompress.run`` record in a file's footer, or None for files written before it existed."""
    raw = (storage.open_parquet(path).metadata.metadata or {}).get(RUN_KEY)
    return json.loads(raw) if raw else None


def result_record_path(output_prefix) -> str:
    """Where the run record of a multi-file result with file names ``<prefix>-*`` goes:
    ``out/part`` -> ``out/_part.embcompress.run.json`` (``_``: directory readers skip it)."""
    text = str(os.fspath(output_prefix))
    directory, name = text.rsplit("/", 1) if "/" in text else (".", text)
    return f"{directory}/_{name}{RESULT_SUFFIX}"


def result_record(run_id: str, files: list, rejected: list, *, rows_in: int, rows_out: int, rows_rejected: int) -> dict:
    """The run record of a multi-file result: the footer record's fields, with lists of file names
    (relative to the record's folder) for the output and the rejected rows."""
    return {"run_id": run_id, "rows_in": int(rows_in), "rows_out": int(rows_out),
            "rows_rejected": int(rows_rejected), "role": "result", "files": sorted(files),
            "rejected": sorted(rejected)}


def _footer(path):
    """The Parquet footer of a local or remote file."""
    fs, inner = storage.resolve(path)
    with fs.open_input_file(inner) as f:
        return pq.ParquetFile(f).metadata


def _verify_files(record_path) -> dict:
    try:
        record = json.loads(storage.read_bytes(record_path, limit=MAX_RESULT_RECORD_BYTES).decode("utf-8"))
        names = {"output": list(record["files"]), "rejected": list(record["rejected"])}
        counts = {k: int(record[k]) for k in ("rows_in", "rows_out", "rows_rejected")}
    except FileNotFoundError:
        raise ValueError(f"{record_path} is missing: the result was never committed") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{record_path} is not an embcompress run record ({exc})") from None
    base = str(record_path).rsplit("/", 1)[0] if "/" in str(record_path) else "."
    for role, total in (("output", "rows_out"), ("rejected", "rows_rejected")):
        rows = 0
        for name in names[role]:
            path = storage.join(base, name)
            if not storage.exists(path):
                raise ValueError(f"{record_path} names {role} file {path}, which is missing: the result is partial")
            meta = _footer(path)
            theirs = json.loads((meta.metadata or {}).get(RUN_KEY) or b"{}")
            if theirs.get("run_id") != record["run_id"] or theirs.get("role") != role:
                raise ValueError(f"{path} belongs to another run than {record_path}: the result is mixed")
            rows += meta.num_rows
        if rows != counts[total]:
            raise ValueError(f"the {role} files of {record_path} hold {rows:,} rows; the record says "
                             f"{counts[total]:,}")
    if counts["rows_in"] != counts["rows_out"] + counts["rows_rejected"]:
        raise ValueError(f"{record_path}: {counts['rows_in']:,} rows in, but {counts['rows_out']:,} out and "
                         f"{counts['rows_rejected']:,} rejected")
    return record


def verify_result(output_path) -> dict:
    """Check that an encode's output and its rejected rows are one complete result; return its record.

    ``output_path`` is the output file of :func:`encode_file` (the CLI's ``-o``) or the run
    record of a multi-file result (:func:`result_record_path`). Raises ValueError when a file
    the record names is missing, belongs to another run, or holds another number of rows.
    """
    if str(output_path).endswith(RESULT_SUFFIX):
        return _verify_files(output_path)
    record = run_record(output_path)
    if record is None:
        raise ValueError(f"{output_path} has no embcompress run record; it was not written by encode_file")
    if record.get("rejected"):
        text = str(os.fspath(output_path))
        folder = os.path.dirname(storage.resolve(text)[1]) if storage.is_local(text) else text.rsplit("/", 1)[0]
        rejected = storage.join(folder, record["rejected"])
        if not storage.exists(rejected):
            raise ValueError(f"{output_path} names rejected file {rejected}, which is missing: the result is partial")
        theirs = run_record(rejected) or {}
        if theirs.get("run_id") != record["run_id"]:
            raise ValueError(f"{rejected} belongs to another run than {output_path}: the result is mixed")
        if storage.open_parquet(rejected).metadata.num_rows != record["rows_rejected"]:
            raise ValueError(f"{rejected} holds another number of rows than {output_path} records")
    return record


def decode_file(input_path, output_path, codec, column: str, *, output_column=None, overwrite=False,
                replace=False, progress=None, run_id: str | None = None) -> dict:
    """Decode a code column back to ``fixed_size_list<float32>[dim]``; null codes stay null.

    ``run_id`` marks the file as one part of a multi-file result (the CLI's directory decode).

    An ``output_column`` that names another existing column is refused unless ``replace``.
    """
    output_column = output_column or default_decoded_column(column)
    check_no_alias({"input": input_path}, {"output": output_path})
    _check_target(output_path, overwrite)
    source = open_column(input_path, column)
    refuse_existing(source.schema_arrow.names, output_column, replace, input_path, removed=(column,))
    fields = [f for f in source.schema_arrow if f.name not in (column, output_column)]
    out_schema = pa.schema(fields + [pa.field(output_column, pa.list_(pa.float32(), codec.dim))],
                           metadata=provenance.without_column(source.schema_arrow.metadata, column))
    writer = _AtomicWriter(output_path, out_schema)
    rows = 0
    try:
        for table in prefetched(_tables(source)):
            try:
                decoded = decode_arrow(codec, table[column], column=column)
            except EmbeddingError as exc:
                raise exc.at_offset(rows) from None  # name the row within the file
            writer.write(table.select([f.name for f in fields]).append_column(output_column, decoded).cast(out_schema))
            rows += table.num_rows
            if progress is not None:
                progress(table.num_rows)
            del decoded
            _release_batch_memory()
    except BaseException:
        writer.abort()
        raise
    if run_id is not None:
        writer.annotate({"run_id": run_id, "role": "output"})
    writer.commit()
    return {"rows_in": rows, "rows_out": rows}


def read_codes(path, column: str, code_size: int) -> np.ndarray:
    """A whole code column of a Parquet file as (n, code_size) uint8 (null codes are zeros)."""
    codes, _ = codes_from_arrow(storage.open_parquet(path).read(columns=[column])[column], code_size, column=column)
    return codes


def read_matrix(path, column: str, *, max_rows=None) -> np.ndarray:
    """The first ``max_rows`` vectors of a Parquet column as float32, read row group by row group."""
    source = open_column(path, column)
    parts, seen = [], 0
    for i in range(source.num_row_groups):
        if max_rows is not None and seen >= max_rows:
            break
        col = source.read_row_group(i, columns=[column])[column]
        batch = vectors_from_arrow(col, column=column)
        raise_on_invalid(batch.invalid, batch.reasons, column=column, row_offset=seen)
        parts.append(batch.matrix)
        seen += len(batch.matrix)
    x = np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
    return x[:max_rows] if max_rows is not None else x
