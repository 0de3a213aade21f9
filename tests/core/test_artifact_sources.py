"""Where an artifact comes from: only regular files of bounded size are read, and a signed
artifact proves who wrote it (HMAC-SHA256, ``key=``).

File cases run the load in a child process with a timeout, so a loader that blocks on a FIFO
fails the test instead of hanging pytest.
"""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import embcompress as ec
from embcompress import _artifact as artifact

ROOT = pathlib.Path(__file__).parents[2]
KEY = b"k" * 32


@pytest.fixture(scope="module")
def codec():
    return ec.fit("PCA8,SQ8", np.random.default_rng(0).standard_normal((200, 16)).astype(np.float32))


def _load_in_child(path, *args):
    code = "import sys, embcompress as ec\ntry:\n    ec.load(sys.argv[1])\nexcept ec.ArtifactError as e:\n" \
           "    print('ArtifactError:', e)\n"
    return subprocess.run([sys.executable, "-c", code, str(path), *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})


def _cli_in_child(*args):
    return subprocess.run([sys.executable, "-m", "embcompress.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture
def fifo(tmp_path):
    path = tmp_path / "codec.ecz"
    os.mkfifo(path)
    return path


def test_fifo_is_refused_without_blocking(fifo):
    out = _load_in_child(fifo)
    assert "is a FIFO (named pipe), not a regular codec artifact" in out.stdout, out.stderr[-1000:]


def test_character_device_is_refused_without_reading():
    out = _load_in_child("/dev/zero")
    assert "/dev/zero is a character device" in out.stdout, out.stderr[-1000:]


def test_directory_is_refused(tmp_path):
    with pytest.raises(ec.ArtifactError, match="is a directory"):
        ec.load(tmp_path)


def test_file_above_the_cap_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.ecz"
    with open(path, "wb") as f:
        f.truncate(3 << 30)  # sparse: 3 GiB on paper, nothing on disk
    with pytest.raises(ec.ArtifactError, match="above the .*-byte limit"):
        ec.load(path)
    with pytest.raises(ec.ArtifactError, match="above the 4,096-byte limit"):
        ec.load(path, max_memory=4096)


def test_cli_codec_on_a_fifo_fails_fast(fifo, tmp_path):
    data = tmp_path / "in.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"embedding": pa.array([[0.5] * 16], pa.list_(pa.float32()))}), data)
    out = _cli_in_child("encode", data, "--codec", fifo, "-o", tmp_path / "out.parquet")
    assert out.returncode == 1 and "FIFO" in out.stderr
    out = _cli_in_child("inspect", fifo)
    assert out.returncode == 1 and "FIFO" in out.stderr


# ----- HMAC ---------------------------------------------------------------------------------------
def test_signed_artifact_round_trip_keeps_the_fingerprint(codec, tmp_path):
    signed = codec.to_bytes(key=KEY)
    assert signed[:-artifact.MAC_BYTES] == codec.to_bytes()
    loaded = ec.Codec.from_bytes(signed, key=KEY)
    assert loaded.fingerprint == codec.fingerprint and loaded.to_bytes() == codec.to_bytes()
    path = codec.save(tmp_path / "signed.ecz", key=KEY)
    assert ec.load(path, key=KEY).fingerprint == codec.fingerprint
    assert ec.load(path).fingerprint == codec.fingerprint  # without a key: integrity only


@pytest.mark.parametrize("make, match", [
    (lambda c: c.to_bytes(), "not signed, but a key was given"),
    (lambda c: c.to_bytes(key=b"another key, 32 bytes long......"), "does not match the key"),
    (lambda c: c.to_bytes(key=KEY)[:-1] + bytes([c.to_bytes(key=KEY)[-1] ^ 1]), "does not match the key"),
])
def test_keyed_load_refuses_unsigned_or_wrongly_signed(codec, make, match):
    with pytest.raises(ec.ArtifactError, match=match):
        ec.Codec.from_bytes(make(codec), key=KEY)


def test_a_resealed_forgery_fails_the_hmac(codec):
    """Anyone can recompute the sha256; only the key holder can recompute the HMAC."""
    header, arrays = artifact.unpack(codec.to_bytes())
    arrays = {k: np.array(v) for k, v in arrays.items()}
    arrays["code.code.sq"][0] += 1
    forged = artifact.pack(header, arrays)
    forged_signed = forged + codec.to_bytes(key=KEY)[-artifact.MAC_BYTES:]  # the original's MAC
    assert ec.Codec.from_bytes(forged).spec == "PCA8,SQ8"  # integrity alone accepts it
    with pytest.raises(ec.ArtifactError, match="does not match the key"):
        ec.Codec.from_bytes(forged_signed, key=KEY)


@pytest.mark.parametrize("key", [b"short", "a string key of 32 characters..."])
def test_weak_keys_are_refused(codec, key):
    with pytest.raises(ValueError, match="at least 16 bytes"):
        codec.to_bytes(key=key)


def test_beam_load_codec_on_a_fifo_fails_fast(fifo):
    code = ("import sys, embcompress as ec\nfrom beam_transforms import load_codec\n"
            "try:\n    load_codec(sys.argv[1])\nexcept ec.ArtifactError as e:\n    print('ArtifactError:', e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "is a FIFO (named pipe)" in out.stdout, out.stderr[-1000:]
