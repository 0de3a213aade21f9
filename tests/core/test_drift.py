"""Drift detection: quiet on data like the fit sample, loud on rotated or shifted data."""
import numpy as np
import pytest

import embcompress as ec


@pytest.fixture(scope="module")
def halves(make_low_rank):
    x = make_low_rank(4000, 64, rank=12, seed=3)
    return x[:2000], x[2000:]


@pytest.mark.parametrize("spec", ["SQ8", "PCA32,SQ8", "BIN"])
def test_same_distribution_is_ok(spec, halves):
    codec = ec.fit(spec, halves[0])
    report = ec.drift(codec, halves[1])
    assert report.decision == "ok", report.reasons


def _rotate(x, seed=0):
    q = np.linalg.qr(np.random.default_rng(seed).standard_normal((x.shape[1],) * 2))[0]
    return (x @ q).astype(np.float32)


@pytest.mark.parametrize("spec", ["SQ8", "PCA32,SQ8", "BIN"])
@pytest.mark.parametrize("shift", [_rotate, lambda x: x + 0.2])
def test_rotated_or_shifted_data_asks_for_a_refit(spec, shift, halves):
    report = ec.drift(ec.fit(spec, halves[0]), shift(halves[1]))
    assert report.decision == "refit" and report.reasons


def test_too_many_invalid_rows_is_an_error(halves):
    bad = halves[1][:100].copy()
    bad[:10, 0] = np.nan
    report = ec.drift(ec.fit("SQ8", halves[0]), bad)
    assert report.decision == "error" and "invalid" in report.reasons[0]
    assert report.invalid_share == pytest.approx(0.1)


def test_thresholds_can_be_set_and_are_checked(halves):
    codec = ec.fit("SQ8", halves[0])
    assert ec.drift(codec, halves[1] + 0.2, thresholds={"mse_ratio": 1e9, "out_of_range_share": 1.0,
                                                        "mean_shift": 1e9, "recall_drop": 1.0}).decision == "ok"
    with pytest.raises(ValueError, match="unknown drift thresholds"):
        ec.drift(codec, halves[1], thresholds={"nope": 1})


def test_no_false_positive_on_two_random_halves_of_the_real_data(shared_dev):
    _, x, _, _ = shared_dev
    order = np.random.default_rng(0).permutation(len(x))
    a, b = x[order[: len(x) // 2]], x[order[len(x) // 2:]]
    for spec in ("SQ8", "PCA64,SQ8", "BIN"):
        report = ec.drift(ec.fit(spec, a), b)
        assert report.decision == "ok", (spec, report.reasons)


def test_report_serializes(halves):
    report = ec.drift(ec.fit("SQ8", halves[0]), halves[1])
    assert set(report.to_dict()) >= {"decision", "reasons", "mse", "fit_mse", "recall_at_10", "out_of_range_share"}
