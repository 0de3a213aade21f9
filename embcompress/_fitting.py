"""Fit a codec on a sample: parse the spec, check the sample, train faiss, measure fit statistics."""
from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from . import _layout as layout
from . import _scoring as scoring
from ._typing import Vectors
from .arrow import vectors_from_arrow
from ._checks import check_metric, check_seed
from .codec import Codec, library_versions
from .errors import EmbeddingError
from ._moments import Moments
from ._pipeline import Pipeline
from .protocol import recall_at_k  # noqa: F401 -- re-exported as ec.recall_at_k
from .spec import Spec, parse_spec
from ._validation import as_float_matrix, find_invalid, raise_on_invalid

MAX_HOLDOUT_ROWS = 1000
DEFAULT_STATS_HOLDOUT = 0.1
STAT_QUERIES = 200
STAT_DATABASE = 10000
# From this many rows on, statistics measured on the training rows are fair (an 8-bit k-means
# codebook then has its 256 rows per centroid, the most faiss's k-means reads), so the second
# fit that a trainer reading every row would need is skipped: at 100,000 x 768 it doubled an
# additive quantizer's fit time.
SEPARATE_STATS_FIT_BELOW = 65536


def _columns(column) -> list:
    if column is None:
        return []
    return [column] if isinstance(column, str) else list(column)


def _sample_matrix(sample, column):
    """The sample as one float32 matrix; a pyarrow Table contributes every listed column."""
    if hasattr(sample, "column_names") and hasattr(sample, "num_rows"):
        names = _columns(column)
        if not names:
            raise ValueError("fitting on a table needs column= (a name, or a list of names to share one codec)")
        missing = [c for c in names if c not in sample.column_names]
        if missing:
            raise EmbeddingError(f"no such column; available columns: {', '.join(sample.column_names)}",
                                 column=missing[0])
        parts = [_sample_matrix(sample[c], c) for c in names]
        dims = {p.shape[1] for p in parts}
        if len(dims) > 1:
            raise EmbeddingError(f"columns {names} have different dimensions {sorted(dims)}; one codec needs one")
        return np.concatenate(parts)
    if not isinstance(column, (str, type(None))):
        raise ValueError("a list of columns needs a pyarrow Table sample holding them")
    if type(sample).__module__.startswith("pyarrow"):

        batch = vectors_from_arrow(sample, column=column)
        x = batch.matrix
        mask, reasons = batch.invalid, batch.reasons.copy()
        reasons[batch.null] = "null vector in the fit sample"
    else:
        x = as_float_matrix(sample, column=column)
        mask, reasons = find_invalid(x)
    if len(x) == 0:
        raise EmbeddingError("empty sample: a codec needs at least one row to fit on", column=column)
    raise_on_invalid(mask, reasons, column=column)
    return x


def _split(n: int, holdout, need: int, seed: int, cap):
    """``(train_rows, held_rows)``; ``holdout=None`` holds back only rows beyond the trainer's ``cap``."""
    if holdout is None:
        n_hold = 0 if cap is None else min(max(n - cap, 0), MAX_HOLDOUT_ROWS)
    else:
        n_hold = min(int(n * holdout), MAX_HOLDOUT_ROWS)
    if n - n_hold < need:
        n_hold = 0
    if n_hold == 0:
        return np.arange(n), np.zeros(0, dtype=np.int64)
    hold = np.sort(np.random.default_rng(seed).choice(n, n_hold, replace=False))
    keep = np.ones(n, dtype=bool)
    keep[hold] = False
    return np.flatnonzero(keep), hold


def check_fit_arguments(metric, seed, holdout) -> None:
    """Raise on a bad ``metric``, ``seed`` or ``holdout`` (adapters call it before sampling)."""
    check_metric(metric)
    check_seed(seed)
    if holdout is None:
        return
    if not isinstance(holdout, numbers.Real) or isinstance(holdout, bool) or not 0 <= float(holdout) < 1:
        raise ValueError(f"holdout must be None or in [0, 1), got {holdout!r}")


