"""Read the row groups behind a plain Parquet read with pyarrow on the executors, instead of
receiving the vectors through Spark's row-to-Arrow conversion.

Spark hands an ``array<float>`` column to Python one element at a time; for a 384-d column
that transfer alone costs more CPU than PQ-encoding it (see docs/spark.md). A DataFrame from
:func:`spark_udfs.read_parquet` (``spark.read.parquet`` with no options), optionally narrowed
to some of its columns, holds exactly the rows in its files, so reading the files directly
gives the same rows. Only public information decides this (the DataFrame's identity or
``sameSemantics``, ``inputFiles()``, the schema, session settings), so it works on classic
sessions and Spark Connect alike. Anything else (filters, computed columns, caches, joins,
partition columns, column types that pyarrow would read differently from Spark, files
pyarrow cannot open) gives ``None`` and the caller keeps Spark's own path.
"""
from __future__ import annotations

import functools
import math
import posixpath
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import unquote, urlparse

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from embcompress import storage

from . import _session

PARTITION_BYTES = 512 << 20  # uncompressed row-group bytes per Spark task: a few seconds of encoding
FOOTER_THREADS = 16  # footers read at once on the driver when planning
READ_BATCH_ROWS = 32_768  # rows decoded at a time when Spark's maxRecordsPerBatch does not say
SPARK_ONLY_CONFS = {"spark.sql.files.ignoreCorruptFiles": "false", "spark.sql.files.ignoreMissingFiles": "false",
                    "spark.sql.parquet.int96TimestampConversion": "false"}
MAX_SOURCES = 16  # plain reads remembered, newest first: each costs one plan comparison
_SOURCES: list = []
REBASE_CONFS = {"datetime": "spark.sql.parquet.datetimeRebaseModeInRead",
                "int96": "spark.sql.parquet.int96RebaseModeInRead"}


@dataclass(frozen=True)
class RowGroup:
    path: str  # inside the filesystem of ParquetScan.location
    index: int
    rows: int
    name: str = ""  # the file's path below the files' common directory: stable when the data moves


@dataclass(frozen=True)
class ParquetScan:
    """The row groups behind a plain Parquet DataFrame, split into Spark tasks of similar size."""

    location: str  # a URI or path pyarrow builds the filesystem from
    row_groups: tuple  # RowGroup, in file order
    partitions: tuple  # per Spark task: a tuple of indexes into row_groups
    schema: pa.Schema  # the Arrow types Spark uses for the DataFrame's columns
    rows: int
    batch_rows: int = READ_BATCH_ROWS

    def task_groups(self, batches):
        """The row groups a task owns: ``batches`` is the task's input from :func:`task_frame`."""
        for batch in batches:
            for part in batch.column(0).to_pylist():
                for index in self.partitions[part]:
                    yield index, self.row_groups[index]

    def read(self, group: RowGroup, columns):
        """Yield the row group's ``columns`` as record batches with the types Spark expects."""
        fs = _filesystem(self.location)
        fields = [self.schema.field(c) for c in columns]
        reader = _open(fs, group.path)
        for batch in reader.iter_batches(batch_size=self.batch_rows, row_groups=[group.index],
                                         columns=list(columns), use_threads=False):
            yield pa.RecordBatch.from_arrays([_conform(batch.column(f.name), f.type) for f in fields],
                                             schema=pa.schema(fields))


def _conform(array, target: pa.DataType):
    """``array`` as ``target``: as it is, as a zero-copy view (list field names differ), or cast."""
    if array.type.equals(target):
        return array
    if (pa.types.is_list(array.type) and pa.types.is_list(target)
            and array.type.value_type.equals(target.value_type)):
        return array.view(target)  # the cast would copy every element just to rename the child field
    if pa.types.is_fixed_size_list(array.type) and pa.types.is_list(target) \
            and array.type.value_type.equals(target.value_type):
        size = array.type.list_size
        offsets = pa.array(np.arange(len(array) + 1, dtype=np.int32) * size)
        values = array.values.slice(array.offset * size, len(array) * size)
        return pa.ListArray.from_arrays(offsets, values, type=target,
                                        mask=array.is_null() if array.null_count else None)
    return array.cast(target)


