"""Files written by this version keep reading the same: artifacts, codes, decodes and hashing are pinned.

A failure here means old artifacts or codes in users' tables would change meaning. If the
change is deliberate, bump the artifact format version, keep reading the old one, and
regenerate with ``python tests/golden/make_golden.py``.
"""
from pathlib import Path

import numpy as np
import pytest

import embcompress as ec
from embcompress import _artifact as artifact
from embcompress.spec import _CODE_PATTERNS, _TRANSFORM_PATTERNS

from .make_golden import SPECS, hashed

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def golden():
    with np.load(HERE / "golden.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_artifact_codes_and_decodes_are_unchanged(golden, name):
    blob = (HERE / f"{name}.ecz").read_bytes()
    codec = ec.Codec.from_bytes(blob)
    assert codec.spec == SPECS[name]
    assert codec.fingerprint == bytes(golden[f"{name}.fingerprint"]).hex()
    header, arrays = artifact.unpack(blob)
    assert artifact.pack(header, arrays) == blob, "the writer no longer lays this artifact out byte for byte"
    codes = codec.encode(golden["probe"])
    assert codes.tobytes() == golden[f"{name}.codes"].tobytes(), "the same rows now encode to other codes"
    decoded = codec.decode(golden[f"{name}.codes"])
    assert decoded.tobytes() == golden[f"{name}.decoded"].tobytes(), "stored codes now decode to other vectors"


def test_every_spec_kind_has_a_golden_artifact():
    parsed = [ec.parse_spec(spec) for spec in SPECS.values()]
    kinds = {p.kind for s in parsed for p in (*s.transforms, s.code)}
    grammar_kinds = set(_TRANSFORM_PATTERNS) | set(_CODE_PATTERNS)
    assert grammar_kinds <= kinds, f"no golden artifact for {sorted(grammar_kinds - kinds)}"


@pytest.mark.parametrize("key", ["hash_tokens", "hash_weights"])
def test_feature_hashing_is_pinned(golden, key):
    assert hashed()[key].tobytes() == golden[key].tobytes()
