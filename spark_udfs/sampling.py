"""Fit a codec on a seeded sample drawn on the executors; only the sample reaches the driver, as Arrow."""
from __future__ import annotations

import math
import zlib

import numpy as np
import pyarrow as pa
from pyspark.sql import functions as F

import embcompress as ec

from . import _columns, _scan

SAFETY_SIGMAS = 6  # oversampling margin in binomial standard deviations: a short draw is ~1e-9 likely
ENGINES = ("auto", "spark")


def sample_vectors(df, column: str, sample_size: int = 100_000, seed: int = 0, *, engine: str = "auto"):
    """A seeded, roughly uniform sample of at most ``sample_size`` non-null vectors, as a pyarrow array.

    The table is counted once (for Parquet a metadata read, no scan of the vectors), then
    Bernoulli-sampled on the executors at a rate a few standard deviations above the target;
    only the sampled rows travel to the driver, as Arrow, where a seeded choice cuts them to
    ``sample_size``. The same data in the same partitioning gives the same sample. When ``df``
    is a plain Parquet scan, the executors read the row groups with pyarrow and draw from each
    with a generator seeded by ``(seed, file, row group)``, so the sample does not depend on how
    the tasks are split; ``engine="spark"`` always samples through Spark (for files only the
    JVM can open).
    """
    if not isinstance(sample_size, int) or isinstance(sample_size, bool) or sample_size < 1:
        raise ValueError(f"sample_size must be a positive integer, got {sample_size!r}")
    if engine not in ENGINES:
        raise ValueError(f"engine must be 'auto' or 'spark', got {engine!r}")
    src, read_col = _columns.vector_input(df, column)
    scan = _scan.parquet_scan(df.select(column)) if read_col == column and engine == "auto" else None
    if scan is not None:
        total = scan.rows
        draw = lambda fraction: _bernoulli_row_groups(df.sparkSession, scan, column, fraction, seed)  # noqa: E731
    else:
        total = df.count()
        draw = lambda fraction: _bernoulli(src, read_col, column, fraction, seed)  # noqa: E731
    fraction = _fraction(sample_size, total)
    sample = draw(fraction)
    if len(sample) < sample_size and fraction < 1.0:  # many nulls: one more, larger pass
        got = len(sample)  # non-null rows are at least (got - 6 sd) / fraction; below the target, take them all
        fraction = _fraction(sample_size, (got - SAFETY_SIGMAS * math.sqrt(got)) / fraction)
        sample = draw(fraction)
    if len(sample) == 0:
        raise ValueError(f"column {column!r} has no non-null vectors to fit a codec on")
    if len(sample) > sample_size:
        keep = np.sort(np.random.default_rng(seed).choice(len(sample), sample_size, replace=False))
        sample = sample.take(pa.array(keep))
    return sample


def _fraction(sample_size: int, rows: float) -> float:
    """The Bernoulli rate that yields at least ``sample_size`` of ``rows`` rows but for a
    ~1e-9 chance, with a margin of a few binomial standard deviations rather than a fixed
    10%: every extra row is sent to the driver and then cut."""
    if rows <= sample_size:
        return 1.0
    # the draw has mean w and sd <= sqrt(w); w - z*sqrt(w) >= sample_size gives this w
    wanted = (SAFETY_SIGMAS / 2 + math.sqrt(SAFETY_SIGMAS ** 2 / 4 + sample_size)) ** 2
    return min(1.0, wanted / rows)


def _row_group_sampler(scan, column, fraction, seed):
    """Each row group draws with its own generator, seeded by (seed, file name, row group), so
    the sample depends neither on how row groups are split into tasks nor on batch sizes.
    Each read batch's picks travel as one Arrow IPC blob (bounded by the batch size)."""
    def run(batches):
        for index, group in scan.task_groups(batches):
            rng = np.random.default_rng([seed, zlib.crc32(group.name.encode()), group.index])
            for seq, data in enumerate(scan.read(group, [column])):
                vectors = data.column(0)
                keep = rng.random(len(vectors)) < fraction
                if vectors.null_count:
                    keep &= vectors.is_valid().to_numpy(zero_copy_only=False)
                if not keep.any():
                    continue
                sink = pa.BufferOutputStream()
                picked = data.filter(pa.array(keep))
                with pa.ipc.new_stream(sink, picked.schema) as writer:
                    writer.write_batch(picked)
                yield pa.RecordBatch.from_arrays([pa.array([index], pa.int64()), pa.array([seq], pa.int64()),
                                                  _one_blob(sink.getvalue())], names=["group", "seq", "rows"])
    return run


def _one_blob(buf: pa.Buffer) -> pa.BinaryArray:
    """A one-element binary array over ``buf`` without copying it."""
    offsets = pa.py_buffer(np.array([0, buf.size], dtype=np.int32).tobytes())
    return pa.Array.from_buffers(pa.binary(), 1, [None, offsets, buf])


def _blobs(column: pa.ChunkedArray):
    """Each value of a binary (or large_binary) column as a zero-copy Buffer."""
    width = np.int64 if pa.types.is_large_binary(column.type) else np.int32
    for chunk in column.chunks:
        _, offsets, data = chunk.buffers()
        ends = np.frombuffer(offsets, dtype=width)[chunk.offset:chunk.offset + len(chunk) + 1]
        for start, end in zip(ends[:-1], ends[1:]):
            yield data.slice(int(start), int(end - start))


def _bernoulli_row_groups(spark, scan, column, fraction, seed):
    """The sample drawn on the executors from the row groups, as one array in file and row order.

    Each task sends its picks as Arrow IPC blobs; the driver reads them without copying and
    concatenates them once."""
    got = (_scan.task_frame(spark, scan).mapInArrow(_row_group_sampler(scan, column, fraction, seed),
                                                   "group long, seq long, rows binary").toArrow()
           .sort_by([("group", "ascending"), ("seq", "ascending")]))
    parts = [pa.ipc.open_stream(blob).read_all().column(0) for blob in _blobs(got.column("rows"))]
    return pa.chunked_array([c for part in parts for c in part.chunks], scan.schema.field(column).type) \
        .combine_chunks()


def _bernoulli(src, read_col, column, fraction, seed):
    picked = src.select(F.col(read_col).alias(column))
    if fraction < 1.0:
        picked = picked.sample(withReplacement=False, fraction=fraction, seed=seed)
    return picked.where(F.col(column).isNotNull()).toArrow().column(column).combine_chunks()


def fit_codec(df, column: str, spec: str, *, sample_size: int = 100_000, seed: int = 0, metric: str = "ip",
              holdout: float = 0.1, engine: str = "auto"):
    """Fit ``spec`` with the core (:func:`embcompress.fit`) on a sample of ``df[column]``.

    ``column`` is ``array<float>``, ``array<double>`` or a Spark ML vector. Null vectors are
    left out of the sample; any other bad vector in the sample fails the fit with its reason.
    """
    ec.parse_spec(spec)  # fail on a bad spec before any Spark job runs
    sample = sample_vectors(df, column, sample_size, seed, engine=engine)
    return ec.fit(spec, sample, metric=metric, seed=seed, holdout=holdout, column=column)
