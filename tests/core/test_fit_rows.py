"""ec.fit with default arguments trains on the rows faiss would: the trained state equals faiss's."""
import numpy as np
import pytest

import embcompress as ec
from embcompress import _faiss_backend as fb
from embcompress.spec import parse_spec

# faiss specs at d=16; every trainer here reads all 400 rows, so nothing may be held back from it
FAISS_SPECS = ["SQ8", "SQ4", "PCA8,SQ8", "PCAR8,SQ6", "RR16,SQ8", "PQ4x4", "OPQ2,PQ2x4", "RQ2x4", "LSQ2x4_i2_t3",
               "PRQ2x1x4", "RaBitQ"]


def _faiss_state(spec, x):
    index = fb.new_index(parse_spec(spec), x.shape[1], "ip")
    index.train(x)
    return fb.export_state(index)


@pytest.mark.parametrize("spec", FAISS_SPECS)
def test_default_fit_trains_like_faiss_on_the_whole_sample(make_low_rank, spec):
    x = make_low_rank(400, 16, seed=4)
    codec = ec.fit(spec, x)
    expected = _faiss_state(spec, x)
    assert expected, spec
    for name, arr in expected.items():
        np.testing.assert_allclose(codec.array("code." + name), arr, rtol=1e-5, atol=1e-6, err_msg=name)
    stats = codec.fit_stats
    assert stats["train_rows"] == 400 and not stats["in_sample"]
    assert stats["stats_from"] == "a separate fit without the held-back rows"


def test_rows_beyond_the_trainer_measure_the_statistics(make_low_rank):
    spec = "PQ2x4"  # k-means reads at most 256 rows per centroid: 4,096
    assert parse_spec(spec).max_training_rows(8) == 4096
    x = make_low_rank(4400, 8, seed=5)
    stats = ec.fit(spec, x).fit_stats
    assert stats["train_rows"] == 4096 and stats["holdout_rows"] == 304
    assert stats["stats_from"] == "held-back rows" and not stats["in_sample"]


@pytest.mark.parametrize("n, stats_from", [(65535, "a separate fit without the held-back rows"),
                                           (65536, "in-sample")])
def test_large_samples_measure_in_sample_without_a_second_fit(make_low_rank, n, stats_from):
    # SQ8's range reads every row; from 65,536 rows on the statistics come from the training rows
    stats = ec.fit("SQ8", make_low_rank(n, 8, seed=7)).fit_stats
    assert stats["train_rows"] == n and stats["stats_from"] == stats_from
    assert stats["in_sample"] == (stats_from == "in-sample")


@pytest.mark.parametrize("holdout, train_rows, stats_from", [(0, 400, "in-sample"), (0.1, 360, "held-back rows")])
def test_explicit_holdout_keeps_its_meaning(make_low_rank, holdout, train_rows, stats_from):
    stats = ec.fit("SQ8", make_low_rank(400, 16, seed=6), holdout=holdout).fit_stats
    assert stats["train_rows"] == train_rows and stats["stats_from"] == stats_from


@pytest.mark.parametrize("spec, cap", [("SQ8", None), ("PQ8", 65536), ("PCA16,PQ4", 65536), ("PCA16,PQ4x4", 32000),
                                       ("OPQ8,PQ8", 65536), ("RQ8x8", None), ("PCA16,SQ8", None), ("HASH64,PQ8", None),
                                       ("Flat", 0)])
def test_max_training_rows(spec, cap):
    assert parse_spec(spec).max_training_rows(32) == cap
