"""CompressParquet: Parquet files in, the same files with the embedding column as codes out.

ReadFromParquetBatched → FitCodec (when given a spec) → EncodeEmbeddings → Parquet write.
The code column is ``binary``; every other column is kept; the schema metadata holds the
provenance record (``embcompress``, docs/conventions.md). Rejected rows go to a sibling
Parquet output, ``<output dir>/_rejected/<name>-*.parquet``: the original columns plus
``embcompress_reason``. Spark, Hive and ``pyarrow.dataset`` skip ``_``-prefixed paths, so reading
the output directory reads the encoded rows only.

The output shards and the rejected shards are one result, committed once: every file's footer
carries the run record of :mod:`embcompress.parquet_io` (``embcompress.run``: the run id and
the file's role), and a last step, which runs only when both writes are finished, checks
rows in = rows out + rows rejected from the footers, removes files an earlier run left under
the same names, and then writes ``<output dir>/_<name>.embcompress.run.json`` (the run id, the
row counts and both lists of files) atomically. That record is the commit point:
``embcompress.parquet_io.verify_result`` on it tells a complete result from a partial or mixed one.
"""
from __future__ import annotations

import json
import os
import uuid
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.io import filebasedsink
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.pvalue import AsList, AsSingleton

from embcompress import Codec, storage
from embcompress.conventions import REASON_COLUMN, default_code_column
from embcompress.parquet_io import (
    RUN_KEY,
    check_files,
    result_record,
    result_record_path,
)
from embcompress._paths import check_no_alias
from embcompress.provenance import ColumnRecord
from embcompress.spec import MAX_DIM

from . import _tables
from ._codec_ref import CodecArg, FaissThreads, split_codec_arg
from ._coders import arrow_hint
from .artifacts import write_artifact
from .encode import EncodeEmbeddings
from .fit import FitCodec

REJECTED_DIR = "_rejected"
REJECTED_BATCH = 4096
SHARDS = "-*-of-*"


class _OpenParquet:
    def __init__(self, handle):
        self.handle = handle
        self.writer = None


class ParquetTableSink(filebasedsink.FileBasedSink):
    """Writes pyarrow Tables like WriteToParquetBatched, taking the schema from the first table.

    WriteToParquetBatched needs the schema when the pipeline is built, but the codec's
    fingerprint (schema metadata) is only known once FitCodec has run; an empty shard is
    written with ``fallback_schema``.
    """

    def __init__(self, file_path_prefix, fallback_schema: pa.Schema, *, compression="zstd", num_shards=0,
                 file_name_suffix=".parquet", footer=None):
        super().__init__(file_path_prefix, coder=None, file_name_suffix=file_name_suffix, num_shards=num_shards,
                         mime_type="application/x-parquet", compression_type=CompressionTypes.UNCOMPRESSED)
        self._footer = {RUN_KEY: json.dumps(footer, sort_keys=True).encode()} if footer else {}
        self._fallback = self._annotated(fallback_schema)
        self._compression = compression

    def _annotated(self, schema: pa.Schema) -> pa.Schema:
        """``schema`` with the run record ``footer`` in its metadata (and so in every file's footer)."""
        return schema.with_metadata({**(schema.metadata or {}), **self._footer}) if self._footer else schema

    def open(self, temp_path):
        return _OpenParquet(super().open(temp_path))

    def _writer(self, out, schema):
        if out.writer is None:
            out.writer = pq.ParquetWriter(out.handle, schema, compression=self._compression)
        return out.writer

    def write_record(self, out, table):
        table, _ = _tables.as_table(table)
        if self._footer:
            table = table.replace_schema_metadata(self._annotated(table.schema).metadata)
        self._writer(out, table.schema).write_table(table)

    def close(self, out):
        self._writer(out, self._fallback).close()
        out.handle.close()


def input_schema(file_pattern) -> pa.Schema:
    """The schema of the first file matching ``file_pattern`` (read once, at construction)."""
    matches = FileSystems.match([file_pattern])[0].metadata_list
    if not matches:
        raise FileNotFoundError(f"no files match {file_pattern!r}")
    with FileSystems.open(sorted(m.path for m in matches)[0], compression_type=CompressionTypes.UNCOMPRESSED) as f:
        return pq.read_schema(f)


def rejected_prefix(output_prefix: str) -> str:
    """``out/part`` → ``out/_rejected/part``."""
    directory, name = FileSystems.split(output_prefix)
    return FileSystems.join(directory, REJECTED_DIR, name)


