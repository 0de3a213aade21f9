"""Fit a codec on a seeded sample drawn on the executors; only the sample reaches the driver, as Arrow."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
from pyspark.sql import functions as F

import embcompress as ec

from . import _columns

OVERSAMPLE = 1.1


def sample_vectors(df, column: str, sample_size: int = 100_000, seed: int = 0):
    """A seeded, roughly uniform sample of at most ``sample_size`` non-null vectors, as a pyarrow array.

    The table is counted once (for Parquet a metadata read, no scan of the vectors), then
    Bernoulli-sampled on the executors at a slightly oversampled rate; only the sampled rows
    travel to the driver, as Arrow, where a seeded choice cuts them to ``sample_size``. The same
    data in the same partitioning gives the same sample.
    """
    if not isinstance(sample_size, int) or isinstance(sample_size, bool) or sample_size < 1:
        raise ValueError(f"sample_size must be a positive integer, got {sample_size!r}")
    src, read_col = _columns.vector_input(df, column)
    total = df.count()
    fraction = min(1.0, OVERSAMPLE * sample_size / max(total, 1))
    sample = _bernoulli(src, read_col, column, fraction, seed)
    if len(sample) < sample_size and 0 < len(sample) and fraction < 1.0:  # many nulls: one more, larger pass
        fraction = min(1.0, fraction * OVERSAMPLE * sample_size / len(sample))
        sample = _bernoulli(src, read_col, column, fraction, seed)
    if len(sample) == 0:
        raise ValueError(f"column {column!r} has no non-null vectors to fit a codec on")
    if len(sample) > sample_size:
        keep = np.sort(np.random.default_rng(seed).choice(len(sample), sample_size, replace=False))
        sample = sample.take(pa.array(keep))
    return sample


def _bernoulli(src, read_col, column, fraction, seed):
    picked = src.select(F.col(read_col).alias(column))
    if fraction < 1.0:
        picked = picked.sample(withReplacement=False, fraction=fraction, seed=seed)
    return picked.where(F.col(column).isNotNull()).toArrow().column(column).combine_chunks()


def fit_codec(df, column: str, spec: str, *, sample_size: int = 100_000, seed: int = 0, metric: str = "ip",
              holdout: float = 0.1):
    """Fit ``spec`` with the core (:func:`embcompress.fit`) on a sample of ``df[column]``.

    ``column`` is ``array<float>``, ``array<double>`` or a Spark ML vector. Null vectors are
    left out of the sample; any other bad vector in the sample fails the fit with its reason.
    """
    ec.parse_spec(spec)  # fail on a bad spec before any Spark job runs
    sample = sample_vectors(df, column, sample_size, seed)
    return ec.fit(spec, sample, metric=metric, seed=seed, holdout=holdout, column=column)
