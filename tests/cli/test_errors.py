"""User mistakes print one line, `embcompress: error: ...`, and exit 1 without a traceback."""
import pytest

import embcompress as ec


def _assert_clean(run, *fragments):
    assert run.code == 1, run
    lines = run.err.strip().splitlines()
    assert len(lines) == 1, run.err
    assert lines[0].startswith("embcompress: error: ")
    assert "Traceback" not in run.err
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("command", [
    ["fit", "{missing}", "--spec", "SQ8", "-o", "{tmp}/c.ecz"],
    ["encode", "{missing}", "--codec", "{codec}", "-o", "{tmp}/o.parquet"],
    ["encode", "{table}", "--codec", "{missing}", "-o", "{tmp}/o.parquet"],
    ["decode", "{missing}", "--codec", "{codec}", "-o", "{tmp}/o.parquet"],
    ["evaluate", "{missing}"],
    ["recommend", "{missing}", "--budget-bytes", "32"],
    ["inspect", "{missing}"],
])
def test_missing_file(cli, table64, codec64, tmp_path, command):
    names = {"missing": tmp_path / "nope.parquet", "codec": codec64, "table": table64, "tmp": tmp_path}
    run = cli(*[part.format(**names) for part in command])
    _assert_clean(run, "nope.parquet", "no such")


@pytest.mark.parametrize("command", [
    ["fit", "{table}", "--column", "vectors", "--spec", "SQ8", "-o", "{tmp}/c.ecz"],
    ["encode", "{table}", "--column", "vectors", "--codec", "{codec}", "-o", "{tmp}/o.parquet"],
    ["evaluate", "{table}", "--column", "vectors"],
    ["recommend", "{table}", "--column", "vectors", "--min-recall", "0.5"],
])
def test_wrong_column_lists_the_available_ones(cli, table64, codec64, tmp_path, command):
    run = cli(*[part.format(table=table64, codec=codec64, tmp=tmp_path) for part in command])
    _assert_clean(run, "'vectors'", "id, text, embedding, score")


@pytest.mark.parametrize("column", ["text", "score", "id"])
@pytest.mark.parametrize("command", ["fit", "encode"])
def test_non_embedding_column(cli, table64, codec64, tmp_path, column, command):
    if command == "fit":
        run = cli("fit", table64, "--column", column, "--spec", "SQ8", "-o", tmp_path / "c.ecz")
    else:
        run = cli("encode", table64, "--column", column, "--codec", codec64, "-o", tmp_path / "o.parquet")
    _assert_clean(run, repr(column), "list<float>")


def test_codec_dims_do_not_match_the_file(cli, table64, tmp_path):
    import numpy as np

    wide = tmp_path / "wide.ecz"
    ec.fit("SQ8", np.random.default_rng(0).standard_normal((50, 32)).astype(np.float32)).save(wide)
    run = cli("encode", table64, "--codec", wide, "-o", tmp_path / "o.parquet")
    _assert_clean(run, "32-dimensional", "64-dimensional")
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.parametrize("content", [b"", b"not a codec at all", b"EMBCODEC" + b"\0" * 40])
def test_corrupt_codec_file(cli, table64, tmp_path, content):
    bad = tmp_path / "bad.ecz"
    bad.write_bytes(content)
    _assert_clean(cli("encode", table64, "--codec", bad, "-o", tmp_path / "o.parquet"), "bad.ecz")


def test_not_a_parquet_file(cli, codec64, tmp_path):
    text = tmp_path / "notes.parquet"
    text.write_text("hello")
    _assert_clean(cli("encode", text, "--codec", codec64, "-o", tmp_path / "o.parquet"), "not a readable Parquet")


@pytest.mark.parametrize("spec", ["PQx4", "SQ3", "PCA32", "FOO,SQ8"])
def test_bad_spec(cli, table64, tmp_path, spec):
    _assert_clean(cli("fit", table64, "--spec", spec, "-o", tmp_path / "c.ecz"), "invalid codec spec", "--help")


def test_spec_the_dimension_does_not_allow(cli, table64, tmp_path):
    _assert_clean(cli("fit", table64, "--spec", "PCA128,SQ8", "-o", tmp_path / "c.ecz"), "PCA128")


def test_existing_output_needs_overwrite(cli, table64, codec64, tmp_path):
    out = tmp_path / "o.parquet"
    out.write_bytes(b"keep me")
    _assert_clean(cli("encode", table64, "--codec", codec64, "-o", out), "--overwrite")
    assert out.read_bytes() == b"keep me"


def test_bad_vector_in_the_fit_sample_names_the_file_row(cli, data64, make_table, tmp_path):
    x = data64[:300].copy()
    x[150] = float("nan")
    bad = make_table(tmp_path / "bad.parquet", x)
    _assert_clean(cli("fit", bad, "--spec", "SQ8", "--sample", 299, "-o", tmp_path / "c.ecz"), "row 150", "NaN")
