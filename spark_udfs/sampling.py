"""Fit a codec on a seeded sample drawn on the executors; only the sample reaches the driver, as Arrow."""
from __future__ import annotations

import embcompress as ec
from pyspark.sql import functions as F

from . import _columns

OVERSAMPLE = 1.1


def sample_vectors(df, column: str, sample_size: int = 100_000, seed: int = 0):
    """A seeded, roughly uniform sample of at most ``sample_size`` non-null vectors, as a pyarrow array.

    The table is counted once (a metadata read for Parquet), Bernoulli-sampled on the executors
    at a slightly oversampled rate, and the sample is cut to ``sample_size`` by a seeded random
    order; only those rows travel to the driver, via Arrow. The same data in the same
    partitioning gives the same sample.
    """
    if not isinstance(sample_size, int) or isinstance(sample_size, bool) or sample_size < 1:
        raise ValueError(f"sample_size must be a positive integer, got {sample_size!r}")
    src, read_col = _columns.vector_input(df, column)
    vectors = src.select(F.col(read_col).alias(column)).where(F.col(column).isNotNull())
    total = vectors.count()
    if total == 0:
        raise ValueError(f"column {column!r} has no non-null vectors to fit a codec on")
    fraction = min(1.0, OVERSAMPLE * sample_size / total)
    picked = vectors if fraction >= 1.0 else vectors.sample(withReplacement=False, fraction=fraction, seed=seed)
    order = F.rand(seed + 1)
    picked = picked.orderBy(order).limit(sample_size) if total > sample_size else picked.orderBy(order)
    return picked.toArrow().column(column)


def fit_codec(df, column: str, spec: str, *, sample_size: int = 100_000, seed: int = 0, metric: str = "ip",
              holdout: float = 0.1):
    """Fit ``spec`` with the core (:func:`embcompress.fit`) on a sample of ``df[column]``.

    ``column`` is ``array<float>``, ``array<double>`` or a Spark ML vector. Null vectors are
    left out of the sample; any other bad vector in the sample fails the fit with its reason.
    """
    ec.parse_spec(spec)  # fail on a bad spec before any Spark job runs
    sample = sample_vectors(df, column, sample_size, seed)
    return ec.fit(spec, sample, metric=metric, seed=seed, holdout=holdout, column=column)
