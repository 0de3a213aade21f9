"""Moments: merge and remove rows exactly, travel as bytes, and fit faiss's PCA without the rows."""
import faiss
import numpy as np
import pytest

import embcompress as ec
from embcompress.errors import EmbeddingError
from embcompress._moments import KMEANS_SUBSAMPLE_ROWS, RANGE_SUBSAMPLE_ROWS, Moments, subsample_rows


def _close(a: Moments, b: Moments):
    assert a.count == b.count
    np.testing.assert_allclose(a.mean, b.mean, rtol=0, atol=1e-9)
    np.testing.assert_allclose(a.scatter, b.scatter, rtol=0, atol=1e-4 * np.abs(b.scatter).max())


@pytest.mark.parametrize("cuts", [(0,), (1,), (600,), (1199,), (100, 700, 701)])
def test_merged_parts_equal_the_whole(data64, cuts):
    parts = [Moments.of(p) for p in np.split(data64, cuts)]
    merged = parts[0]
    for p in parts[1:]:
        merged = merged + p
    _close(merged, Moments.of(data64))


@pytest.mark.parametrize("removed", [slice(0, 1), slice(0, 300), slice(1000, 1200)])
def test_removing_rows_leaves_the_moments_of_the_rest(data64, removed):
    rest = np.delete(data64, np.arange(1200)[removed], axis=0)
    _close(Moments.of(data64) - Moments.of(data64[removed]), Moments.of(rest))


def test_centring_keeps_precision_far_from_the_origin(data64):
    shifted = data64 + 1000.0  # an uncentred float32 sum would lose every digit here
    np.testing.assert_allclose(Moments.of(shifted).scatter, Moments.of(data64).scatter, rtol=0, atol=0.05)


def test_bytes_round_trip_and_refuse_bad_blobs(data64):
    m = Moments.of(data64)
    back = Moments.from_bytes(m.to_bytes())
    assert back.count == m.count and back.mean.tobytes() == m.mean.tobytes()
    assert back.scatter.tobytes() == m.scatter.tobytes()
    for blob in (b"", m.to_bytes()[:-8], m.to_bytes() + b"\0" * 8,
                 np.array([-1, 2], "<i8").tobytes() + b"\0" * 48):
        with pytest.raises(ValueError, match="moments blob"):
            Moments.from_bytes(blob)


def test_different_dimensions_do_not_merge(data64):
    with pytest.raises(EmbeddingError, match="vectors of 64 and of 32 values"):
        Moments.of(data64) + Moments.of(data64[:, :32])


@pytest.mark.parametrize("power", [0.0, -0.5])
def test_pca_equals_faiss_pca_matrix(demo_matrix, power):
    """Same rows, same transform as faiss's PCAMatrix (PCA and whitened PCAW), up to each row's sign."""
    vt = faiss.PCAMatrix(384, 32, power)
    vt.train(demo_matrix)
    a_faiss = faiss.vector_to_array(vt.A).reshape(32, 384)
    b_faiss = faiss.vector_to_array(vt.b)
    a, b = (Moments.of(demo_matrix[:700]) + Moments.of(demo_matrix[700:])).pca(32, power)
    sign = np.sign((a * a_faiss).sum(axis=1))
    scale = np.abs(a_faiss).max()
    np.testing.assert_allclose(a, a_faiss * sign[:, None], atol=1e-3 * scale)
    np.testing.assert_allclose(b, b_faiss * sign, atol=1e-3 * scale)
    assert np.all(a[np.arange(32), np.abs(a).argmax(axis=1)] > 0)  # signs fixed: same matrix on any LAPACK


def test_pca_needs_rows_and_a_valid_size(data64):
    with pytest.raises(EmbeddingError, match="at least 2 rows"):
        Moments.of(data64[:1]).pca(8)
    with pytest.raises(ValueError, match="PCA to 65 dimensions needs 1..64"):
        Moments.of(data64).pca(65)


def _recall(codec, data, query_rows, truth):
    ids, _ = codec.search(data[query_rows], codec.encode(data), k=10, exclude=query_rows)
    return ec.recall_at_k(ids, truth, 10)


