"""Security checks across entry points: artifact files are never group- or world-writable,
whichever writer made them, even under a permissive umask.

Loading never runs code (the pickle case of test_bad_inputs checks a marker file for every
entry point), and size fields are bounded before allocation (tests/core/test_artifact.py,
tests/core/test_fuzz.py).
"""
import os
import stat
from contextlib import contextmanager

import apache_beam as beam
import pyarrow.parquet as pq
import pytest

import embcompress as ec

from . import inputs
from .runners import cli

PERMISSIVE = 0o000  # the worst case: files would be created 0666


@contextmanager
def umask(mask):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def assert_not_writable_by_others(path):
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert mode & (stat.S_IWGRP | stat.S_IWOTH) == 0, f"{path} has mode {oct(mode)}: group or world can write it"




@pytest.fixture
def sample(tmp_path):
    return inputs.write_parquet(tmp_path / "sample.parquet", inputs.table(inputs.good_vectors(64).tolist()))


def test_codec_save(tmp_path):
    with umask(PERMISSIVE):
        path = inputs.fit_codec().save(tmp_path / "codec.ecz")
    assert_not_writable_by_others(path)


def test_cli_fit_output(sample, tmp_path):
    out = tmp_path / "fit.ecz"
    with umask(PERMISSIVE):
        cli("fit", sample, "--spec", "SQ8", "-o", out)
    assert_not_writable_by_others(out)


@pytest.mark.parametrize("how", ["write_artifact", "FitCodec"])
def test_beam_artifact_writer(tmp_path, how):
    from beam_transforms import FitCodec, write_artifact

    out = tmp_path / "beam.ecz"
    with umask(PERMISSIVE):
        if how == "write_artifact":
            write_artifact(inputs.fit_codec().to_bytes(), str(out))
        else:
            with beam.Pipeline(runner="DirectRunner") as p:
                (p | beam.Create([inputs.table(inputs.good_vectors(64).tolist())])
                 | FitCodec("embedding", "SQ8", sample_size=64, artifact_location=str(out)))
    assert ec.load(out).spec in ("SQ8", inputs.SPEC)
    assert_not_writable_by_others(out)


@pytest.mark.parametrize("engine", ["pyarrow", "spark"])
def test_spark_compress_parquet_sidecar_artifact(spark, sample, tmp_path, engine):
    from spark_udfs import compress_parquet
    from spark_udfs.parquet import ARTIFACT, SIDECAR

    out = tmp_path / "compressed"
    with umask(PERMISSIVE):
        compress_parquet(spark, sample, str(out), "embedding", inputs.fit_codec(), engine=engine)
    assert_not_writable_by_others(out / ARTIFACT)
    assert_not_writable_by_others(out / SIDECAR)
    assert pq.read_table(out).num_rows == 64
