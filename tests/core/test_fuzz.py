"""Fuzzing the artifact loader, the spec parser and the Arrow bridge with hypothesis.

The only outcomes allowed are success or our own documented exceptions. CI runs 2,000
examples per target; `make fuzz` runs more (EMBCOMPRESS_FUZZ_EXAMPLES).
"""
import hashlib
import json
import os
import struct

import numpy as np
import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import embcompress as ec
from embcompress import arrow
from embcompress import _artifact as artifact
from embcompress.spec import parse_spec

EXAMPLES = int(os.environ.get("EMBCOMPRESS_FUZZ_EXAMPLES", "2000"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

_x = np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32)
VALID = ec.fit("PCA8,SQ8", _x).to_bytes()


def _load(blob):
    try:
        ec.Codec.from_bytes(blob)
    except ec.ArtifactError:
        pass


@FUZZ
@given(st.binary(max_size=4096))
def test_loader_on_arbitrary_bytes(blob):
    _load(blob)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(1, 255)), min_size=1, max_size=8),
       st.integers(0, len(VALID)))
def test_loader_on_mutated_artifacts(flips, cut):
    blob = bytearray(VALID)
    for at, mask in flips:
        blob[at] ^= mask
    _load(bytes(blob[:cut]))
    _load(bytes(blob))


_json = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=20),
                     lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner,
                                                                                 max_size=5), max_leaves=20)


@FUZZ
@given(st.dictionaries(st.sampled_from(["spec", "dim", "metric", "seed", "arrays", "fit", "x"]), _json),
       st.binary(max_size=256))
def test_loader_on_forged_headers_with_valid_checksums(header, payload):
    body = json.dumps(header).encode()
    content = struct.pack("<8sHHIQ", artifact.MAGIC, 1, 0, len(body), len(payload)) + body + payload
    _load(content + hashlib.sha256(content).digest())


@FUZZ
@given(st.lists(st.fixed_dictionaries({"name": st.sampled_from(["code.t0.A", "code.code.sq", "stats.mean", "z"]),
                                       "dtype": st.sampled_from(["float32", "uint8", "int64", "object"]),
                                       "shape": st.lists(st.integers(-2, 2**40), max_size=3),
                                       "offset": st.integers(-1, 2**40), "nbytes": st.integers(-1, 2**45)}),
                max_size=4))
def test_loader_on_forged_array_tables(entries):
    header, arrays = artifact.unpack(VALID)
    good = json.loads(artifact.pack(header, arrays)[24:24 + struct.unpack_from("<I", VALID, 12)[0]])
    good["arrays"] = good["arrays"] + entries
    body = json.dumps(good).encode()
    h_len = struct.unpack_from("<I", VALID, 12)[0]
    payload = VALID[24 + h_len:-32]
    content = struct.pack("<8sHHIQ", artifact.MAGIC, 1, 0, len(body), len(payload)) + body + payload
    _load(content + hashlib.sha256(content).digest())


_tokens = st.sampled_from(["PCA", "PCAW", "PCAR", "OPQ", "RR", "ITQ", "L2norm", "SQ", "PQ", "RQ", "BIN", "Flat",
                           "HASH", "PRUNE", "TRUNC", "DISTILL", "TOPK", "MP", "RaBitQ", "APQ", "fp16", "x", "_", "imp",
                           ",", " ", "0", "1", "8", "64", "99999999", "-", "é"])


@FUZZ
@given(st.lists(_tokens, max_size=12).map("".join) | st.text(max_size=30))
def test_spec_parser(text):
    try:
        spec = parse_spec(text)
    except ValueError as exc:
        assert "Accepted grammar" in str(exc)
        return
    assert spec.code is not None
    try:
        spec.check_dim(64)
    except ValueError:
        pass


_values = st.one_of(st.floats(width=32, allow_nan=True, allow_infinity=True), st.none())
_rows = st.lists(st.one_of(st.none(), st.lists(_values, max_size=6)), max_size=20)


@FUZZ
@given(_rows, st.sampled_from([pa.float16(), pa.float32(), pa.float64()]), st.integers(0, 5),
       st.booleans(), st.one_of(st.none(), st.integers(1, 6)))
def test_arrow_bridge(rows, value_type, cut, large, dim):
    list_type = pa.large_list(value_type) if large else pa.list_(value_type)
    arr = pa.array(rows, type=list_type).slice(min(cut, len(rows)))
    try:
        batch = arrow.vectors_from_arrow(arr, dim=dim, nonzero_norm=True)
    except ec.EmbeddingError:
        return
    n = len(arr)
    assert batch.matrix.shape[0] == n and batch.invalid.shape == (n,)
    assert np.isfinite(batch.matrix[~batch.invalid]).all()
    assert all((r is None) == (not bad) for r, bad in zip(batch.reasons, batch.invalid))
    assert (batch.null == np.array([r is None for r in arr.to_pylist()], dtype=bool)).all()
