"""The Arrow bridge: list types in, fixed_size_binary codes out, nulls preserved, copies avoided."""
import numpy as np
import pyarrow as pa
import pytest

import embcompress as ec
from embcompress import arrow


def _list_array(x, list_type, value_type, nulls=()):
    rows = [None if i in nulls else r.astype(value_type.to_pandas_dtype()).tolist() for i, r in enumerate(x)]
    if list_type == "fixed":
        return pa.array(rows, type=pa.list_(value_type, x.shape[1]))
    if list_type == "large":
        return pa.array(rows, type=pa.large_list(value_type))
    return pa.array(rows, type=pa.list_(value_type))


@pytest.fixture(scope="module")
def codec(data64):
    return ec.fit("SQ8", data64)


@pytest.mark.parametrize("list_type", ["list", "large", "fixed"])
@pytest.mark.parametrize("value_type", [pa.float16(), pa.float32(), pa.float64()])
def test_vectors_from_every_list_type(list_type, value_type, data64):
    x = data64[:7]
    batch = arrow.vectors_from_arrow(_list_array(x, list_type, value_type))
    expected = x.astype(value_type.to_pandas_dtype()).astype(np.float32)
    np.testing.assert_array_equal(batch.matrix, expected)
    assert not batch.invalid.any()


@pytest.mark.parametrize("list_type", ["list", "large", "fixed"])
def test_float32_without_nulls_is_zero_copy(list_type, data64):
    arr = _list_array(data64[:9], list_type, pa.float32())
    batch = arrow.vectors_from_arrow(arr)
    assert batch.matrix.__array_interface__["data"][0] == arr.values.buffers()[1].address


@pytest.mark.parametrize("list_type", ["list", "large", "fixed"])
def test_sliced_and_chunked_arrays(list_type, data64):
    arr = _list_array(data64[:10], list_type, pa.float32(), nulls=(1,))
    np.testing.assert_array_equal(arrow.vectors_from_arrow(arr.slice(3, 4)).matrix, data64[3:7])
    chunked = pa.chunked_array([arr.slice(0, 5), arr.slice(5)])
    batch = arrow.vectors_from_arrow(chunked)
    assert batch.null.tolist() == [i == 1 for i in range(10)]
    np.testing.assert_array_equal(batch.matrix[2:], data64[2:10])


def test_integer_elements_are_widened():
    batch = arrow.vectors_from_arrow(pa.array([[1, 2], [3, 4]], type=pa.list_(pa.int32())))
    np.testing.assert_array_equal(batch.matrix, [[1, 2], [3, 4]])


@pytest.mark.parametrize("arr", [pa.array(["a", "b"]), pa.array([["a"], ["b"]]), pa.array([1.0, 2.0])])
def test_non_vector_columns_are_refused(arr):
    with pytest.raises(ec.EmbeddingError, match="column 'emb': non-numeric type"):
        arrow.vectors_from_arrow(arr, column="emb")


@pytest.mark.parametrize("list_type", ["list", "fixed"])
def test_nulls_stay_nulls_through_encode_and_decode(list_type, codec, data64):
    arr = _list_array(data64[:8], list_type, pa.float32(), nulls=(0, 5))
    encoded = arrow.encode_arrow(codec, arr)
    assert encoded.codes.type == pa.binary(codec.code_size)
    assert encoded.codes.is_null().to_pylist() == [i in (0, 5) for i in range(8)]
    assert not encoded.rejected.any()
    good = [i for i in range(8) if i not in (0, 5)]
    codes, null = arrow.codes_from_arrow(encoded.codes, codec.code_size)
    np.testing.assert_array_equal(codes[good], codec.encode(data64[good]))
    decoded = arrow.decode_arrow(codec, encoded.codes)
    assert decoded.type == pa.list_(pa.float32(), 64)
    assert decoded.is_null().to_pylist() == null.tolist()
    np.testing.assert_array_equal(arrow.vectors_from_arrow(decoded).matrix[good], codec.decode(codes[good]))


