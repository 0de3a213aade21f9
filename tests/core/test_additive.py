"""Additive quantizers (RQ, LSQ, PRQ, PLSQ) through the core: grammar, faiss parity, artifacts, determinism."""
import faiss
import numpy as np
import pytest

import embcompress as ec
from embcompress.spec import parse_spec

D = 16
SPECS = ["RQ4x5", "RQ4x5_b1", "RQ4x5_b8", "RQ4x5_p2_nopca", "LSQ4x4_i2_t3", "PRQ2x2x4_b2", "PRQ2x2x4_b2_p1",
         "PLSQ2x2x4_i2_t2", "PCA8,RQ4x5", "OPQ4,PRQ4x2x4_b1"]


@pytest.fixture(scope="module")
def data(make_low_rank):
    return make_low_rank(600, D, seed=8)


@pytest.fixture(scope="module")
def codecs(data):
    return {spec: ec.fit(spec, data[:400], holdout=0) for spec in SPECS}


@pytest.mark.parametrize("spec, args, factory", [
    ("RQ32x8", (32, 8, 5, 10, 1), "RQ32x8"), ("RQ32x8_b16", (32, 8, 16, 10, 1), "RQ32x8"),
    ("RQ32x8_p2", (32, 8, 5, 2, 1), "RQ32x8"), ("RQ32x8_b3_p4_nopca", (32, 8, 3, 4, 0), "RQ32x8"),
    ("LSQ16x8", (16, 8, 16, 25), "LSQ16x8"), ("LSQ16x8_i4_t10", (16, 8, 4, 10), "LSQ16x8"),
    ("PRQ2x16x8_b8", (16, 8, 8, 10, 1, 2), "PRQ2x16x8"),
    ("PRQ2x16x8_p3_nopca", (16, 8, 5, 3, 0, 2), "PRQ2x16x8"), ("PLSQ4x8x8_t3", (8, 8, 16, 3, 4), "PLSQ4x8x8"),
])
def test_grammar(spec, args, factory):
    parsed = parse_spec(spec)
    assert parsed.code.args == args and parsed.faiss_factory == factory


@pytest.mark.parametrize("spec, dim, match", [("PRQ3x2x8", 32, "divisible by its 3 splits"),
                                              ("RQ4x17", 32, "bits per codebook"), ("LSQ4x8_b3", 32, "unknown code"),
                                              ("RQ4x8_p0", 32, "outside 1"), ("RQ4x8_nopca_p2", 32, "unknown code"),
                                              ("RQ4x8_p2000", 32, "must be 1..1024")])
def test_grammar_rejects(spec, dim, match):
    with pytest.raises(ValueError, match=match):
        parse_spec(spec).check_dim(dim)


@pytest.mark.parametrize("spec, size", [("RQ4x5", 3), ("LSQ4x4_i2_t3", 2), ("PRQ2x2x4_b2", 2), ("PCA8,RQ4x5", 3),
                                        ("OPQ4,PRQ4x2x4_b1", 4)])
def test_code_size(codecs, spec, size):
    assert codecs[spec].code_size == size == ec.code_size(spec, D)


@pytest.mark.parametrize("spec", ["RQ4x5", "RQ4x5_b8", "RQ4x5_p2_nopca", "PRQ2x2x4_b2", "PRQ2x2x4_b2_p1"])
def test_codes_equal_faiss(codecs, data, spec):
    parsed = parse_spec(spec)
    index = faiss.index_factory(D, parsed.faiss_factory, faiss.METRIC_INNER_PRODUCT)
    inner = faiss.downcast_AdditiveQuantizer(index.aq)
    subs = [faiss.downcast_AdditiveQuantizer(inner.subquantizer(i)) for i in range(inner.nsplits)] \
        if isinstance(inner, faiss.ProductAdditiveQuantizer) else [inner]
    for q in subs:
        beam, steps, pca = parsed.code.args[2:5]
        q.max_beam_size, q.cp.progressive_dim_steps, q.cp.apply_pca = beam, steps, bool(pca)
    index.train(data[:400])
    assert np.array_equal(codecs[spec].encode(data), index.sa_encode(data))
    np.testing.assert_allclose(codecs[spec].decode(index.sa_encode(data)), index.sa_decode(index.sa_encode(data)),
                               atol=1e-5)


