"""Fit a spec that starts with a PCA from moments summed on the executors, plus a subsample.

Each task draws its rows of the sample as :func:`~spark_udfs.sampling.sample_vectors` would,
sums their :class:`~embcompress.Moments` (d*d float64, 1.2 MB at 384-d) and sends those, with
a nested subsample of the drawn rows for what follows the PCA. For ``PCA128,SQ8`` with the
default 100k sample that is 20k rows instead of 100k (150 MB at 384-d), and the PCA still
sees every sampled row. Vectors that cannot be fitted on (NaN, Inf, wrong length) are kept
out of the moments and always sent, so the core's fit reports them as it would otherwise.

A task whose moments would outweigh its rows (fewer than 2*d drawn rows beyond those it sends
anyway, as when a big table is split into many tasks) sends all its drawn rows instead.
"""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import functions as F

import embcompress as ec
from embcompress.arrow import vectors_from_arrow
from embcompress.errors import EmbeddingError

from . import _scan, _session
from ._draws import SAFETY_SIGMAS, buffers, ipc_blob, one_blob, oversampled_fraction, row_group_draws

SCHEMA = "group long, seq long, drawn long, whole boolean, rows binary, moments binary"


def fit_with_moments(src, read_col, column, spec, subsample, *, sample_size, seed, metric, holdout, scan):
    """Fit ``spec`` (which starts with PCA/PCAW) on about ``sample_size`` rows, ``subsample`` of them sent whole.

    The draw is Bernoulli at ``sample_size / rows`` (nothing is cut afterwards: the moments
    cannot be), redrawn at a rate from the non-null rows when nulls leave it far short, so the
    PCA sees about ``sample_size`` rows; the subsample is cut to size.
    """
    nonzero = ec.parse_spec(spec).needs_nonzero_norm
    total = scan.rows if scan is not None else src.count()

    def draw(nonnull):
        fraction = min(1.0, sample_size / nonnull) if nonnull > 0 else 1.0
        sub_fraction = min(fraction, oversampled_fraction(subsample, nonnull)) if nonnull > 0 else 1.0
        if scan is not None:
            frame = _scan.task_frame(src.sparkSession, scan)
            task = _row_group_task(scan, column, fraction, sub_fraction, seed, nonzero)
        else:
            frame = src.select(F.col(read_col).alias(column))
            frame = frame.sample(False, fraction, seed) if fraction < 1 else frame
            task = _sampled_task(column, sub_fraction / fraction, seed, nonzero)
        got = _session.to_arrow(frame.mapInArrow(task, SCHEMA)).sort_by([("group", "ascending"), ("seq", "ascending")])
        return (fraction,) + _gather(got, column, nonzero)

    def has_bad(sample):
        return sample is not None and bool(vectors_from_arrow(sample, nonzero_norm=nonzero).invalid.any())

    fraction, moments, sample, drawn = draw(total)
    expected = fraction * total
    bad = has_bad(sample)
    if not bad and fraction < 1.0 and drawn < expected - SAFETY_SIGMAS * math.sqrt(expected):
        fraction, moments, sample, drawn = draw(drawn / fraction)  # many nulls: rates from the non-null rows
        bad = has_bad(sample)
    if sample is None:
        raise ValueError(f"column {column!r} has no non-null vectors to fit a codec on")
    if len(sample) > subsample and not bad:
        keep = np.sort(np.random.default_rng(seed).choice(len(sample), subsample, replace=False))
        sample = sample.take(pa.array(keep))
    # with a bad vector among the rows, the core's fit raises naming it (moments or not)
    return ec.fit(spec, sample, metric=metric, seed=seed, holdout=holdout, column=column,
                  moments=None if bad else moments)


def _gather(got: pa.Table, column, nonzero):
    """``(moments, subsample, drawn)`` from the tasks' records, merged in (group, seq) order.

    The blobs are read as zero-copy buffers over the collected Arrow data."""
    moments, parts = None, []
    records = zip(got.column("whole").to_pylist(), buffers(got.column("rows")), buffers(got.column("moments")))
    for whole, blob, moments_blob in records:
        part = ec.Moments.from_bytes(moments_blob) if moments_blob is not None else None
        if blob is not None:
            rows = pa.ipc.open_stream(blob).read_all()
            if whole:  # a task that drew few rows sent them all, flagged by subsample membership
                batch = vectors_from_arrow(rows.column("v"), nonzero_norm=nonzero)
                if (~batch.invalid).any():
                    part = ec.Moments.of(batch.matrix[~batch.invalid])
                rows = rows.filter(rows.column("sub"))
            parts.extend(rows.column("v").chunks)
        if part is not None:
            moments = part if moments is None else _merge(moments, part, column)
    sample = pa.chunked_array(parts).combine_chunks() if parts else None
    if sample is not None and len(sample) == 0:
        sample = None
    return moments, sample, int(pc.sum(got.column("drawn")).as_py() or 0)


