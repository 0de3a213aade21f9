"""`embcompress fit` writes a loadable, reproducible codec; `inspect` describes codecs and encoded files."""
import pytest

import embcompress as ec

SPECS = ["SQ8", "SQ4", "PCA32,SQ8", "BIN", "PQ8x4", "UNIT,RQ4x5_b2", "PRQ2x2x4", "LSQ2x4_i2_t2"]


@pytest.mark.parametrize("spec", SPECS)
def test_fit_writes_a_codec_for_the_spec(cli, table64, tmp_path, spec):
    out = tmp_path / "codec.ecz"
    run = cli("fit", table64, "--spec", spec, "-o", out)
    assert run.code == 0, run
    codec = ec.load(out)
    assert codec.spec == spec
    assert codec.dim == 64
    assert f"{codec.code_size} B/vector" in run.out


def test_fit_is_reproducible_for_a_seed_and_sample(cli, table64, tmp_path):
    prints = []
    for name in ("a.ecz", "b.ecz", "c.ecz"):
        seed = 1 if name == "c.ecz" else 0
        assert cli("fit", table64, "--spec", "PQ4x4", "--sample", 400, "--seed", seed, "-o", tmp_path / name).code == 0
        prints.append(ec.load(tmp_path / name).fingerprint)
    assert prints[0] == prints[1]
    assert prints[0] != prints[2]


def test_fit_sample_bounds_the_rows(cli, table64, tmp_path):
    assert cli("fit", table64, "--spec", "SQ8", "--sample", 300, "-o", tmp_path / "c.ecz").code == 0
    assert ec.load(tmp_path / "c.ecz").fit_stats["sample_rows"] == 300


def test_fit_refuses_to_overwrite_without_the_flag(cli, table64, tmp_path):
    out = tmp_path / "c.ecz"
    assert cli("fit", table64, "--spec", "SQ8", "-o", out).code == 0
    run = cli("fit", table64, "--spec", "SQ4", "-o", out)
    assert run.code == 1
    assert "--overwrite" in run.err
    assert cli("fit", table64, "--spec", "SQ4", "-o", out, "--overwrite").code == 0
    assert ec.load(out).spec == "SQ4"


def test_inspect_codec_prints_identity_stats_and_versions(cli, codec64):
    codec = ec.load(codec64)
    run = cli("inspect", codec64)
    assert run.code == 0
    for text in ("SQ8", "64", f"{codec.code_size} B/vector", codec.fingerprint, "fit.recall_at_10", "version.faiss"):
        assert text in run.out


def test_inspect_parquet_names_the_codec_of_each_column(cli, table64, codec64, tmp_path):
    out = tmp_path / "out.parquet"
    assert cli("encode", table64, "--codec", codec64, "-o", out).code == 0
    run = cli("inspect", out)
    assert run.code == 0
    assert "'embedding' -> 'embedding_code'" in run.out
    assert ec.load(codec64).fingerprint in run.out
    assert "1,500 rows" in run.out


def test_inspect_plain_parquet_says_no_codec(cli, table64):
    run = cli("inspect", table64)
    assert run.code == 0
    assert "no embcompress codec" in run.out