def _shards(prefix: str) -> list:
    """The files a run with this output prefix may have written: output and rejected shards."""
    found = FileSystems.match([prefix + SHARDS + ".parquet", rejected_prefix(prefix) + SHARDS + ".parquet"])
    return sorted(m.path for r in found for m in r.metadata_list)


def _relative(path: str, directory: str) -> str:
    if "://" in directory:
        return path[len(directory.rstrip("/")) + 1:]
    return os.path.relpath(os.path.abspath(path), os.path.abspath(directory))


def _rows(paths) -> int:
    total = 0
    for path in paths:
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as f:
            total += pq.ParquetFile(f).metadata.num_rows
    return total


def _commit(_, files, rejected, pattern: str, prefix: str, run_id: str) -> str:
    """Commit the result once both writes are done: check the row counts, remove what an earlier
    run left under this prefix, then write the run record (the commit point). Returns its path."""
    inputs = sorted(m.path for m in FileSystems.match([pattern])[0].metadata_list)
    rows_in, rows_out, rows_rejected = _rows(inputs), _rows(files), _rows(rejected)
    if rows_in != rows_out + rows_rejected:
        raise RuntimeError(f"CompressParquet read {rows_in:,} rows but wrote {rows_out:,} plus {rows_rejected:,} "
                           f"rejected under {prefix}; nothing was committed, rerun with overwrite=True")
    directory = FileSystems.split(prefix)[0]
    names, rejected_names = [_relative(p, directory) for p in files], [_relative(p, directory) for p in rejected]
    stale = [p for p in _shards(prefix) if _relative(p, directory) not in set(names + rejected_names)]
    if stale:
        FileSystems.delete(stale)  # an earlier run's shards that this run did not replace
    record = result_record(run_id, names, rejected_names, rows_in=rows_in, rows_out=rows_out,
                           rows_rejected=rows_rejected)
    path = result_record_path(prefix)
    storage.write_bytes(path, json.dumps(record, indent=1, sort_keys=True).encode(), overwrite=True)
    return path


def _rejected_table(dead_letters, schema: pa.Schema) -> pa.Table:
    """Dead-letter records as a table: the original row's columns plus the reason."""
    rows = [dict(d["row"], **{REASON_COLUMN: d[REASON_COLUMN]}) for d in dead_letters]
    return pa.Table.from_pylist(rows, schema=schema)


