"""docs/conventions.md: one set of names across engines, and the deprecated spellings still work."""
import warnings

import pytest

from embcompress import conventions


@pytest.mark.parametrize("drop_input, keep_input, expected", [
    (None, None, True), (False, None, False), (True, None, True), (None, True, False), (None, False, True),
])
def test_drop_input_and_its_deprecated_negation(drop_input, keep_input, expected):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert conventions.resolve_drop_input(drop_input, keep_input, default=True, where="f") is expected
    assert [w.category for w in caught] == ([DeprecationWarning] if keep_input is not None else [])


def test_contradicting_drop_and_keep_is_an_error():
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="contradicts"):
        conventions.resolve_drop_input(True, True, default=True, where="f")


@pytest.mark.parametrize("column, code, decoded", [("embedding", "embedding_code", "embedding"),
                                                  ("vec", "vec_code", "vec")])
def test_default_column_names_round_trip(column, code, decoded):
    assert conventions.default_code_column(column) == code
    assert conventions.default_decoded_column(code) == decoded


def test_documented_table_matches_the_constants():
    text = (conventions.__file__.rsplit("/embcompress/", 1)[0] + "/docs/conventions.md")
    doc = open(text).read()
    for value in (conventions.REASON_COLUMN, conventions.DATASET_ARTIFACT, conventions.DATASET_SIDECAR,
                  conventions.ARTIFACT_SUFFIX, *conventions.ON_INVALID):
        assert f"`{value}`" in doc, value