def fit(spec: str | Spec, sample: Vectors | pa.Table, metric: str = "ip", seed: int = 0, *,
        holdout: float | None = None, column: str | Sequence[str] | None = None,
        moments: Moments | None = None, max_memory: int | None = None) -> Codec:
    """Fit ``spec`` on ``sample`` ((n, d) array, or a pyarrow list/fixed_size_list array).

    ``sample`` may also be a pyarrow Table with ``column`` naming one embedding column, or a
    list of them: one codec then serves all of them (e.g. the query and item towers of a
    two-tower model), and the artifact records their names.

    By default (``holdout=None``) the trainer gets every row faiss would use, so with
    ``seed=0`` the codec equals faiss's ``index_factory(spec)`` trained on the whole sample.
    The fit statistics stored in the artifact are measured on up to 1,000 seeded rows beyond
    what faiss's trainers read (:meth:`Spec.max_training_rows`, e.g. past 65,536 rows for
    ``PQ``); when the trainer reads every row, on a second fit without 10% of a sample under
    65,536 rows (``SEPARATE_STATS_FIT_BELOW``), and in-sample (marked ``in_sample``) on larger
    samples, where they are fair and a second fit would double the fit time.
    A float ``holdout`` instead keeps that share of the sample (at most 1,000 rows) out of
    training for the statistics, and ``holdout=0`` never holds back.

    ``moments`` (:class:`~embcompress._moments.Moments`) of a larger sample that ``sample`` was
    drawn from fit a spec's leading ``PCA``/``PCAW`` from all of that sample; ``sample`` then
    trains what follows and gives the fit statistics, and its held-out rows are taken out of
    the moments too. A distributed fit sends the moments (d*d numbers) and a subsample to the
    driver instead of the whole sample.
    """
    parsed = parse_spec(spec)
    check_fit_arguments(metric, seed, holdout)
    x = _sample_matrix(sample, column)
    columns = _columns(column)
    column = ", ".join(columns) if columns else None
    n, dim = x.shape
    parsed.check_dim(dim)
    layout.check_memory(parsed, dim, max_memory)
    need = parsed.min_training_rows(dim)
    if parsed.needs_nonzero_norm:
        zero = np.flatnonzero(~np.any(x != 0, axis=1))
        if zero.size:
            raise EmbeddingError("zero norm vector in the fit sample", row=int(zero[0]), column=column)
    if n < need:
        raise EmbeddingError(f"sample too small: spec {parsed.text!r} needs at least {need} rows to fit, got {n}",
                             column=column, hint="pass a larger sample")
    if holdout is None:
        train_rows, hold_rows = _split(n, None, need, int(seed), parsed.max_training_rows(dim))
    else:
        train_rows, hold_rows = _split(n, holdout, need, int(seed), None)
    codec = _train(parsed, x, train_rows, hold_rows, metric, int(seed), columns, moments, column)
    stats_codec, stats_train, stats_hold = codec, train_rows, hold_rows
    if holdout is None and len(hold_rows) == 0 and n < SEPARATE_STATS_FIT_BELOW:
        # the trainer reads every row of a small sample: a separate fit on all but the held-back rows
        # measures the statistics
        stats_train, stats_hold = _split(n, DEFAULT_STATS_HOLDOUT, need, int(seed), None)
        if len(stats_hold):
            stats_codec = _train(parsed, x, stats_train, stats_hold, metric, int(seed), columns, moments, column)
    header = dict(codec._header)
    header["fit"] = _fit_stats(stats_codec, x, stats_train, stats_hold, int(seed))
    header["fit"]["train_rows"] = int(len(train_rows))
    separate = "a separate fit without the held-back rows"
    header["fit"]["stats_from"] = ("in-sample" if len(stats_hold) == 0 else
                                   "held-back rows" if stats_codec is codec else separate)
    if moments is not None:
        header["fit"]["moments_rows"] = int(moments.count - len(hold_rows))
    return Codec(header, codec._arrays)


