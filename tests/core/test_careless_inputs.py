"""Careless inputs that used to slip past validation, with the same message in every path.

Each case names the row (or argument) and the problem: ragged and null rows, float64 values
beyond float32, NaN queries, exclusion lists of the wrong size, a huge ``k``, rows too small
to normalize, degenerate fit samples, non-ASCII digits in a spec, a Parquet row far longer
than any codec, and a corrupted registry record.
"""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import embcompress as ec
from embcompress import parquet_io
from embcompress.arrow import encode_arrow
from embcompress.registry import Registry

D = 8


@pytest.fixture(scope="module")
def x():
    return np.random.default_rng(0).standard_normal((300, D)).astype(np.float32)


@pytest.fixture(scope="module")
def codec(x):
    return ec.fit("L2norm,SQ8", x)


GOOD = [0.5] * D


@pytest.mark.parametrize("rows, message", [
    ([GOOD, GOOD[:-1]], "row 1: wrong length: expected 8, got 7"),
    ([GOOD, None], "row 1: null vector"),
    ([GOOD, GOOD[:-1] + [None]], "row 1: null inside vector"),
    ([GOOD, [True] * D], "row 1: wrong type: expected a list of floats, got a list containing bool"),
    ([GOOD, ["0.5"] * D], "row 1: wrong type"),
    ([GOOD, []], "row 1: empty vector"),
    ([GOOD, GOOD[:4] + [1e39] + GOOD[5:]], "row 1: value out of float32 range"),
])
@pytest.mark.parametrize("entry", ["encode", "fit", "validate"])
def test_python_rows_are_checked_row_by_row(codec, rows, message, entry):
    call = {"encode": lambda: codec.encode(rows), "fit": lambda: ec.fit("SQ8", rows * 10),
            "validate": lambda: ec.validate(rows, dim=D)}[entry]
    with pytest.raises(ec.EmbeddingError, match=message):
        call()


def test_float64_beyond_float32_is_out_of_range_not_inf(codec):
    wide = np.full((2, D), 0.5)
    wide[1, 3] = -1e39
    with pytest.raises(ec.EmbeddingError, match="row 1: value out of float32 range"):
        codec.encode(wide)
    column = pa.array(wide.tolist() + [[float("inf")] * D], pa.list_(pa.float64()))
    encoded = encode_arrow(codec, column, on_invalid="dead_letter")
    assert list(encoded.reasons) == [None, "value out of float32 range", "Inf in vector"]


def test_out_of_range_rows_are_dead_lettered_by_the_cli_and_beam(codec, tmp_path):
    from beam_transforms import _rows

    rows = [GOOD, GOOD[:2] + [1e39] + GOOD[3:]]
    src = tmp_path / "in.parquet"
    pq.write_table(pa.table({"id": [0, 1], "embedding": pa.array(rows, pa.list_(pa.float64()))}), src)
    parquet_io.encode_file(src, tmp_path / "o.parquet", codec, "embedding", on_invalid="dead_letter",
                           rejected_path=tmp_path / "r.parquet")
    assert pq.read_table(tmp_path / "r.parquet")["embcompress_reason"].to_pylist() == ["value out of float32 range"]
    values, _ = _rows.vector_column([{"e": r} for r in rows], "e")
    assert list(encode_arrow(codec, values, on_invalid="dead_letter").reasons) == [None, "value out of float32 range"]


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@pytest.mark.parametrize("call", ["search", "score"])
def test_nan_or_inf_queries_are_refused(codec, x, bad, call):
    q = x[:3].copy()
    q[2, 1] = bad
    codes = codec.encode(x)
    with pytest.raises(ec.EmbeddingError, match=f"query 2: {'NaN' if np.isnan(bad) else 'Inf'} in vector"):
        getattr(codec, call)(q, codes)


