"""Fit a codec on a seeded sample drawn on the executors; only the sample reaches the driver, as Arrow."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
from pyspark.sql import functions as F

import embcompress as ec
from embcompress._checks import check_sample_size
from embcompress._moments import subsample_rows
from embcompress._fitting import check_fit_arguments

from . import _columns, _moments, _scan, _session
from ._draws import SAFETY_SIGMAS, ipc_blob, ipc_column, row_group_draws
from ._draws import oversampled_fraction as _fraction

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

ENGINES = ("auto", "spark")


def sample_vectors(df: DataFrame, column: str, sample_size: int = 100_000, seed: int = 0, *,
                   engine: str = "auto") -> pa.Array:
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
    _check_sampling(sample_size, engine)
    src, read_col = _columns.vector_input(df, column)
    scan = _plain_scan(df, column, read_col, engine)
    if scan is not None:
        total = scan.rows
        draw = lambda fraction: _bernoulli_row_groups(df.sparkSession, scan, column, fraction, seed)  # noqa: E731
    else:
        total = df.count()
        draw = lambda fraction: _bernoulli(src, read_col, column, fraction, seed)  # noqa: E731
    return _draw(draw, total, column, sample_size, seed)


def sample_files(spark, paths, column: str, sample_size: int = 100_000, seed: int = 0):
    """:func:`sample_vectors` of the Parquet files ``paths``, read with pyarrow on the executors and
    never through Spark's reader: for files on a store only pyarrow reaches (``s3://`` with no
    S3A connector in the JVM). The vectors keep the files' Arrow type."""
    check_sample_size(sample_size)
    scan = _scan.files_scan(spark, paths, [column])
    return _draw(lambda fraction: _bernoulli_row_groups(spark, scan, column, fraction, seed), scan.rows, column,
                 sample_size, seed)


def _draw(draw, total: int, column: str, sample_size: int, seed: int):
    """Bernoulli-sample with ``draw(fraction)`` (again, larger, when short of non-null rows) and
    cut to ``sample_size`` with a seeded choice."""
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


def _check_sampling(sample_size, engine) -> None:
    check_sample_size(sample_size)
    if engine not in ENGINES:
        raise ValueError(f"engine must be 'auto' or 'spark', got {engine!r}")


def _plain_scan(df, column, read_col, engine):
    """The ParquetScan to read ``column`` from directly, or None to sample through Spark."""
    return _scan.parquet_scan(df, [column]) if read_col == column and engine == "auto" else None


def _row_group_sampler(scan, column, fraction, seed):
    """Each row group draws with its own generator, seeded by (seed, file name, row group), so
    the sample depends neither on how row groups are split into tasks nor on batch sizes.
    Each read batch's picks travel as one Arrow IPC blob (bounded by the batch size)."""
    def run(batches):
        for index, seq, vectors, u, valid in row_group_draws(scan, batches, column, seed):
            keep = u < fraction
            if valid is not None:
                keep &= valid
            if not keep.any():
                continue
            picked = pa.record_batch([vectors.filter(pa.array(keep))], names=[column])
            yield pa.RecordBatch.from_arrays([pa.array([index], pa.int64()), pa.array([seq], pa.int64()),
                                              ipc_blob(picked)], names=["group", "seq", "rows"])
    return run


def _bernoulli_row_groups(spark, scan, column, fraction, seed):
    """The sample drawn on the executors from the row groups, as one array in file and row order.

    Each task sends its picks as Arrow IPC blobs; the driver reads them without copying and
    concatenates them once."""
    frame = _scan.task_frame(spark, scan).mapInArrow(_row_group_sampler(scan, column, fraction, seed),
                                                     "group long, seq long, rows binary")
    got = _session.to_arrow(frame).sort_by([("group", "ascending"), ("seq", "ascending")])
    return ipc_column(got.column("rows"), scan.schema.field(column).type)


def _bernoulli(src, read_col, column, fraction, seed):
    picked = src.select(F.col(read_col).alias(column))
    if fraction < 1.0:
        picked = picked.sample(withReplacement=False, fraction=fraction, seed=seed)
    return _session.to_arrow(picked.where(F.col(column).isNotNull())).column(column).combine_chunks()


def fit_codec(df: DataFrame, column: str, spec: str, *, sample_size: int = 100_000, seed: int = 0,
              metric: str = "ip", holdout: float | None = None, engine: str = "auto",
              pca_moments: bool = True) -> ec.Codec:
    """Fit ``spec`` with the core (:func:`embcompress.fit`) on a sample of ``df[column]``.

    ``column`` is ``array<float>``, ``array<double>`` or a Spark ML vector. Null vectors are
    left out of the sample; any other bad vector in the sample fails the fit with its reason.

    A spec that starts with ``PCA``/``PCAW`` fits that PCA from moments the executors sum over
    about ``sample_size`` sampled rows (as MLlib's PCA does), and what follows it on a subsample
    of those rows (:func:`embcompress._moments.subsample_rows`), so far fewer bytes reach the
    driver. ``pca_moments=False`` sends the whole sample instead, which makes the codec equal
    to ``embcompress.fit(spec, sample_vectors(...))``. ``holdout`` is as in
    :func:`embcompress.fit`: by default the trainer gets every row faiss would use.
    """
    subsample = subsample_rows(spec)  # also fails on a bad spec before any Spark job runs
    _check_sampling(sample_size, engine)
    check_fit_arguments(metric, seed, holdout)
    if pca_moments and subsample is not None and sample_size > subsample:
        src, read_col = _columns.vector_input(df, column)
        return _moments.fit_with_moments(src, read_col, column, spec, subsample, sample_size=sample_size,
                                         seed=seed, metric=metric, holdout=holdout,
                                         scan=_plain_scan(df, column, read_col, engine))
    sample = sample_vectors(df, column, sample_size, seed, engine=engine)
    return ec.fit(spec, sample, metric=metric, seed=seed, holdout=holdout, column=column)