def _with_bad_rows(data64):
    rows = [r.tolist() for r in data64[:6]]
    rows[1] = [float("nan")] * 64
    rows[3] = rows[3][:10]
    rows[4] = None
    return pa.array(rows, type=pa.list_(pa.float32()))


def test_on_invalid_raise_names_column_and_row(codec, data64):
    with pytest.raises(ec.EmbeddingError, match="column 'emb', row 1: NaN in vector; 1 more bad row"):
        arrow.encode_arrow(codec, _with_bad_rows(data64), column="emb")


@pytest.mark.parametrize("mode", ["null", "dead_letter"])
def test_on_invalid_null_or_dead_letter_reports_reasons(mode, codec, data64):
    encoded = arrow.encode_arrow(codec, _with_bad_rows(data64), on_invalid=mode)
    assert len(encoded.codes) == 6
    assert encoded.codes.is_null().to_pylist() == [False, True, False, True, True, False]
    assert encoded.rejected.tolist() == [False, True, False, True, False, False]
    assert encoded.reasons[1] == "NaN in vector" and encoded.reasons[3] == "wrong length: expected 64, got 10"
    assert encoded.reasons[4] is None  # a null vector is a null code, not a rejection


def test_unknown_on_invalid_mode(codec, data64):
    with pytest.raises(ValueError, match="on_invalid must be one of"):
        arrow.encode_arrow(codec, _with_bad_rows(data64), on_invalid="skip")


@pytest.mark.parametrize("binary_type", [pa.binary(), pa.large_binary()])
def test_codes_from_variable_binary(binary_type, codec, data64):
    codes = codec.encode(data64[:4])
    arr = pa.array([bytes(c) for c in codes] + [None], type=binary_type)
    got, null = arrow.codes_from_arrow(arr, codec.code_size)
    np.testing.assert_array_equal(got[:4], codes)
    assert null.tolist() == [False] * 4 + [True]


def test_wrong_code_size_names_expected_and_actual(codec):
    arr = pa.array([b"\0" * 64, b"\0" * 63], type=pa.binary())
    with pytest.raises(ec.EmbeddingError, match="row 1: wrong code size: expected 64 bytes, got 63"):
        arrow.decode_arrow(codec, arr)
    with pytest.raises(ec.EmbeddingError, match="expected 64 bytes, got 8"):
        arrow.decode_arrow(codec, pa.array([b"\0" * 8], type=pa.binary(8)))
    with pytest.raises(ec.EmbeddingError, match="wrong code size: expected 64 bytes per code, got 63"):
        codec.decode(np.zeros((2, 63), np.uint8))


def test_codes_to_arrow_is_zero_copy(codec, data64):
    codes = codec.encode(data64[:5])
    arr = arrow.codes_to_arrow(codes)
    assert arr.buffers()[1].address == codes.__array_interface__["data"][0]
    got, _ = arrow.codes_from_arrow(arr.slice(2), codec.code_size)
    np.testing.assert_array_equal(got, codes[2:])


def test_codec_encode_accepts_arrow_without_nulls(codec, data64):
    arr = _list_array(data64[:5], "list", pa.float64())
    np.testing.assert_array_equal(codec.encode(arr), codec.encode(data64[:5].astype(np.float64)))


@pytest.mark.parametrize("rows, expected, flagged", [
    ([[1.0] * 4, [1.0] * 3], 4, [1]),  # a tie: the earliest row's length
    ([[1.0] * 3, [1.0] * 4, [1.0] * 4], 4, [0]),  # the stray short first row is the wrong one
    ([[], [], [1.0] * 4], 4, [0, 1]),  # empty placeholders never set the length
    ([None, [1.0] * 2, [1.0] * 5, [1.0] * 5], 5, [1]),
    ([[], []], 0, [0, 1]),
])
def test_expected_length_without_dim_is_the_most_common_non_zero_one(rows, expected, flagged):
    batch = arrow.vectors_from_arrow(pa.array(rows, pa.list_(pa.float32())))
    assert batch.matrix.shape[1] == expected
    assert list(np.flatnonzero(batch.rejected)) == flagged
