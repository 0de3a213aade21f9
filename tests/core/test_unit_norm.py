"""UNIT: same codes as the spec without it on unit-norm data, unit-norm reconstructions, better ranking."""
import numpy as np
import pytest

import embcompress as ec


@pytest.mark.parametrize("spec", ["PCA8,SQ4", "PQ4x4", "RQ2x5"])
def test_unit_keeps_the_codes_and_puts_reconstructions_on_the_sphere(make_low_rank, spec):
    x = make_low_rank(500, 16, seed=11)
    plain, unit = ec.fit(spec, x[:300], holdout=0), ec.fit("UNIT," + spec, x[:300], holdout=0)
    assert unit.code_size == plain.code_size
    codes = unit.encode(x)
    assert (codes == plain.encode(x)).all(axis=1).mean() > 0.98  # float64 renormalization may move a boundary
    recon = unit.decode(codes)
    np.testing.assert_allclose(np.linalg.norm(recon, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(recon, plain.decode(codes) / np.linalg.norm(plain.decode(codes), axis=1)[:, None],
                               atol=1e-5)


def test_unit_improves_ranking_of_a_coarse_code(make_low_rank):
    x = make_low_rank(1200, 32, rank=16, seed=12)
    queries = np.arange(800, 1000)
    truth, _ = ec.exact_search(x[queries], x, 10, exclude=queries)
    recall = {}
    for spec in ("PCA8,SQ4", "UNIT,PCA8,SQ4"):
        codec = ec.fit(spec, x[:800], holdout=0)
        ids, _ = codec.search(x[queries], codec.encode(x), k=10, exclude=queries)
        recall[spec] = ec.recall_at_k(ids, truth, 10)
    assert recall["UNIT,PCA8,SQ4"] > recall["PCA8,SQ4"]


def test_unit_is_in_the_grammar():
    parsed = ec.parse_spec("UNIT,OPQ32,PQ32")
    assert parsed.transforms[0].kind == "UNIT" and parsed.output_dim(384) == 384
    assert parsed.max_training_rows(384) == 65536 and "UNIT" in ec.GRAMMAR