@pytest.mark.parametrize("exclude, match", [
    ([1, 2], r"one row id per query \(3\), got shape \(2,\)"),
    ([[1], [2], [3]], "one row id per query"),
    ([1.5, 2, 3], "integer row ids"),
    ([1, 2, 10**6], r"outside \[-1, 300\)"),
])
def test_exclude_must_match_the_queries(codec, x, exclude, match):
    with pytest.raises(ValueError, match=match):
        codec.search(x[:3], codec.encode(x), exclude=exclude)


def test_k_beyond_n_is_clipped(codec, x):
    codes = codec.encode(x[:20])
    ids, sims = codec.search(x[:2], codes, k=10**10)
    assert ids.shape == sims.shape == (2, 20) and sorted(ids[0]) == list(range(20))
    ids, _ = codec.search(x[:2], codes, k=5, rescore=(x[:20], 10**9))
    assert ids.shape == (2, 5)


def test_rows_too_small_to_normalize_are_refused(codec):
    tiny = np.zeros((1, D), np.float32)
    tiny[0, 3] = 1e-30
    with pytest.raises(ec.EmbeddingError, match="row 0: norm too small to normalize"):
        codec.encode(tiny)
    assert encode_arrow(codec, pa.array(tiny.tolist(), pa.list_(pa.float32())), on_invalid="dead_letter").reasons[0] \
        == "norm too small to normalize: its square underflows float32"


@pytest.mark.parametrize("sample", [
    np.ones((100, 16), np.float32),
    np.c_[np.random.default_rng(1).standard_normal((100, 4)), np.zeros((100, 12))].astype(np.float32),
], ids=["constant", "zero-variance-dims"])
def test_degenerate_samples_are_refused_by_name(sample):
    with pytest.raises(ec.EmbeddingError, match="degenerate sample: fitting 'PCAW8,SQ8' gave NaN or Inf"):
        ec.fit("PCAW8,SQ8", sample)


@pytest.mark.parametrize("spec", ["PCA8,SQ8", "PCAW8,SQ8", "PCAR8,SQ8", "ITQ8,BIN"])
def test_pca_on_fewer_rows_than_components_is_sample_too_small(spec):
    sample = np.random.default_rng(0).standard_normal((5, 16)).astype(np.float32)
    with pytest.raises(ec.EmbeddingError, match=f"sample too small: spec '{spec}' needs at least 8 rows"):
        ec.fit(spec, sample)


@pytest.mark.parametrize("spec", ["PCA\u0668,SQ8", "PQ\uff18", "SQ8,PCA\u0968"])
def test_non_ascii_digits_never_reach_faiss(spec):
    with pytest.raises(ValueError, match="Accepted grammar"):
        ec.parse_spec(spec)


def test_parquet_row_far_longer_than_any_codec_is_refused_from_the_footer(codec, tmp_path):
    from embcompress import recommend
    from embcompress.cli import main

    src = tmp_path / "big.parquet"
    pq.write_table(pa.table({"id": [0], "embedding": pa.array([np.zeros(20_000_000, np.float32)],
                                                              pa.list_(pa.float32()))}), src, compression="zstd")
    assert src.stat().st_size < 100_000
    with pytest.raises(ec.EmbeddingError, match="row group 0 of .* holds 20,000,000 values for 1 rows"):
        parquet_io.encode_file(src, tmp_path / "o.parquet", codec, "embedding", on_invalid="null")
    with pytest.raises(ec.EmbeddingError, match="far more than 65536 per row"):
        recommend.column_dim(src, "embedding")
    assert main(["fit", str(src), "--spec", "SQ8", "-o", str(tmp_path / "c.ecz")]) == 1


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]", b"\xff\xfe", b"{}"])
def test_corrupted_registry_metadata_is_an_artifact_error(tmp_path, codec, content):
    registry = Registry(tmp_path / "reg")
    registry.publish("items", codec)
    (tmp_path / "reg" / "items" / "v1" / "meta.json").write_bytes(content)
    with pytest.raises(ec.ArtifactError, match="meta.json"):
        registry.get("items")