def _open(fs, path: str) -> pq.ParquetFile:
    """A Parquet file whose INT96 timestamps (Spark's default when writing) read as microseconds."""
    return pq.ParquetFile(fs.open_input_file(path), coerce_int96_timestamp_unit="us")


@functools.lru_cache(maxsize=8)
def _filesystem(location: str):
    """The pyarrow filesystem for ``location``, built once per process (remote ones connect)."""
    return storage.resolve(location)[0]


def _paths(uris):
    """``(location, [path inside its filesystem])`` for the file URIs Spark lists (percent-encoded)."""
    first = uris[0]
    if first.startswith("file:"):
        if not all(u.startswith("file:") for u in uris):
            raise ValueError("files on several filesystems")
        return first, [unquote(urlparse(u).path) for u in uris]
    fs, path = storage.resolve(first)
    prefix = first[: len(first) - len(path)] if first.endswith(path) else None
    if prefix is None or not all(u.startswith(prefix) for u in uris):
        raise ValueError("files on several filesystems")
    return first, [unquote(u[len(prefix):]) for u in uris]


def _footers(fs, paths):
    """``(metadata, arrow schema)`` of each file, read concurrently: remote footers cost a round trip each."""
    def footer(path):
        reader = _open(fs, path)
        return reader.metadata, reader.schema_arrow

    if len(paths) == 1:
        return [footer(paths[0])]
    with ThreadPoolExecutor(max_workers=min(FOOTER_THREADS, len(paths))) as pool:
        return list(pool.map(footer, paths))


def register(df, paths) -> None:
    """Remember ``df`` as a plain ``spark.read.parquet(*paths)`` with no options (see read_parquet).

    Paths that overlap (one listed twice, or a file inside a listed directory) are not
    remembered: Spark reads such a file twice, the file listing names it once."""
    names = [str(p).rstrip("/") for p in paths]
    if any(a == b or b.startswith(a + "/") for i, a in enumerate(names) for b in names[i + 1:] + names[:i]):
        return
    _SOURCES.append((weakref.ref(df), tuple(paths)))
    del _SOURCES[:-MAX_SOURCES]


def _source(df):
    """True when ``df`` is a registered plain read, or a select of plain columns of one.

    A select is recognised with ``sameSemantics`` (public on classic and Connect), which
    compares the analysed plans: any filter, computed column, join or cache makes them differ.
    """
    live = [(ref(), paths) for ref, paths in reversed(_SOURCES)]
    for src, _ in live:
        if src is df:
            return True
    for src, _ in live:
        if src is None or not set(df.columns) <= set(src.columns):
            continue
        try:
            if src.select(*df.columns).sameSemantics(df):
                return True
        except Exception:  # a plan Spark cannot compare: take Spark's own path
            continue
    return False


def _integer_widening(src: pa.DataType, dst: pa.DataType) -> bool:
    if not (pa.types.is_integer(src) and pa.types.is_signed_integer(dst)):
        return False
    return src.bit_width < dst.bit_width or (pa.types.is_signed_integer(src) and src.bit_width == dst.bit_width)