def _merge(a, b, column):
    """``a + b``, with the column named if their vector lengths differ."""
    try:
        return a + b
    except EmbeddingError as exc:
        raise EmbeddingError(exc.problem, column=column, hint=exc.hint) from None


class _TaskDraws:
    """One task's draws. It sums the moments of its drawn rows and sends its subsample rows.
    While the drawn rows it would not send anyway are fewer than 2*d (smaller than their
    float64 moments), it holds everything back; if the task ends that small, it sends all its
    drawn rows instead of the moments."""

    def __init__(self, column, nonzero):
        self.column, self.nonzero = column, nonzero
        self.key, self.moments, self.drawn, self.sent, self.held = None, None, 0, 0, []

    def add(self, key, seq, vectors, keep, sub):
        self.key = key if self.key is None else self.key
        if not keep.any():
            return
        picked = vectors.filter(pa.array(keep))
        self.drawn += len(picked)
        dim = self.moments.dim if self.moments is not None else None  # later batches: the task's length
        batch = vectors_from_arrow(picked, dim=dim, nonzero_norm=self.nonzero)
        good = ~batch.invalid
        if good.any():
            part = ec.Moments.of(batch.matrix if good.all() else batch.matrix[good])
            self.moments = part if self.moments is None else _merge(self.moments, part, self.column)
        send = sub[keep] | batch.invalid
        self.sent += int(send.sum())
        if self.held is not None:
            self.held.append((key, seq, picked, send))
            if self.moments is None or self.drawn - self.sent < 2 * self.moments.dim:
                return
            held, self.held = self.held, None
            for k, s, rows, flags in held:  # large enough: moments from here on
                yield from _subsample_record(k, s, rows, flags)
            return
        yield from _subsample_record(key, seq, picked, send)

    def finish(self):
        if self.held:
            rows = pa.concat_arrays([r for _, _, r, _ in self.held])
            flags = pa.array(np.concatenate([f for _, _, _, f in self.held]))
            yield _record(self.key, -1, self.drawn, True, ipc_blob(pa.record_batch([rows, flags], names=["v", "sub"])),
                          None)
        elif self.key is not None:
            moments = one_blob(pa.py_buffer(self.moments.to_bytes())) if self.moments is not None else None
            yield _record(self.key, -1, self.drawn, False, None, moments)


def _subsample_record(key, seq, picked, send):
    if send.any():
        yield _record(key, seq, 0, False, ipc_blob(pa.record_batch([picked.filter(pa.array(send))], names=["v"])), None)


def _record(key, seq, drawn, whole, rows, moments):
    return pa.RecordBatch.from_arrays(
        [pa.array([key], pa.int64()), pa.array([seq], pa.int64()), pa.array([drawn], pa.int64()),
         pa.array([whole]), rows if rows is not None else pa.nulls(1, pa.binary()),
         moments if moments is not None else pa.nulls(1, pa.binary())],
        names=["group", "seq", "drawn", "whole", "rows", "moments"])


def _row_group_task(scan, column, fraction, sub_fraction, seed, nonzero):
    """Draw with the row-group sampler's generators (the same rows), nesting the subsample in them."""
    def run(batches):
        draws = _TaskDraws(column, nonzero)
        for index, seq, vectors, u, valid in row_group_draws(scan, batches, column, seed):
            keep = u < fraction
            if valid is not None:
                keep &= valid
            yield from draws.add(index, seq, vectors, keep, u < sub_fraction)
        yield from draws.finish()
    return run


def _sampled_task(column, sub_ratio, seed, nonzero):
    """Spark has drawn the rows already (``DataFrame.sample``); pick the subsample among them."""
    def run(batches):
        from pyspark import TaskContext

        part = TaskContext.get().partitionId()
        rng = np.random.default_rng([seed, part])
        draws = _TaskDraws(column, nonzero)
        for seq, batch in enumerate(batches):
            vectors = batch.column(0)
            keep = vectors.is_valid().to_numpy(zero_copy_only=False) if vectors.null_count \
                else np.ones(len(vectors), dtype=bool)
            yield from draws.add(part, seq, vectors, keep, rng.random(len(vectors)) < sub_ratio)
        yield from draws.finish()
    return run
