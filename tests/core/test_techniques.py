"""Techniques beyond faiss: each composes, round-trips through the artifact, and checks its parameters."""
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

import embcompress as ec
from embcompress import _artifact as artifact
from embcompress.techniques.hashing import hashing_matrix
from embcompress.techniques.mixed_precision import allocate_bits

SPECS = ["HASH96x2,SQ8", "HASH32x1,Flat", "PRUNE32,SQ8", "PRUNE32_imp,SQ4", "TRUNC32,SQ8", "TOPK16", "MP24",
         "PCA32,MP12", "PCAR32,MP16", "DISTILL16,SQ8", "DISTILL16_32,Flat", "RaBitQ", "PRUNE32,PQ8x4",
         "HASH128x2,PCA32,SQ8", "PCA48,TRUNC24,BIN", "L2norm,TOPK8"]


@pytest.fixture(scope="module")
def fitted(data64):
    return {spec: ec.fit(spec, data64, seed=1) for spec in SPECS}


@pytest.mark.parametrize("spec", SPECS)
def test_round_trip_and_artifact(spec, fitted, data64):
    codec = fitted[spec]
    codes = codec.encode(data64)
    assert codes.shape == (len(data64), codec.code_size)
    recon = codec.decode(codes)
    assert recon.shape == data64.shape and np.isfinite(recon).all()
    again = ec.Codec.from_bytes(codec.to_bytes())
    np.testing.assert_array_equal(again.encode(data64), codes)
    np.testing.assert_array_equal(again.decode(codes), recon)
    ids, _ = again.search(data64[:5], codes, k=3)
    assert ids.shape == (5, 3) and (ids >= 0).all()


@pytest.mark.parametrize("spec", ["PRUNE32_imp,SQ8", "DISTILL16,SQ8", "MP24", "HASH96x2,SQ8"])
def test_deterministic_under_a_seed(spec, data64):
    assert ec.fit(spec, data64, seed=7).to_bytes() == ec.fit(spec, data64, seed=7).to_bytes()


@pytest.mark.parametrize("spec, match", [
    ("HASH0,SQ8", "outside 1..65536"),
    ("HASH64x0,SQ8", "outside 1..65536"),
    ("PRUNE65,SQ8", "asks for more dimensions"),
    ("TRUNC100,SQ8", "asks for more dimensions"),
    ("TOPK65", "keeps more values"),
    ("MP7", "below 1 bit per dimension"),
    ("PCA32,MP3", "below 1 bit per dimension"),
    ("DISTILL128,SQ8", "asks for more dimensions"),
])
def test_bad_parameters(spec, match, data64):
    with pytest.raises(ValueError, match=match):
        ec.fit(spec, data64)


def test_hash_needs_no_fit_and_stores_only_seed_and_sizes(data64):
    codec = ec.fit("HASH48x3,Flat", data64[:1], seed=5)
    _, arrays = artifact.unpack(codec.to_bytes())
    assert not [n for n in arrays if n.startswith("s0.")]
    expected = data64 @ hashing_matrix(64, 48, 3, seed=5)
    np.testing.assert_allclose(codec.decode(codec.encode(data64)), expected @ hashing_matrix(64, 48, 3, 5).T,
                               rtol=1e-6, atol=1e-6)


def test_hashing_preserves_inner_products_on_average():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 256)).astype(np.float32)
    exact = x @ x.T
    errors = []
    for n in (256, 1024, 4096):
        p = hashing_matrix(256, n, 2, 0)
        diff = (x @ p) @ (x @ p).T - exact
        assert abs(diff.mean()) < 0.05 * np.abs(exact).mean()  # unbiased
        errors.append(np.abs(diff).mean())
    assert errors[0] > errors[1] > errors[2]  # fewer collisions, less distortion


def test_hash_matrix_is_pinned_across_versions():
    """Hashing needs no fit, so its matrix is the codec: these values must never change.
    (Input dim 1's two buckets collide with opposite signs and cancel.)"""
    p = hashing_matrix(4, 8, 2, seed=0)
    want = np.zeros((4, 8), np.float32)
    for (row, col), sign in zip([(0, 6), (0, 7), (2, 1), (2, 3), (3, 1), (3, 3)], [1, -1, -1, -1, -1, -1]):
        want[row, col] = sign / np.sqrt(np.float32(2))
    np.testing.assert_array_equal(p, want)
    assert hashing_matrix(4, 8, 2, seed=1).tobytes() != p.tobytes()


@pytest.mark.parametrize("make", [
    lambda: ec.hash_features(["user:1", "item:9", "user:1"], 32),
    lambda: ec.hash_features({"user:1": 2.0, "item:9": 1.0}, 32),
    lambda: ec.hash_features(pa.array([["user:1", "item:9", "user:1"]], pa.list_(pa.string())), 32)[0],
    lambda: ec.hash_features(pa.array([[("user:1", 2.0), ("item:9", 1.0)]], pa.map_(pa.string(), pa.float32())),
                             32)[0],
])
def test_hash_features_accepts_each_input_form_and_agrees(make):
    np.testing.assert_allclose(make(), ec.hash_features({"user:1": 2.0, "item:9": 1.0}, 32), rtol=1e-6)