def same_values(src: pa.DataType, dst: pa.DataType, *, int96: bool = False) -> bool:
    """True when casting pyarrow's ``src`` to Spark's ``dst`` can never change or reject a value.

    ``int96``: the column is stored as INT96, which holds UTC instants without saying so; Spark
    reads them as timestamps with the session's zone, pyarrow as zone-less microseconds.
    """
    if src.equals(dst):
        return True
    if int96:
        return pa.types.is_timestamp(src) and pa.types.is_timestamp(dst) and src.unit == dst.unit == "us" \
            and src.tz is None and dst.tz is not None
    if _integer_widening(src, dst):
        return True
    lists = (pa.types.is_list, pa.types.is_large_list)
    if pa.types.is_fixed_size_list(src) and pa.types.is_list(dst):
        return src.value_type.equals(dst.value_type)
    if any(f(src) for f in lists) and any(f(dst) for f in lists):
        return same_values(src.value_type, dst.value_type)
    for kind in ((pa.types.is_string, pa.types.is_large_string), (pa.types.is_binary, pa.types.is_large_binary)):
        if any(f(src) for f in kind) and any(f(dst) for f in kind):
            return True
    if pa.types.is_timestamp(src) and pa.types.is_timestamp(dst):
        finer = {"s": 0, "ms": 1, "us": 2, "ns": 3}
        return (src.tz is None) == (dst.tz is None) and finer[src.unit] <= finer[dst.unit]
    return False


def _has_dates(dtype: pa.DataType) -> bool:
    if pa.types.is_date(dtype) or pa.types.is_timestamp(dtype):
        return True
    return any(_has_dates(dtype.field(i).type) for i in range(dtype.num_fields))


def _version(text: str) -> tuple:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def _dates_as_written(meta, modes: dict, int96: bool) -> bool:
    """True when Spark reads this file's dates and timestamps as written, as pyarrow does.

    Files from Spark 2 or written in LEGACY mode hold hybrid-calendar values that Spark
    rebases on read whatever the session says, and so are INT96 values from Spark before
    3.1; files from other writers follow the session's read modes (``modes``: "datetime" and,
    for files with INT96 columns, "int96"), and only CORRECTED leaves them alone.
    """
    kv = meta.metadata or {}
    version = kv.get(b"org.apache.spark.version")
    if version is None:
        return modes["datetime"] == "CORRECTED" and (not int96 or modes["int96"] == "CORRECTED")
    written_by = _version(version.decode(errors="replace"))
    legacy = (b"org.apache.spark.legacyDateTime", b"org.apache.spark.legacyINT96")
    return written_by >= ((3, 1, 0) if int96 else (3, 0, 0)) and not any(flag in kv for flag in legacy)


def _int96_columns(meta, names) -> set:
    """The top-level columns among ``names`` that hold INT96 values (at any depth).

    pyarrow reads INT96 days as unsigned, so instants before 4714 BC (Julian day 0) would read
    differently from Spark; no real timestamp column holds them.
    """
    schema = meta.schema
    paths = [schema.column(i).path for i in range(len(schema)) if schema.column(i).physical_type == "INT96"]
    return {n for n in names if any(p == n or p.startswith(n + ".") for p in paths)}


def _ambiguous(schema: pa.Schema) -> bool:
    lower = [n.lower() for n in schema.names]
    return len(set(lower)) != len(lower)


def _partitions(groups, parallelism: int):
    """Contiguous runs of row groups with similar row counts: a multiple of ``parallelism`` tasks."""
    total_bytes = sum(g[1] for g in groups)
    rounds = max(1, math.ceil(total_bytes / (PARTITION_BYTES * parallelism)))
    n = max(1, min(len(groups), parallelism * rounds))
    total_rows = sum(g[0].rows for g in groups)
    parts: list = []
    current: list = []
    done = 0
    for i, (group, _) in enumerate(groups):
        current.append(i)
        done += group.rows
        left_groups, left_parts = len(groups) - i - 1, n - len(parts) - 1
        if left_parts > 0 and (done >= total_rows * (len(parts) + 1) / n or left_groups == left_parts):
            parts.append(tuple(current))
            current = []
    parts.append(tuple(current))
    return tuple(p for p in parts if p)