def _train(parsed, x, train_rows, hold_rows, metric, seed, columns, moments, column) -> Codec:
    """A codec trained on ``x[train_rows]`` (and the moments without ``x[hold_rows]``), without fit stats."""
    n, dim = x.shape
    train = x if len(train_rows) == n else np.ascontiguousarray(x[train_rows])
    pipeline = Pipeline(parsed, dim, metric, seed)
    if moments is not None:
        moments = _training_moments(moments, x[hold_rows], dim, column)
    pipeline.fit(train, seed, moments)
    arrays = pipeline.export()
    _check_learned(arrays, parsed, column)
    mean = train.mean(axis=0, dtype=np.float64) if moments is None else moments.mean
    arrays["stats.mean"] = mean.astype(np.float32)
    arrays["stats.min"] = train.min(axis=0)
    arrays["stats.max"] = train.max(axis=0)
    header = {"spec": parsed.text, "dim": int(dim), "metric": metric, "seed": seed,
              "columns": columns, "versions": library_versions()}
    codec = Codec(header, arrays)
    header["code_size"] = codec.code_size
    return Codec(header, arrays)


def _check_learned(arrays: dict, spec, column) -> None:
    """A degenerate sample (constant, or fewer directions of variance than a whitened PCA keeps)
    fits NaN or Inf: refuse it here rather than save a codec that decodes garbage."""
    for name, arr in arrays.items():
        if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
            raise EmbeddingError(f"degenerate sample: fitting {spec.text!r} gave NaN or Inf in {name!r}; the sample is "
                                 f"constant or has fewer directions of non-zero variance than the spec keeps",
                                 column=column, hint="fit on a more varied sample, or use PCA instead of PCAW")


def _training_moments(moments: Moments, held_out: np.ndarray, dim: int, column) -> Moments:
    """The moments without the held-out rows (which are among their rows), checked against the sample."""
    if moments.dim != dim:
        raise EmbeddingError(f"moments of {moments.dim}-d vectors do not match the {dim}-d sample", column=column)
    if moments.count < len(held_out) + 2:
        raise EmbeddingError(f"moments of {moments.count} rows are too few for a PCA", column=column,
                             hint="pass a larger sample")
    if not (np.isfinite(moments.mean).all() and np.isfinite(moments.scatter).all()):
        raise EmbeddingError("the moments hold NaN or Inf: a vector in the sample was not finite", column=column)
    return moments - Moments.of(held_out)


def _fit_stats(codec: Codec, x, train_rows, hold_rows, seed: int) -> dict:
    """MSE and recall@10 measured on held-back rows (or in-sample when nothing was held back)."""
    in_sample = len(hold_rows) == 0
    rng = np.random.default_rng(seed + 1)
    database = train_rows[:STAT_DATABASE]
    if in_sample:
        pool = database
    else:
        pool = hold_rows
    queries = np.sort(rng.choice(pool, min(STAT_QUERIES, len(pool)), replace=False))
    eval_rows = hold_rows if not in_sample else database[:MAX_HOLDOUT_ROWS]
    recon = codec.decode(codec.encode(x[eval_rows], validate=False))
    mse = float(np.mean(np.sum((x[eval_rows] - recon) ** 2, axis=1)))
    db = np.ascontiguousarray(x[database])
    q = np.ascontiguousarray(x[queries])
    k = min(10, len(database) - (1 if in_sample else 0))
    recall = None
    if k >= 1:
        exclude = np.searchsorted(database, queries) if in_sample else None
        _, exact = scoring.blocked_topk(q, len(db), k, lambda a, b: db[a:b], codec.metric, exclude)
        ids, _ = codec.search(q, codec.encode(db, validate=False), k=k, exclude=exclude)
        recall = round(float(recall_at_k(ids, exact, k)), 6)
    return {"sample_rows": int(len(x)), "train_rows": int(len(train_rows)), "holdout_rows": int(len(hold_rows)),
            "in_sample": in_sample, "mse": round(mse, 8), "recall_at_10": recall, "recall_queries": int(len(queries)),
            "recall_database": int(len(database))}
