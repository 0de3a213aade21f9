"""Retrieval quality on real embeddings: ours equals faiss in the same run, and clears a floor.

The shipped demo set (2,000 rows) always runs; the project's dev set (a 6,000-row subset,
kept fast) runs when ../shared/data is present.
"""
import faiss
import numpy as np
import pytest

import embcompress as ec

# spec -> recall@10 floor on real 384-d MiniLM embeddings (faiss reaches these comfortably)
FLOORS = {"SQfp16": 0.99, "SQ8": 0.97, "SQ4": 0.85, "PCA128,SQ8": 0.7, "PQ48x4": 0.45, "BIN": 0.6}
K = 10


def _real(request, demo_matrix):
    if request.param == "demo":
        x = demo_matrix
        return x, x[:1500], np.arange(0, 2000, 10)
    _, x, _, _ = request.getfixturevalue("shared_dev")
    return x[:6000], x[:3000], np.arange(0, 6000, 30)


@pytest.fixture(scope="module", params=["demo", "dev"])
def real(request, demo_matrix):
    data, train, query_rows = _real(request, demo_matrix)
    truth, _ = ec.exact_search(data[query_rows], data, K, exclude=query_rows)
    return data, train, query_rows, truth


def _faiss_recall(spec, data, train, query_rows, truth):
    """faiss's own pipeline: index_factory, train, sa_encode, sa_decode, float query . reconstruction."""
    if spec == "BIN":
        index = faiss.IndexLSH(data.shape[1], data.shape[1], False, False)
        recon = np.where(np.unpackbits(index.sa_encode(data), axis=1, bitorder="little") > 0, 1, -1)
        recon = recon.astype(np.float32)
    else:
        index = faiss.index_factory(data.shape[1], spec, faiss.METRIC_INNER_PRODUCT)
        index.train(train)
        recon = index.sa_decode(index.sa_encode(data))
    ids, _ = ec.exact_search(data[query_rows], recon, K, exclude=query_rows)
    return ec.recall_at_k(ids, truth, K)


@pytest.mark.parametrize("spec", list(FLOORS))
def test_recall_matches_faiss_and_clears_the_floor(spec, real):
    data, train, query_rows, truth = real
    codec = ec.fit(spec, train, holdout=0)
    ids, _ = codec.search(data[query_rows], codec.encode(data), k=K, exclude=query_rows)
    ours = ec.recall_at_k(ids, truth, K)
    assert abs(ours - _faiss_recall(spec, data, train, query_rows, truth)) <= 0.01
    assert ours >= FLOORS[spec]


def test_bin_rescoring_recovers_recall(real):
    data, train, query_rows, truth = real
    codec = ec.fit("BIN", train)
    codes = codec.encode(data)
    plain, _ = codec.search(data[query_rows], codes, k=K, exclude=query_rows)
    hamming, _ = codec.search(data[query_rows], codes, k=K, exclude=query_rows, mode="hamming")
    rescored, _ = codec.search(data[query_rows], codes, k=K, exclude=query_rows, rescore=(data, 4))
    r_plain, r_ham, r_res = (ec.recall_at_k(i, truth, K) for i in (plain, hamming, rescored))
    assert r_ham < r_plain < r_res and r_res >= 0.95