def _conf(spark, key: str, fallback: str) -> str:
    """A Spark SQL setting as the session sees it: ``conf.get(key, default)`` would return
    ``default`` for an unset key instead of Spark's own default."""
    try:
        return spark.conf.get(key)
    except Exception:  # not a setting this Spark version knows
        return fallback


def parquet_scan(df, columns=None) -> ParquetScan | None:
    """The row groups to read for ``df`` (narrowed to ``columns``), or None when ``df`` is not a
    plain read from :func:`spark_udfs.read_parquet` that pyarrow can read as Spark would."""
    if not _source(df):
        return None
    spark = df.sparkSession
    if any(_conf(spark, key, default).lower() != default for key, default in SPARK_ONLY_CONFS.items()):
        return None
    files = list(df.inputFiles())  # as Spark reads them: a file listed twice is read twice
    if not files or len(set(files)) != len(files):
        return None
    struct = df.schema if columns is None else df.select(*columns).schema
    try:
        schema = _session.arrow_schema(struct, timezone=spark.conf.get("spark.sql.session.timeZone"))
    except Exception:  # a type Arrow cannot carry: Spark's own path reports it
        return None
    check_dates = any(_has_dates(f.type) for f in schema)
    modes = {name: _conf(spark, key, "EXCEPTION").upper() for name, key in REBASE_CONFS.items()}
    groups = []
    try:
        location, paths = _paths(sorted(files))
        root = posixpath.commonpath(paths) if len(paths) > 1 else posixpath.dirname(paths[0])
        for path, (meta, file_schema) in zip(paths, _footers(_filesystem(location), paths)):
            int96 = _int96_columns(meta, schema.names)
            if _ambiguous(file_schema) or (check_dates and not _dates_as_written(meta, modes, bool(int96))):
                return None
            for field in schema:
                i = file_schema.get_field_index(field.name)
                if i < 0 or not same_values(file_schema.field(i).type, field.type, int96=field.name in int96):
                    return None
            name = posixpath.relpath(path, root)
            groups += [(RowGroup(path, i, meta.row_group(i).num_rows, name), meta.row_group(i).total_byte_size)
                       for i in range(meta.num_row_groups)]
    except (OSError, ValueError, pa.ArrowException):  # a filesystem pyarrow cannot open from here
        return None
    if not groups:
        return None
    batch_rows = int(_conf(spark, "spark.sql.execution.arrow.maxRecordsPerBatch", "10000"))
    return ParquetScan(location, tuple(g for g, _ in groups),
                       _partitions(groups, _session.parallelism(spark)), schema,
                       sum(g.rows for g, _ in groups), batch_rows if batch_rows > 0 else READ_BATCH_ROWS)


def files_scan(spark, paths, columns) -> ParquetScan:
    """The row groups of the Parquet files ``paths`` (local paths or URIs), with no Spark read at all:
    for files only pyarrow reaches (an ``s3://`` bucket with no S3A connector in the JVM). Columns
    keep the files' own Arrow types; row groups are named by their file's path below the files'
    common folder, as :func:`parquet_scan` names them."""
    location, inner = _paths(sorted(paths))
    root = posixpath.commonpath(inner) if len(inner) > 1 else posixpath.dirname(inner[0])
    footers = _footers(_filesystem(location), inner)
    schema = pa.schema([footers[0][1].field(c) for c in columns])
    groups = [(RowGroup(path, i, meta.row_group(i).num_rows, posixpath.relpath(path, root)),
               meta.row_group(i).total_byte_size)
              for path, (meta, _) in zip(inner, footers) for i in range(meta.num_row_groups)]
    return ParquetScan(location, tuple(g for g, _ in groups), _partitions(groups, _session.parallelism(spark)),
                       schema, sum(g.rows for g, _ in groups))


def task_frame(spark, scan: ParquetScan):
    """A DataFrame of one row per task (``part``), partitioned one task per Spark partition."""
    n = len(scan.partitions)
    return spark.range(0, n, 1, numPartitions=n).withColumnRenamed("id", "part")
