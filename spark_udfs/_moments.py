"""Fit a spec that starts with a PCA from moments summed on the executors, plus a subsample.

Each task draws its rows of the sample as :func:`~spark_udfs.sampling.sample_vectors` would,
sums their :class:`~embcompress.Moments` (d*d float64, 1.2 MB at 384-d) and sends those, with
a nested subsample of the drawn rows for what follows the PCA. For ``PCA128,SQ8`` with the
default 100k sample that is 20k rows instead of 100k (150 MB at 384-d), and the PCA still
sees every sampled row. Vectors that cannot be fitted on (NaN, Inf, wrong length) are kept
out of the moments and always sent, so the core's fit reports them as it would otherwise.
"""
from __future__ import annotations

import functools
import math
import zlib

import numpy as np
import pyarrow as pa
from pyspark.sql import functions as F

import embcompress as ec
from embcompress.arrow import vectors_from_arrow

from . import _scan
from ._draws import SAFETY_SIGMAS, blobs, ipc_blob, ipc_column, one_blob, oversampled_fraction

SCHEMA = "group long, seq long, rows binary, moments binary"


def fit_with_moments(src, read_col, column, spec, subsample, *, sample_size, seed, metric, holdout, scan):
    """Fit ``spec`` (which starts with PCA/PCAW) on about ``sample_size`` rows, ``subsample`` of them sent whole.

    The draw is Bernoulli at ``sample_size / rows`` (nothing is cut afterwards: the moments
    cannot be), so the PCA sees about ``sample_size`` rows; the subsample is cut to its size.
    """
    nonzero = ec.parse_spec(spec).needs_nonzero_norm
    total = scan.rows if scan is not None else src.count()

    def draw(fraction):
        sub_fraction = min(fraction, oversampled_fraction(subsample, total))
        if scan is not None:
            frame = _scan.task_frame(src.sparkSession, scan)
            task = _row_group_task(scan, column, fraction, sub_fraction, seed, nonzero)
        else:
            frame = src.select(F.col(read_col).alias(column))
            frame = frame.sample(False, fraction, seed) if fraction < 1 else frame
            task = _sampled_task(fraction, sub_fraction, seed, nonzero)
        got = frame.mapInArrow(task, SCHEMA).toArrow().sort_by([("group", "ascending"), ("seq", "ascending")])
        parts = [ec.Moments.from_bytes(b) for b in blobs(got.column("moments"))]
        moments = functools.reduce(lambda a, b: a + b, parts) if parts else None
        rows = ipc_column(got.column("rows")) if got.column("rows").null_count < got.num_rows else None
        return moments, rows

    fraction = min(1.0, sample_size / total) if total else 1.0
    moments, sample = draw(fraction)
    expected, count = fraction * total, (moments.count if moments is not None else 0)
    if fraction < 1.0 and count < expected - SAFETY_SIGMAS * math.sqrt(expected):  # many nulls: a larger draw
        fraction = min(1.0, sample_size * fraction / count) if count else 1.0
        moments, sample = draw(fraction)
    if sample is None:
        raise ValueError(f"column {column!r} has no non-null vectors to fit a codec on")
    if len(sample) > subsample and not vectors_from_arrow(sample, nonzero_norm=nonzero).invalid.any():
        keep = np.sort(np.random.default_rng(seed).choice(len(sample), subsample, replace=False))
        sample = sample.take(pa.array(keep))
    # with a bad vector among the rows, the core's fit raises naming it (moments or not)
    return ec.fit(spec, sample, metric=metric, seed=seed, holdout=holdout, column=column,
                  moments=moments if moments is not None and len(sample) else None)


def _draw(key, seq, vectors, keep, sub, nonzero):
    """Moments of the kept rows, and a record with an IPC blob of the subsampled ones (and any bad row)."""
    if not keep.any():
        return None, None
    picked = vectors.filter(pa.array(keep))
    batch = vectors_from_arrow(picked, nonzero_norm=nonzero)
    good = ~batch.invalid
    moments = ec.Moments.of(batch.matrix if good.all() else batch.matrix[good]) if good.any() else None
    send = sub[keep] | batch.invalid
    if not send.any():
        return moments, None
    return moments, _record(key, seq, ipc_blob(pa.record_batch([picked.filter(pa.array(send))], names=["v"])), None)


def _records(draws):
    """Stream the subsample records of ``draws`` ((key, moments, record) triples), then one with their moments."""
    total, first = None, None
    for key, moments, record in draws:
        first = key if first is None else first
        if moments is not None:
            total = moments if total is None else total + moments
        if record is not None:
            yield record
    if total is not None:
        yield _record(first, -1, None, one_blob(pa.py_buffer(total.to_bytes())))


def _record(key, seq, rows, moments):
    return pa.RecordBatch.from_arrays(
        [pa.array([key], pa.int64()), pa.array([seq], pa.int64()),
         rows if rows is not None else pa.nulls(1, pa.binary()),
         moments if moments is not None else pa.nulls(1, pa.binary())],
        names=["group", "seq", "rows", "moments"])


def _row_group_task(scan, column, fraction, sub_fraction, seed, nonzero):
    """Draw with the row-group sampler's generators (the same rows), nesting the subsample in them."""
    def run(batches):
        def each():
            for index, group in scan.task_groups(batches):
                rng = np.random.default_rng([seed, zlib.crc32(group.name.encode()), group.index])
                for seq, data in enumerate(scan.read(group, [column])):
                    vectors = data.column(0)
                    u = rng.random(len(vectors))
                    keep = u < fraction
                    if vectors.null_count:
                        keep &= vectors.is_valid().to_numpy(zero_copy_only=False)
                    yield (index, *_draw(index, seq, vectors, keep, u < sub_fraction, nonzero))
        yield from _records(each())
    return run


def _sampled_task(fraction, sub_fraction, seed, nonzero):
    """Spark has drawn the rows already (``DataFrame.sample``); pick the subsample among them."""
    def run(batches):
        from pyspark import TaskContext

        part = TaskContext.get().partitionId()
        rng = np.random.default_rng([seed, part])

        def each():
            for seq, batch in enumerate(batches):
                vectors = batch.column(0)
                keep = vectors.is_valid().to_numpy(zero_copy_only=False) if vectors.null_count \
                    else np.ones(len(vectors), dtype=bool)
                sub = rng.random(len(vectors)) < sub_fraction / fraction
                yield (part, *_draw(part, seq, vectors, keep, sub, nonzero))
        yield from _records(each())
    return run
