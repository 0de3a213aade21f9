"""The pyarrow engine of ``compress_parquet``: Spark schedules one task per Parquet row group;
each task reads its row group with pyarrow, encodes it with the core and writes one Parquet file.

This skips Spark's row <-> Arrow conversion of the vector column, which costs more than the
encoding itself. Output file names depend only on the run id and the task, and each file is
written to a temporary name and renamed, so a retried task leaves the same bytes.
"""
from __future__ import annotations

import posixpath
import uuid

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyspark.sql import types as T

from embcompress import provenance, storage
from embcompress.arrow import codes_as_binary, encode_arrow
from embcompress.errors import EmbeddingError
from embcompress.provenance import ColumnRecord

from . import _session
from ._worker import broadcast_codec


def plan(dataset) -> list:
    """One task per row group of the pyarrow ``dataset``: ``(file, row_group, {partition column: value})``."""
    tasks = []
    for frag in dataset.get_fragments():
        keys = pads.get_partition_keys(frag.partition_expression)
        for rg in range(frag.metadata.num_row_groups):
            tasks.append((frag.path, rg, {k: str(v) for k, v in keys.items()}))
    return tasks


def _writer_task(handle, in_loc, tasks, column, output_col, drop_input, on_invalid, out_loc, run_id, record):
    def run(batches):
        from pyspark import TaskContext

        codec = handle.get()
        fs, _ = storage.resolve(in_loc)
        out_fs, out_root = storage.resolve(out_loc)
        attempt = TaskContext.get().attemptNumber()
        for batch in batches:
            done = []
            for task_id in batch.column(0).to_pylist():
                path, rg, keys = tasks[task_id]
                table = pq.ParquetFile(fs.open_input_file(path)).read_row_group(rg)
                try:
                    enc = encode_arrow(codec, table.column(column), column=column, on_invalid=on_invalid)
                except EmbeddingError as exc:
                    where = None if exc.row is None else f"{exc.row} of row group {rg} in {path}"
                    raise EmbeddingError(exc.problem, row=where, column=column,
                                         hint="fix or drop the row, or pass on_invalid='null'") from None
                if drop_input:
                    table = table.drop_columns([column])
                if output_col in table.column_names:  # replace=True (refused on the driver otherwise)
                    table = table.drop_columns([output_col])
                table = table.append_column(output_col, codes_as_binary(enc.codes))
                table = table.replace_schema_metadata(provenance.with_record(table.schema.metadata, record))
                subdir = "/".join(f"{k}={v}" for k, v in keys.items())
                target = posixpath.join(out_root, subdir, f"part-{task_id:05d}-{run_id}.parquet")
                out_fs.create_dir(posixpath.dirname(target), recursive=True)
                tmp = f"{target}.attempt{attempt}.tmp"
                with out_fs.open_output_stream(tmp) as out:
                    pq.write_table(table, out)
                out_fs.move(tmp, target)
                done.append((task_id, table.num_rows))
            yield pa.RecordBatch.from_arrays([pa.array([d[0] for d in done], pa.int64()),
                                              pa.array([d[1] for d in done], pa.int64())], names=["task", "rows"])
    return run


def compress_row_groups(spark, dataset, input_path, output_path, column, codec, *, output_col, drop_input,
                        on_invalid, record: ColumnRecord, overwrite: bool) -> int:
    """Encode every row group of ``dataset`` (opened from ``input_path``) into ``output_path``;
    returns the rows written."""
    tasks = plan(dataset)
    if column not in dataset.schema.names:
        raise KeyError(f"column {column!r} not found in {input_path}; it has columns {dataset.schema.names}")
    out_fs, out_root = storage.resolve(output_path)
    if overwrite:
        info = out_fs.get_file_info(out_root)
        if info.type != pafs.FileType.NotFound:
            out_fs.delete_dir(out_root)
    out_fs.create_dir(out_root, recursive=True)
    handle = broadcast_codec(spark, codec)
    run = _writer_task(handle, input_path, tasks, column, output_col, drop_input, on_invalid, output_path,
                       uuid.uuid4().hex[:12], record)
    n_tasks = max(1, len(tasks))
    jobs = spark.range(0, len(tasks), 1, numPartitions=n_tasks)
    schema = T.StructType([T.StructField("task", T.LongType()), T.StructField("rows", T.LongType())])
    written = _session.to_arrow(jobs.mapInArrow(run, schema))
    expected = dataset.count_rows()
    got = int(pa.compute.sum(written["rows"]).as_py() or 0)
    if got != expected or written.num_rows != len(tasks):
        raise RuntimeError(f"compress_parquet wrote {got} rows in {written.num_rows} files for {expected} input rows "
                           f"in {len(tasks)} row groups; the output at {output_path} is incomplete, rerun with "
                           f"mode='overwrite'")
    with out_fs.open_output_stream(posixpath.join(out_root, "_SUCCESS")):
        pass
    return got
