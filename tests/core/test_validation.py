"""Bad input gets a clear EmbeddingError naming column, row and problem, or a reason per row."""
import numpy as np
import pyarrow as pa
import pytest

import embcompress as ec


def _poison(x, row, value):
    x = x.copy()
    x[row, 3] = value
    return x


@pytest.mark.parametrize("value, reason", [(np.nan, "NaN"), (np.inf, "Inf"), (-np.inf, "Inf")])
def test_encode_names_the_row_and_problem(value, reason, data64):
    codec = ec.fit("SQ8", data64)
    with pytest.raises(ec.EmbeddingError, match=rf"column 'emb', row 7: {reason} in vector"):
        codec.encode(_poison(data64[:20], 7, value), column="emb")


@pytest.mark.parametrize("value, reason", [(np.nan, "NaN"), (np.inf, "Inf")])
def test_fit_refuses_bad_sample_rows(value, reason, data64):
    with pytest.raises(ec.EmbeddingError, match=rf"row 11: {reason}"):
        ec.fit("SQ8", _poison(data64, 11, value))


def test_encode_wrong_dimension(data64):
    codec = ec.fit("SQ8", data64)
    with pytest.raises(ec.EmbeddingError, match="wrong length: expected 64, got 32"):
        codec.encode(data64[:, :32])


def test_non_numeric_input(data64):
    codec = ec.fit("SQ8", data64)
    with pytest.raises(ec.EmbeddingError, match="non-numeric type"):
        codec.encode(np.array([["a"] * 64]))


def test_empty_sample():
    with pytest.raises(ec.EmbeddingError, match="empty sample"):
        ec.fit("SQ8", np.zeros((0, 16), np.float32))


@pytest.mark.parametrize("spec, need", [("PQ8x4", 16), ("PQ4", 256)])
def test_sample_smaller_than_the_codec_needs_says_how_many(spec, need, data64):
    with pytest.raises(ec.EmbeddingError, match=f"needs at least {need} rows to fit, got 10"):
        ec.fit(spec, data64[:10])


def test_null_in_fit_sample_is_refused(data64):
    arr = pa.array([list(map(float, r)) for r in data64[:30]] + [None], type=pa.list_(pa.float32()))
    with pytest.raises(ec.EmbeddingError, match="row 30: null vector in the fit sample"):
        ec.fit("SQ8", arr)


def test_zero_norm_rejected_when_the_spec_normalizes(data64):
    codec = ec.fit("L2norm,SQ8", data64)
    x = data64[:5].copy()
    x[2] = 0
    with pytest.raises(ec.EmbeddingError, match="row 2: zero norm"):
        codec.encode(x)
    ec.fit("SQ8", data64).encode(x)  # fine without normalization


def test_validate_returns_mask_and_reasons_per_row(data64):
    x = data64[:6].copy()
    x[1, 0] = np.nan
    x[4, 2] = np.inf
    mask, reasons = ec.validate(x)
    assert mask.tolist() == [False, True, False, False, True, False]
    assert reasons[1] == "NaN in vector" and reasons[4] == "Inf in vector" and reasons[0] is None


def test_validate_arrow_lists_with_every_problem():
    arr = pa.array([[1.0, 2.0], None, [1.0], [float("nan"), 0.0], [1.0, None], [], [0.0, 0.0], [3.0, 4.0]],
                   type=pa.list_(pa.float64()))
    mask, reasons = ec.validate(arr, dim=2, nonzero_norm=True)
    assert mask.tolist() == [False, True, True, True, True, True, True, False]
    assert list(reasons) == [None, "null vector", "wrong length: expected 2, got 1", "NaN in vector",
                             "null inside vector", "empty vector", "zero norm vector (cannot be normalized)", None]


@pytest.mark.parametrize("value", [3e38, 1e20, -1e20], ids=["max", "square-overflows", "negative"])
def test_overflowing_row_norm_is_not_mistaken_for_inf(value):
    x = np.full((2, 4), value, dtype=np.float32)
    mask, _ = ec.validate(x, nonzero_norm=True)
    assert not mask.any()


@pytest.mark.parametrize("value", [1e-30, -1e-30, 1e-45], ids=["tiny", "negative-tiny", "subnormal"])
def test_underflowing_row_norm_is_refused_with_its_own_reason(value):
    # faiss's L2norm leaves such a row unnormalized, so it would encode as a near-zero vector
    x = np.zeros((3, 4), dtype=np.float32)
    x[1, 2] = value
    mask, reasons = ec.validate(x, nonzero_norm=True)
    assert mask.tolist() == [True, True, True]
    assert reasons[0] == reasons[2] == "zero norm vector (cannot be normalized)"
    assert reasons[1] == "norm too small to normalize: its square underflows float32"


@pytest.mark.parametrize("value", [1e-20, 1e-19], ids=["square-subnormal", "small"])
def test_small_rows_that_normalize_are_kept(value):
    x = np.zeros((1, 4), dtype=np.float32)
    x[0, 2] = value
    mask, _ = ec.validate(x, nonzero_norm=True)
    assert not mask.any()


def test_error_is_a_value_error():
    assert issubclass(ec.EmbeddingError, ValueError) and issubclass(ec.ArtifactError, ValueError)
