"""Does a fitted codec still suit new data? Four signals and a decision: ok, refit or error.

1. Reconstruction MSE on the new sample against the fit-time MSE stored in the artifact
   (measured on held-back rows at fit time, so the two are comparable).
2. recall@10 of a few held-back rows of the new sample searched among the others, encoded,
   against the fit-time figure (same query and database sizes as at fit time).
3. Distribution shift against the fit sample's per-dimension statistics stored in the
   artifact: the share of values outside the calibrated [min, max] range (what breaks SQ
   codes) and the largest per-dimension mean shift, in units of that dimension's range.
4. The share of invalid rows (NaN, Inf, wrong length, nulls).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from . import _scoring as scoring
from ._typing import Vectors
from .arrow import vectors_from_arrow
from .codec import Codec
from ._fitting import STAT_DATABASE, STAT_QUERIES, recall_at_k
from ._validation import as_float_matrix, find_invalid

DEFAULT_THRESHOLDS = {
    "mse_ratio": 1.5,  # refit when MSE grows by more than half
    "recall_drop": 0.10,  # refit when recall@10 drops by more than 0.10
    "out_of_range_share": 0.01,  # refit when over 1% of values leave the calibrated range
    "mean_shift": 0.15,  # refit when a dimension's mean moves by 15% of its fit-time range
    "invalid_share": 0.05,  # error when over 5% of rows are unusable
}


@dataclass
class DriftReport:
    decision: str  # "ok", "refit" or "error"
    reasons: list = field(default_factory=list)
    rows: int = 0
    invalid_share: float = 0.0
    mse: float | None = None
    fit_mse: float | None = None
    recall_at_10: float | None = None
    fit_recall_at_10: float | None = None
    out_of_range_share: float | None = None
    max_mean_shift: float | None = None
    thresholds: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _valid_rows(codec, sample):
    """The usable rows of ``sample`` and the share of unusable ones, converting the input once."""
    if type(sample).__module__.startswith("pyarrow"):

        batch = vectors_from_arrow(sample, dim=codec.dim, nonzero_norm=codec.needs_nonzero_norm)
        x, mask = batch.matrix, batch.invalid
    else:

        x = as_float_matrix(sample, dim=codec.dim)
        mask, _ = find_invalid(x, nonzero_norm=codec.needs_nonzero_norm)
    return np.ascontiguousarray(x[~mask]), float(mask.mean()) if len(mask) else 0.0


def _recall(codec, x, seed):
    rng = np.random.default_rng(seed)
    n_q = min(STAT_QUERIES, len(x) // 2)
    if n_q < 1 or len(x) - n_q < 10:
        return None
    order = rng.permutation(len(x))
    queries, database = x[order[:n_q]], x[np.sort(order[n_q:n_q + STAT_DATABASE])]
    _, truth = scoring.blocked_topk(queries, len(database), 10, lambda a, b: database[a:b], codec.metric)
    ids, _ = codec.search(queries, codec.encode(database, validate=False), k=10)
    return recall_at_k(ids, truth, 10)


def drift(codec: Codec, sample: Vectors, *, thresholds: dict | None = None, seed: int = 0) -> DriftReport:
    """Compare ``sample`` (array or pyarrow list column) with what ``codec`` was fitted on."""
    limits = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    unknown = set(limits) - set(DEFAULT_THRESHOLDS)
    if unknown:
        raise ValueError(f"unknown drift thresholds {sorted(unknown)}; known: {sorted(DEFAULT_THRESHOLDS)}")
    x, invalid_share = _valid_rows(codec, sample)
    fit = codec.fit_stats
    report = DriftReport("ok", rows=len(x), invalid_share=invalid_share, fit_mse=fit.get("mse"),
                         fit_recall_at_10=fit.get("recall_at_10"), thresholds=limits)
    if invalid_share > limits["invalid_share"]:
        report.reasons.append(f"{invalid_share:.1%} of rows are invalid (limit {limits['invalid_share']:.0%})")
        report.decision = "error"
    if len(x) == 0:
        report.reasons.append("no valid rows to check")
        report.decision = "error"
        return report
    report.mse = float(np.mean(np.sum((x - codec.decode(codec.encode(x, validate=False))) ** 2, axis=1)))
    if report.fit_mse and report.mse > limits["mse_ratio"] * report.fit_mse:
        report.reasons.append(f"reconstruction MSE {report.mse:.4g} is {report.mse / report.fit_mse:.2f}x the "
                              f"fit-time {report.fit_mse:.4g} (limit {limits['mse_ratio']}x)")
    report.recall_at_10 = _recall(codec, x, seed)
    if report.recall_at_10 is not None and report.fit_recall_at_10 is not None \
            and report.fit_recall_at_10 - report.recall_at_10 > limits["recall_drop"]:
        report.reasons.append(f"recall@10 fell from {report.fit_recall_at_10:.3f} to {report.recall_at_10:.3f} "
                              f"(limit {limits['recall_drop']})")
    lo, hi, mean = (codec.array(f"stats.{k}") for k in ("min", "max", "mean"))
    span = hi - lo
    span = np.maximum(span, 1e-3 * float(np.median(span)) + 1e-12)  # constant dims must not divide by ~0
    report.out_of_range_share = float(((x < lo) | (x > hi)).mean())
    report.max_mean_shift = float(np.max(np.abs(x.mean(axis=0) - mean) / span))
    if report.out_of_range_share > limits["out_of_range_share"]:
        report.reasons.append(f"{report.out_of_range_share:.2%} of values fall outside the fit-time range "
                              f"(limit {limits['out_of_range_share']:.0%})")
    if report.max_mean_shift > limits["mean_shift"]:
        report.reasons.append(f"a dimension's mean moved by {report.max_mean_shift:.0%} of its fit-time range "
                              f"(limit {limits['mean_shift']:.0%})")
    if report.decision != "error" and report.reasons:
        report.decision = "refit"
    return report
