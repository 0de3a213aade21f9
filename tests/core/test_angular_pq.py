"""APQ: faiss's PQ codebooks, codes chosen for the angle; checked against faiss and numpy on real rows."""
import faiss
import numpy as np
import pytest

import embcompress as ec
from embcompress.datasets import load_demo, matrix


@pytest.fixture(scope="module")
def rows():
    """Real MiniLM rows from the shipped demo table, their first 48 dims renormalized (quick fits):
    1,000 to fit on, 500 unseen."""
    x = matrix(load_demo())[:, :48]
    x = np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)
    return x[:1000], x[1000:1500]


def _unit(v):
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@pytest.mark.parametrize("m", [8, 24])
def test_codebooks_are_faiss_pq_trained_on_the_same_rows(rows, m):
    fit, _ = rows
    codec = ec.fit(f"APQ{m}", fit, holdout=0)
    index = faiss.index_factory(fit.shape[1], f"PQ{m}x8np", faiss.METRIC_INNER_PRODUCT)
    index.train(fit)
    np.testing.assert_array_equal(codec.array("code.centroids"), faiss.vector_to_array(index.pq.centroids))
    assert codec.code_size == m


@pytest.mark.parametrize("spec", ["APQ16", "OPQ8,APQ8"])
def test_no_row_is_further_in_angle_than_plain_pq_puts_it(rows, spec):
    fit, unseen = rows
    codec = ec.fit(spec, fit, holdout=0)
    # the same trained state, decoded with faiss's own Euclidean codes, renormalized
    pq_spec = spec.replace("APQ", "PQ") + "x8"
    plain = ec.fit("UNIT," + pq_spec, fit, holdout=0)
    ours = np.einsum("ij,ij->i", _unit(unseen), codec.decode(codec.encode(unseen)))
    theirs = np.einsum("ij,ij->i", _unit(unseen), plain.decode(plain.encode(unseen)))
    assert (ours >= theirs - 1e-5).all()
    assert ours.mean() > theirs.mean() + 1e-4  # the passes move codes, not only keep them
    assert (np.abs(np.linalg.norm(codec.decode(codec.encode(unseen)), axis=1) - 1) < 1e-5).all()


def test_a_row_gets_the_same_code_alone_and_in_any_batch(rows):
    fit, unseen = rows
    codec = ec.fit("APQ24", fit, holdout=0)
    whole = codec.encode(unseen)
    for size in (1, 7, 256, 300):
        parts = np.concatenate([codec.encode(unseen[i:i + size]) for i in range(0, len(unseen), size)])
        np.testing.assert_array_equal(parts, whole)


def test_artifact_round_trip_keeps_codes(rows, tmp_path):
    fit, unseen = rows
    codec = ec.fit("APQ8", fit, holdout=0)
    codec.save(tmp_path / "apq.ecz")
    loaded = ec.load(tmp_path / "apq.ecz")
    np.testing.assert_array_equal(loaded.encode(unseen), codec.encode(unseen))


@pytest.mark.parametrize("spec, dim, problem", [("APQ5", 16, "divisible by 5"), ("APQ4", 16, "at least 256 rows")])
def test_refused_with_the_reason(spec, dim, problem):
    x = np.random.default_rng(0).standard_normal((100, dim)).astype(np.float32)
    with pytest.raises(ValueError, match=problem):
        ec.fit(spec, x)