@pytest.mark.parametrize("spec", SPECS)
def test_artifact_round_trip_and_batch_independence(codecs, data, spec):
    codec = codecs[spec]
    codes = codec.encode(data)
    loaded = ec.Codec.from_bytes(codec.to_bytes())
    assert np.array_equal(loaded.encode(data), codes)
    assert np.array_equal(np.vstack([codec.encode(data[i: i + 7]) for i in range(0, 70, 7)]), codes[:70])
    assert np.array_equal(loaded.decode(codes), codec.decode(codes))


def test_larger_beam_reconstructs_better(codecs, data):
    mse = {s: float(np.mean((data[400:] - codecs[s].decode(codecs[s].encode(data[400:]))) ** 2))
           for s in ("RQ4x5_b1", "RQ4x5", "RQ4x5_b8")}
    assert mse["RQ4x5_b8"] <= mse["RQ4x5"] <= mse["RQ4x5_b1"]
    assert mse["RQ4x5_b8"] < mse["RQ4x5_b1"]


@pytest.mark.parametrize("spec", ["RQ4x5", "PRQ2x2x4_b2"])
def test_quality_beats_pq_at_equal_bytes(codecs, data, spec):
    pq = ec.fit("PQ4x5" if spec == "RQ4x5" else "PQ4x4", data[:400], holdout=0)  # same bytes
    truth, _ = ec.exact_search(data[400:500], data, 10, exclude=np.arange(400, 500))
    recall = {}
    for name, codec in ((spec, codecs[spec]), ("PQ", pq)):
        ids, _ = codec.search(data[400:500], codec.encode(data), k=10, exclude=np.arange(400, 500))
        recall[name] = ec.recall_at_k(ids, truth, 10)
    assert recall[spec] > 0.3 and recall[spec] >= recall["PQ"] - 0.1


def test_memory_estimate_counts_faiss_rq_cross_products_as_built():
    from embcompress import _layout as layout

    # faiss keeps each codebook's products with the earlier ones only: K^2 * M(M-1)/2 floats
    x = np.random.default_rng(0).standard_normal((600, 16)).astype(np.float32)
    index = faiss.index_factory(16, "RQ8x4")
    index.train(x)
    built = 4 * index.rq.codebook_cross_products.size()
    books = 8 * 8 * 16 * 16  # artifact view and faiss's copy of the codebooks, float32 each
    assert layout.memory_bytes(ec.parse_spec("RQ8x4"), 16) == 12 * 16 + books + built
    # so faiss's strongest string at 96 B fits the default ceiling at 384-d (it did not: 2.4 GB counted)
    assert layout.memory_bytes(ec.parse_spec("RQ96x8"), 384) < layout.DEFAULT_MAX_MEMORY


def test_opq_then_greedy_product_rq_equals_faiss(codecs, data):
    # recommend's fast 32 B candidate has this shape (OPQ{m},PRQ{m}x2x8_b1): faiss's codes, byte for byte
    index = faiss.index_factory(D, "OPQ4,PRQ4x2x4", faiss.METRIC_INNER_PRODUCT)
    prq = faiss.downcast_AdditiveQuantizer(faiss.downcast_index(index.index).aq)
    for i in range(prq.nsplits):
        faiss.downcast_AdditiveQuantizer(prq.subquantizer(i)).max_beam_size = 1
    from embcompress import _faiss_backend as fb

    with fb.quiet_opq_training(index):
        index.train(data[:400])
    assert np.array_equal(codecs["OPQ4,PRQ4x2x4_b1"].encode(data), index.sa_encode(data))
