"""The artifact format: verified on load, never pickled, identical across processes."""
import hashlib
import json
import pickle
import struct
import subprocess
import sys

import numpy as np
import pytest

import embcompress as ec
from embcompress import _artifact as artifact


@pytest.fixture(scope="module")
def blob(data64):
    return ec.fit("PCA32,SQ8", data64).to_bytes()


def _reseal(content: bytes) -> bytes:
    return content + hashlib.sha256(content).digest()


def _with_header(blob: bytes, edit) -> bytes:
    """Rewrite the JSON header with ``edit`` and recompute sizes and checksum (a forged file)."""
    _, version, flags, h_len, p_len = struct.unpack_from("<8sHHIQ", blob, 0)
    header = json.loads(blob[24:24 + h_len])
    edit(header)
    body = json.dumps(header).encode()
    payload = blob[24 + h_len:24 + h_len + p_len]
    return _reseal(struct.pack("<8sHHIQ", b"EMBCODEC", version, flags, len(body), len(payload)) + body + payload)


def test_layout_starts_with_magic_version_and_ends_with_sha256(blob):
    assert blob[:8] == b"EMBCODEC"
    assert struct.unpack_from("<H", blob, 8)[0] == artifact.FORMAT_VERSION
    assert hashlib.sha256(blob[:-32]).digest() == blob[-32:]


def test_fingerprint_is_sha256_of_the_artifact(blob):
    codec = ec.Codec.from_bytes(blob)
    assert codec.fingerprint == hashlib.sha256(blob).hexdigest()


def test_header_holds_spec_dim_metric_seed_versions_and_fit_stats(blob):
    header = ec.Codec.from_bytes(blob).header
    assert header["spec"] == "PCA32,SQ8" and header["dim"] == 64 and header["metric"] == "ip" and header["seed"] == 0
    assert set(header["versions"]) >= {"embcompress", "faiss", "numpy"}
    assert {"sample_rows", "mse", "recall_at_10", "holdout_rows"} <= set(header["fit"])


def _flip(blob, at):
    b = bytearray(blob)
    b[at] ^= 0x01
    return bytes(b)


@pytest.mark.parametrize("make, match", [
    (lambda b: b"", "truncated or empty"),
    (lambda b: b[:10], "truncated or empty"),
    (lambda b: b[:-1], "truncated or has trailing"),
    (lambda b: b[: len(b) // 2], "truncated or has trailing"),
    (lambda b: b + b"\0", "truncated or has trailing"),
    (lambda b: _flip(b, len(b) // 2), "checksum mismatch"),
    (lambda b: _flip(b, 30), "checksum mismatch"),
    (lambda b: _flip(b, len(b) - 1), "checksum mismatch"),
    (lambda b: b[:8] + struct.pack("<H", 99) + b[10:], "newer than this embcompress supports"),
    (lambda b: b"NOTCODEC" + b[8:], "bad magic"),
    (lambda b: pickle.dumps({"spec": "SQ8"}) + b"\0" * 64, "looks like a pickle"),
])
def test_damaged_artifacts_raise_artifact_error(blob, make, match):
    with pytest.raises(ec.ArtifactError, match=match):
        ec.Codec.from_bytes(make(blob))


class _RunsCodeWhenUnpickled:
    def __reduce__(self):
        return (exec, ("open('/tmp/embcompress-pwned', 'w').write('x')",))


def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path, monkeypatch):
    import os

    marker = "/tmp/embcompress-pwned"
    if os.path.exists(marker):
        os.remove(marker)
    path = tmp_path / "codec.ecz"
    path.write_bytes(pickle.dumps(_RunsCodeWhenUnpickled()))
    with pytest.raises(ec.ArtifactError, match="pickle"):
        ec.load(path)
    assert not os.path.exists(marker)


@pytest.mark.parametrize("edit, match", [
    (lambda h: h["arrays"][0].update(shape=[10**12]), "claims"),
    (lambda h: h["arrays"][0].update(nbytes=4 * 10**12, shape=[10**12]), "claims"),
    (lambda h: h["arrays"][0].update(offset=2**62), "claims"),
    (lambda h: h["arrays"][0].update(shape=[-1]), "invalid shape"),
    (lambda h: h["arrays"][0].update(dtype="object"), "unsupported dtype"),
    (lambda h: h.update(spec="SQ9"), "spec is invalid"),
    (lambda h: h.update(dim=10**9), "out of range"),
    (lambda h: h.update(metric="cosine"), "metric"),
    (lambda h: h.pop("spec"), "'spec' is missing"),
    (lambda h: h.update(arrays=[a for a in h["arrays"] if not a["name"].startswith("code.t0")]), "missing array"),
])
def test_forged_headers_fail_fast_with_artifact_error(blob, edit, match):
    with pytest.raises(ec.ArtifactError, match=match):
        ec.Codec.from_bytes(_with_header(blob, edit))


def test_forged_array_size_that_does_not_match_the_spec(blob):
    header, arrays = artifact.unpack(blob)
    arrays = dict(arrays)
    arrays["code.t0.A"] = np.zeros((3, 3), np.float32)
    with pytest.raises(ec.ArtifactError, match="t0.A"):
        ec.Codec.from_bytes(artifact.pack(header, arrays))


def test_save_load_and_no_silent_overwrite(tmp_path, data64):
    a = ec.fit("SQ8", data64)
    b = ec.fit("SQ4", data64)
    path = tmp_path / "codec.ecz"
    a.save(path)
    a.save(path)  # same bytes: idempotent
    assert ec.load(path).fingerprint == a.fingerprint
    with pytest.raises(FileExistsError, match="overwrite=True"):
        b.save(path)
    b.save(path, overwrite=True)
    assert ec.load(path).fingerprint == b.fingerprint
    assert [p.name for p in tmp_path.iterdir()] == ["codec.ecz"]
    assert path.stat().st_mode & 0o022 == 0  # no group or world write


_FIT_IN_CHILD = """
import sys, numpy as np, embcompress as ec
sys.path.insert(0, {tests!r})
from conftest import low_rank
x = low_rank(600, 32, seed=5)
sys.stdout.write(ec.fit({spec!r}, x, seed=2).fingerprint)
"""


@pytest.mark.parametrize("spec", ["PQ8x4", "RR32,SQ4", "ITQ16,BIN"])
def test_artifacts_are_byte_identical_across_processes(spec):
    import pathlib

    tests = str(pathlib.Path(__file__).parents[1])
    code = _FIT_IN_CHILD.format(tests=tests, spec=spec)
    prints = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
              for _ in range(2)]
    assert prints[0] == prints[1] and len(prints[0]) == 64