class CompressParquet(beam.PTransform):
    """``p | CompressParquet("in/*.parquet", "out/part", "embedding", "PQ48")``.

    ``codec`` is a spec string (fitted in the pipeline on ``sample_size`` rows, written to
    ``artifact_location`` if given) or a codec (Codec, artifact bytes, singleton PCollection).
    ``output_column`` defaults to ``{column}_code`` (docs/conventions.md); the vectors are
    dropped unless ``drop_input=False``; another existing column of that name is refused
    unless ``replace=True``. The output prefix and the artifact
    location must lie apart from the input files (checked at construction). An output prefix
    that already holds a result (shards or a run record) is refused unless ``overwrite=True``
    (which also lets ``artifact_location`` be replaced); the rerun then removes the earlier
    run's files. The result is committed by its run record (see the module docstring).
    Returns a dict of PCollections: ``codec`` (artifact bytes, when fitted here), ``files``
    and ``rejected_files`` (the paths written), ``result`` (the run record's path, once committed).
    """

    def __init__(self, file_pattern: str, output_prefix: str, column: str, codec: CodecArg | str, *,
                 sample_size: int = 100_000, seed: int = 0, metric: str = "ip", artifact_location: str | None = None,
                 overwrite: bool = False, output_column: str | None = None, drop_input: bool = True,
                 replace: bool = False, compression: str = "zstd", num_shards: int = 0,
                 faiss_threads: FaissThreads = "auto") -> None:
        super().__init__()
        check_no_alias({"file_pattern": file_pattern},
                       {"output_prefix": output_prefix, "artifact_location": artifact_location})
        self._check_footers(file_pattern, column, codec)
        existing = _shards(output_prefix) + [p for p in [result_record_path(output_prefix)] if storage.exists(p)]
        if existing and not overwrite:
            raise FileExistsError(f"output_prefix {output_prefix} already holds a result ({len(existing)} files, "
                                  f"e.g. {existing[0]}); pass overwrite=True to replace it")
        self._run_id = uuid.uuid4().hex
        self._pattern = file_pattern
        self._prefix = output_prefix
        self._column = column
        self._spec = codec if isinstance(codec, str) else None
        self._codec_arg = None if self._spec else codec
        self._fit_args: dict[str, Any] = dict(sample_size=sample_size, seed=seed, metric=metric,
                                              artifact_location=artifact_location, overwrite=overwrite)
        self._output_column = output_column or default_code_column(column)
        self._drop_input = drop_input
        self._replace = replace
        self._compression = compression
        self._num_shards = num_shards
        self._faiss_threads = faiss_threads
        if self._spec:
            FitCodec(column, self._spec, **self._fit_args)  # check the arguments now, not at run time

    @staticmethod
    def _check_footers(file_pattern, column, codec):
        """Refuse, from the footers, an input whose vectors hold far more values than any codec
        takes, before the sample read or the encode read materialises such a row."""
        dim = codec.dim if isinstance(codec, Codec) else MAX_DIM
        paths = sorted(m.path for m in FileSystems.match([file_pattern])[0].metadata_list)
        check_files(paths, column, dim,
                    open_file=lambda p: FileSystems.open(p, compression_type=CompressionTypes.UNCOMPRESSED))

    def _schemas(self, codec):
        schema = input_schema(self._pattern)
        if self._column not in schema.names:
            raise ValueError(f"column {self._column!r} is not in {self._pattern!r}; its columns are {schema.names}")
        if REASON_COLUMN in schema.names:
            raise ValueError(f"the input already has a {REASON_COLUMN!r} column, which the rejected output needs")
        empty = pa.Table.from_pylist([], schema=schema)
        codes = pa.array([], type=pa.binary())
        out = _tables.put_column(empty, self._column, self._output_column, codes, drop_input=self._drop_input,
                                 replace=self._replace)
        if isinstance(codec, Codec):  # a codec fitted in the pipeline is named by the encoded tables only
            out = _tables.with_provenance(out, ColumnRecord.of(codec, self._column, self._output_column))
        return out.schema, schema.append(pa.field(REASON_COLUMN, pa.string()))

    def expand(self, pbegin: beam.pvalue.PBegin) -> dict[str, beam.PCollection]:
        codec_pc = None
        codec: Any
        if self._spec:
            codec_pc = (pbegin | "ReadSample" >> beam.io.ReadFromParquetBatched(self._pattern, columns=[self._column])
                        .with_output_types(arrow_hint())
                        | "FitCodec" >> FitCodec(self._column, self._spec, **self._fit_args))
            codec = AsSingleton(codec_pc)
        else:
            blob, side = split_codec_arg(self._codec_arg)
            codec = side if side is not None else Codec.from_bytes(blob)
            if blob is not None and self._fit_args["artifact_location"]:
                codec_pc = (pbegin | "Artifact" >> beam.Create([blob])
                            | "WriteArtifact" >> beam.Map(write_artifact, self._fit_args["artifact_location"],
                                                          self._fit_args["overwrite"]))
        out_schema, rejected_schema = self._schemas(codec)
        # The encode branch reads the files again rather than sharing the sample's read: a
        # shared read would have to be held in full until the fit is done.
        result = (pbegin | "Read" >> beam.io.ReadFromParquetBatched(self._pattern).with_output_types(arrow_hint())
                  | "Encode" >> EncodeEmbeddings(self._column, codec, output_column=self._output_column,
                                                 drop_input=self._drop_input, replace=self._replace,
                                                 faiss_threads=self._faiss_threads)
                  .with_dead_letters())
        files = result.good | "Write" >> beam.io.Write(
            ParquetTableSink(self._prefix, out_schema, compression=self._compression, num_shards=self._num_shards,
                             footer={"run_id": self._run_id, "role": "output"}))
        rejected = (result.bad
                    | "BatchRejected" >> beam.BatchElements(min_batch_size=1, max_batch_size=REJECTED_BATCH)
                    | "RejectedToTable" >> beam.Map(_rejected_table, rejected_schema)
                    | "WriteRejected" >> beam.io.Write(
                        ParquetTableSink(rejected_prefix(self._prefix), rejected_schema,
                                         compression=self._compression, num_shards=1,
                                         footer={"run_id": self._run_id, "role": "rejected"})))
        committed = (pbegin | "CommitOnce" >> beam.Create([None])
                     | "Commit" >> beam.Map(_commit, AsList(files), AsList(rejected), self._pattern, self._prefix,
                                            self._run_id))
        outputs = {"files": files, "rejected_files": rejected, "result": committed}
        if codec_pc is not None:
            outputs["codec"] = codec_pc
        return outputs