@pytest.fixture(scope="module", params=["demo", "dev"])
def real(request, demo_matrix):
    if request.param == "demo":
        data, train = demo_matrix, demo_matrix[:1500]
    else:
        _, x, _, _ = request.getfixturevalue("shared_dev")
        data, train = x[:6000], x[:4000]
    query_rows = np.arange(0, len(data), 20)
    truth, _ = ec.exact_search(data[query_rows], data, 10, exclude=query_rows)
    return data, train, query_rows, truth


@pytest.mark.parametrize("spec", ["PCA128,SQ8", "PCAW64,SQ8", "PCA64,SQ4"])
def test_fit_from_moments_and_a_subsample_keeps_recall(real, spec):
    """The PCA from moments of every training row, the quantizer from a fifth of them: faiss's recall."""
    data, train, query_rows, truth = real
    full = ec.fit(spec, train, holdout=0)
    subsample = train[np.sort(np.random.default_rng(0).choice(len(train), len(train) // 5, replace=False))]
    codec = ec.fit(spec, subsample, holdout=0, moments=Moments.of(train))
    assert codec.fit_stats["moments_rows"] == len(train) and codec.fit_stats["sample_rows"] == len(subsample)
    assert abs(_recall(codec, data, query_rows, truth) - _recall(full, data, query_rows, truth)) <= 0.02
    back = ec.Codec.from_bytes(codec.to_bytes())
    assert back.encode(data[:50]).tobytes() == codec.encode(data[:50]).tobytes()


def test_held_out_rows_are_taken_out_of_the_moments(data64):
    """With the same rows, moments give the PCA the core fits from the rows themselves."""
    by_rows = ec.fit("PCA16,SQ8", data64, holdout=0.1)
    by_moments = ec.fit("PCA16,SQ8", data64, holdout=0.1, moments=Moments.of(data64))
    assert by_moments.fit_stats["moments_rows"] == by_rows.fit_stats["train_rows"]
    x = data64[:100]
    np.testing.assert_allclose(by_moments.decode(by_moments.encode(x)), by_rows.decode(by_rows.encode(x)),
                               atol=0.02)


@pytest.mark.parametrize("spec, match", [
    ("SQ8", "does not start with PCA or PCAW"),
    ("PCAR16,SQ8", "does not start with PCA or PCAW"),
    ("RR64,PCA16,SQ8", "does not start with PCA or PCAW"),
])
def test_moments_fit_only_a_leading_pca(data64, spec, match):
    with pytest.raises(ValueError, match=match):
        ec.fit(spec, data64, moments=Moments.of(data64))


def test_moments_must_match_the_sample(data64):
    with pytest.raises(EmbeddingError, match="moments of 32-d vectors do not match the 64-d sample"):
        ec.fit("PCA16,SQ8", data64, moments=Moments.of(data64[:, :32]))
    poisoned = Moments.of(np.where(np.arange(64) == 3, np.nan, data64).astype(np.float32))
    with pytest.raises(EmbeddingError, match="NaN or Inf"):
        ec.fit("PCA16,SQ8", data64, moments=poisoned)


@pytest.mark.parametrize("spec, rows", [
    ("PCA128,SQ8", RANGE_SUBSAMPLE_ROWS), ("PCAW64,SQ4", RANGE_SUBSAMPLE_ROWS),
    ("PCA64,RR64,SQfp16", RANGE_SUBSAMPLE_ROWS),
    ("PCA128,PQ16", KMEANS_SUBSAMPLE_ROWS), ("PCA128,ITQ,BIN", KMEANS_SUBSAMPLE_ROWS), ("PCA128,PQ16x10", None),
    ("PCA128,RQ4x12", None), ("PCA128,PQ16x4", KMEANS_SUBSAMPLE_ROWS),
    ("PCAR128,SQ8", None), ("SQ8", None), ("OPQ16,PQ16", None),
])
def test_subsample_rows_by_spec(spec, rows):
    assert subsample_rows(spec) == rows


def test_numpy_scalars_are_valid_arguments(data64):
    codec = ec.fit("PCA16,SQ8", data64, seed=np.int64(2), holdout=np.float32(0.1), moments=Moments.of(data64))
    assert codec.fit_stats["holdout_rows"] == 120
