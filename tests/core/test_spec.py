import pytest

import embcompress as ec
from embcompress.spec import parse_spec


@pytest.mark.parametrize("spec, transforms, code", [
    ("SQ8", [], "SQ"),
    ("SQfp16", [], "SQ"),
    ("SQbf16", [], "SQ"),
    ("PQ48", [], "PQ"),
    ("PQ8x4", [], "PQ"),
    ("RQ4x8", [], "RQ"),
    ("Flat", [], "Flat"),
    ("BIN", [], "BIN"),
    ("PCA128,SQ8", ["PCA"], "SQ"),
    ("PCAW64,SQ4", ["PCAW"], "SQ"),
    ("PCAR64,SQ6", ["PCAR"], "SQ"),
    ("OPQ32,PQ32", ["OPQ"], "PQ"),
    ("OPQ16_64,PQ16", ["OPQ"], "PQ"),
    ("RR384,SQ4", ["RR"], "SQ"),
    ("ITQ64,BIN", ["ITQ"], "BIN"),
    ("ITQ,BIN", ["ITQ"], "BIN"),
    ("L2norm,PCA64,SQ8", ["L2norm", "PCA"], "SQ"),
    (" PCA64 , SQ8 ", ["PCA"], "SQ"),
])
def test_valid_specs_parse(spec, transforms, code):
    parsed = parse_spec(spec)
    assert [t.kind for t in parsed.transforms] == transforms
    assert parsed.code.kind == code


@pytest.mark.parametrize("spec, why", [
    ("", "empty"),
    ("SQ9", "unknown code"),
    ("PCA64", "must be a code"),
    ("SQ8,PCA64", "a code must come last"),
    ("PCA64,,SQ8", "empty element"),
    ("FOO,SQ8", "unknown transform"),
    ("PQ", "unknown code"),
    ("PQ0", "outside"),
    ("PQ8x17", "bits per sub-quantizer"),
    ("RQ4", "unknown code"),
    ("pca64,SQ8", "unknown transform"),
    ("PCA99999999,SQ8", "outside"),
])
def test_malformed_specs_quote_the_spec_and_list_the_grammar(spec, why):
    with pytest.raises(ValueError, match=why) as err:
        parse_spec(spec)
    assert repr(spec) in str(err.value)
    assert "Accepted grammar" in str(err.value) and "PQ{m}[x{bits}]" in str(err.value)


def test_non_string_spec_is_rejected():
    with pytest.raises(ValueError, match="expected a string"):
        parse_spec(42)


@pytest.mark.parametrize("spec, dim, why", [
    ("PQ7", 64, "divisible by 7"),
    ("PCA128,SQ8", 64, "more dimensions"),
    ("RR32,SQ8", 64, ">= the input dimension"),
    ("OPQ5_64,PQ8", 64, "divisible by 5"),
])
def test_spec_that_does_not_fit_the_dimension(spec, dim, why, data64):
    with pytest.raises(ValueError, match=why):
        ec.fit(spec, data64[:, :dim])


@pytest.mark.parametrize("spec, dim, rows", [("PQ8", 64, 256), ("PQ8x4", 64, 16), ("RQ2x6", 64, 64),
                                             ("SQ8", 64, 2), ("OPQ8,PQ8x4", 64, 256), ("BIN", 64, 1)])
def test_min_training_rows(spec, dim, rows):
    assert parse_spec(spec).min_training_rows(dim) == rows


@pytest.mark.parametrize("spec, dim, out", [("PCA32,SQ8", 64, 32), ("OPQ8_32,PQ8", 64, 32), ("OPQ8,PQ8", 64, 64),
                                            ("ITQ,BIN", 64, 64), ("ITQ16,BIN", 64, 16), ("L2norm,RR96,SQ8", 64, 96)])
def test_output_dim(spec, dim, out):
    assert parse_spec(spec).output_dim(dim) == out
