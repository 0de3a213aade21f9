"""Decoders refuse a codec other than the one that wrote the codes, whichever engine wrote them.

(Before the provenance record, the CLI read only its own metadata shape: on Beam's output it
decoded with any codec and exited 0 with wrong vectors.)
"""
import contextlib
import glob
import io

import pytest

import embcompress as ec
from embcompress import parquet_io
from embcompress.cli import main
from embcompress.datasets import load_demo, matrix

from .conftest import data_files, run_cli


def _beam(shared, out, codec):
    beam = pytest.importorskip("apache_beam", reason="needs apache-beam")
    from beam_transforms import CompressParquet

    with beam.Pipeline() as p:
        _ = p | CompressParquet(str(shared.table / "*" / "*.parquet"), str(out / "part"), "embedding", codec)
    return sorted(glob.glob(str(out / "part-*.parquet")))


def _core(shared, out, codec):
    out.mkdir()
    target = out / "0.parquet"
    parquet_io.encode_file(data_files(shared.table)[0], target, codec, "embedding", drop_input=True)
    return [str(target)]


@pytest.mark.parametrize("writer", [_beam, _core], ids=["beam_compress_parquet", "parquet_io"])
def test_cli_decode_refuses_another_codec(shared, tmp_path, writer):
    files = writer(shared, tmp_path / "out", shared.codec)
    other_path = ec.fit("SQ4", matrix(load_demo())[1000:1500], seed=0).save(tmp_path / "other.ecz")
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(["decode", files[0], "--codec", str(other_path), "-o", str(tmp_path / "x.parquet")])
    assert code == 1 and not (tmp_path / "x.parquet").exists()
    assert f"was encoded by codec {shared.codec.fingerprint[:16]}" in err.getvalue()
    assert shared.codec.fingerprint[:16] in run_cli("inspect", files[0])
