"""Scoring and top-k search against a brute-force reference, in blocks, with rescoring and Hamming."""
import numpy as np
import pytest

import embcompress as ec
from embcompress import _scoring as scoring

from ..topk import assert_same_topk


@pytest.fixture(scope="module", params=["ip", "l2"])
def setup(request, data64):
    codec = ec.fit("PCA32,SQ8", data64, metric=request.param)
    return codec, codec.encode(data64), data64[:40]


def _brute(queries, recon, metric):
    if metric == "ip":
        return queries @ recon.T
    return -((queries[:, None, :] - recon[None, :, :]) ** 2).sum(-1)


def test_score_is_similarity_to_the_reconstruction(setup):
    codec, codes, queries = setup
    expected = _brute(queries, codec.decode(codes), codec.metric)
    np.testing.assert_allclose(codec.score(queries, codes), expected, rtol=1e-4, atol=1e-4)


def test_search_matches_brute_force_top_k(setup):
    codec, codes, queries = setup
    ids, sims = codec.search(queries, codes, k=7)
    expected = _brute(queries, codec.decode(codes), codec.metric)
    for q in range(len(queries)):
        np.testing.assert_allclose(sims[q], np.sort(expected[q])[::-1][:7], rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(expected[q, ids[q]], sims[q], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("db_block, query_block", [(7, 3), (100, 1000), (5000, 1)])
def test_blocked_search_equals_unblocked(db_block, query_block, data64):
    q, x = data64[:13], data64
    ref_s, ref_i = scoring.blocked_topk(q, len(x), 5, lambda a, b: x[a:b], "ip")
    s, i = scoring.blocked_topk(q, len(x), 5, lambda a, b: x[a:b], "ip", db_block=db_block, query_block=query_block)
    assert_same_topk(i, s, ref_i, ref_s, what=f"blocks {db_block}x{query_block} against one block")


def test_ties_go_to_the_smaller_id():
    x = np.ones((6, 4), np.float32)
    s, i = scoring.blocked_topk(np.ones((1, 4), np.float32), 6, 3, lambda a, b: x[a:b], "ip", db_block=2)
    assert i.tolist() == [[0, 1, 2]]


def test_exclude_and_k_larger_than_n(data64):
    codec = ec.fit("SQ8", data64)
    codes = codec.encode(data64[:5])
    ids, sims = codec.search(data64[:2], codes, k=8, exclude=[0, 1])
    assert 0 not in ids[0] and 1 not in ids[1]
    assert (ids[:, 4:] == -1).all() and np.isneginf(sims[:, 4:]).all()


def test_rescore_reranks_with_the_originals(data64):
    codec = ec.fit("PQ8x4", data64)
    codes = codec.encode(data64)
    q = data64[:50]
    exact, _ = ec.exact_search(q, data64, 10)
    plain, _ = codec.search(q, codes, k=10)
    rescored, sims = codec.search(q, codes, k=10, rescore=(data64, 4))
    assert ec.recall_at_k(rescored, exact, 10) > ec.recall_at_k(plain, exact, 10)
    np.testing.assert_allclose(sims, np.einsum("qd,qkd->qk", q, data64[rescored]), rtol=1e-5)


def test_hamming_mode_counts_differing_bits(data64):
    codec = ec.fit("BIN", data64)
    codes = codec.encode(data64)
    q = data64[:9]
    bits_q = np.unpackbits(codec.encode(q), axis=1)
    bits_x = np.unpackbits(codes, axis=1)
    expected = -(bits_q[:, None, :] != bits_x[None, :, :]).sum(-1)
    np.testing.assert_array_equal(codec.score(q, codes, mode="hamming"), expected)
    ids, sims = codec.search(q, codes, k=5, mode="hamming")
    np.testing.assert_array_equal(sims, np.sort(expected, axis=1)[:, ::-1][:, :5])


def test_hamming_needs_a_binary_code(data64):
    codec = ec.fit("SQ8", data64)
    with pytest.raises(ValueError, match="mode='hamming' needs a binary code"):
        codec.score(data64[:2], codec.encode(data64[:3]), mode="hamming")


def test_bin_asymmetric_ranks_like_plus_minus_one(data64):
    codec = ec.fit("BIN", data64)
    codes = codec.encode(data64)
    pm = np.where(np.unpackbits(codes, axis=1, bitorder="little")[:, :64] > 0, 1.0, -1.0).astype(np.float32)
    ids, _ = codec.search(data64[:20], codes, k=10)
    _, ref = scoring.blocked_topk(data64[:20], len(pm), 10, lambda a, b: pm[a:b], "ip")
    np.testing.assert_array_equal(ids, ref)


def test_bad_k(data64):
    codec = ec.fit("SQ8", data64)
    with pytest.raises(ValueError, match="k must be a positive integer"):
        codec.search(data64[:1], codec.encode(data64[:3]), k=0)


def test_evaluate_reports_the_documented_keys(data64):
    codec = ec.fit("SQ8", data64)
    report = ec.evaluate(codec, data64, k=10, rescore_factor=2)
    assert {"recall_at_k", "mse", "bytes_per_vector", "compression_ratio", "encode_rows_per_s"} <= set(report)
    assert report["bytes_per_vector"] == 64 and report["compression_ratio"] == 4.0
    assert report["recall_at_k"] > 0.9 and report["recall_at_k_rescored"] >= report["recall_at_k"]


@pytest.mark.parametrize("metric", ["ip", "l2"])
@pytest.mark.parametrize("db_block", [7, 5000])
def test_exact_search_never_returns_an_excluded_row(metric, db_block, demo_matrix):
    """Queries taken from the database with their own rows excluded (how evaluate and recommend
    score self-queries), against numpy's top-k with those rows masked by hand."""
    x, rows = demo_matrix[:600], np.arange(0, 600, 37)
    exclude = rows.copy()
    exclude[::2] = (rows[::2] + 1) % 600  # some queries exclude another row than their own
    sims, ids = scoring.blocked_topk(x[rows], len(x), 10, lambda a, b: x[a:b], metric, exclude=exclude,
                                     db_block=db_block)
    ref = _brute(x[rows], x, metric)
    ref[np.arange(len(rows)), exclude] = -np.inf
    want = np.argsort(-ref, axis=1, kind="stable")[:, :10]
    assert_same_topk(ids, sims, want, np.take_along_axis(ref, want, axis=1), atol=1e-5,
                     what="exact search with exclusions")
    assert not (ids == exclude[:, None]).any()