def test_hash_features_column_keeps_rows_and_empty_rows():
    col = pa.array([["a"], [], None, ["b", "a"]], pa.list_(pa.string()))
    out = ec.hash_features(col, 16, k=1, seed=3)
    assert out.shape == (4, 16)
    assert not out[1].any() and not out[2].any()
    np.testing.assert_allclose(out[3], ec.hash_features(["b", "a"], 16, k=1, seed=3))


def test_prune_keeps_highest_variance_dims(data64):
    x = data64.copy()
    x[:, 5] *= 100
    codec = ec.fit("PRUNE4,Flat", x)
    assert 5 in codec.array("s0.keep")


def test_trunc_keeps_the_head_renormalized(data64):
    codec = ec.fit("TRUNC8,Flat", data64)
    head = data64[:3, :8] / np.linalg.norm(data64[:3, :8], axis=1, keepdims=True)
    np.testing.assert_allclose(codec.decode(codec.encode(data64[:3]))[:, :8], head, rtol=1e-6)


def test_topk_code_layout_and_sparse_scoring(fitted, data64):
    codec = fitted["TOPK16"]
    codes = codec.encode(data64[:4])
    pairs = codes.view(np.dtype([("i", "<u2"), ("v", "<f2")])).reshape(4, 16)
    top = np.sort(np.argsort(-np.abs(data64[:4]), axis=1)[:, :16], axis=1)
    np.testing.assert_array_equal(pairs["i"], top)
    dense = codec.decode(codes)
    np.testing.assert_allclose(codec.score(data64[:7], codes), data64[:7] @ dense.T, rtol=1e-5, atol=1e-6)


def test_mixed_precision_allocation_respects_budget_and_favours_variance():
    var = np.array([100.0, 10.0, 1.0, 0.1, 0.01, 0.001, 0.0001, 0.0])
    bits = allocate_bits(var, budget_bytes=3)
    assert (np.diff(bits) <= 0).all() and bits[0] >= 8 and bits[-1] == 0
    assert sum((int((bits == w).sum()) * w + 7) // 8 for w in (1, 2, 4, 8, 16)) <= 3


def test_mixed_precision_after_pca_beats_uniform_bits(data64):
    mp = ec.fit("PCA32,MP16", data64)
    sq4 = ec.fit("PCA32,SQ4", data64)
    def mse(c):
        return np.mean(np.sum((data64 - c.decode(c.encode(data64))) ** 2, axis=1))
    assert mp.code_size == sq4.code_size == 16 and mse(mp) < mse(sq4)


def test_distill_scores_queries_in_the_student_space(fitted, data64):
    codec = fitted["DISTILL16,SQ8"]
    student = codec._pipeline.segments[0].forward(data64[:3])
    codes = codec.encode(data64)
    y = codec._pipeline.code.decode(codes)
    np.testing.assert_allclose(codec.score(data64[:3], codes), student @ y.T, rtol=1e-4, atol=1e-5)


def test_one_codec_shared_by_two_columns(data64):
    table = pa.table({"query_emb": pa.array(list(data64[:600]), pa.list_(pa.float32())),
                      "item_emb": pa.array(list(data64[600:]), pa.list_(pa.float32()))})
    codec = ec.fit("PCA32,SQ8", table, column=["query_emb", "item_emb"])
    assert codec.columns == ["query_emb", "item_emb"]
    assert ec.Codec.from_bytes(codec.to_bytes()).columns == ["query_emb", "item_emb"]
    assert codec.fit_stats["sample_rows"] == 1200
    with pytest.raises(ec.EmbeddingError, match="available columns: query_emb, item_emb"):
        ec.fit("SQ8", table, column="nope")


_LOAD_IN_CHILD = """
import sys, numpy as np, embcompress as ec
codec = ec.load(sys.argv[1])
x = np.load(sys.argv[2])
sys.stdout.buffer.write(codec.encode(x).tobytes())
"""


@pytest.mark.parametrize("spec", ["HASH96x2,SQ8", "PCA32,MP12", "DISTILL16,SQ8", "TOPK16", "PRUNE32_imp,SQ4"])
def test_fit_save_load_encode_in_a_fresh_process(spec, fitted, data64, tmp_path):
    path = tmp_path / "codec.ecz"
    fitted[spec].save(path)
    np.save(tmp_path / "x.npy", data64[:50])
    out = subprocess.run([sys.executable, "-c", _LOAD_IN_CHILD, str(path), str(tmp_path / "x.npy")],
                         capture_output=True, check=True).stdout
    assert out == fitted[spec].encode(data64[:50]).tobytes()
