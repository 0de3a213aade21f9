"""`evaluate`'s figures against an independent computation: faiss's own codec and numpy exact search.

Real data (the shipped 2,000 MiniLM rows). The held-back queries must be in neither the fit
sample nor the searched database; recall@k and MSE must equal what faiss's index_factory
codec, trained on the same sample, gives with a plain numpy search.
"""
import re

import faiss
import numpy as np
import pytest

from embcompress import recommend
from embcompress.datasets import DEMO_PATH, load_demo, matrix

QUERIES, SAMPLE, SEED = 200, 1000, 0


@pytest.fixture(scope="module")
def bench():
    return recommend.Bench(matrix(load_demo()), queries=QUERIES, sample=SAMPLE, seed=SEED)


def rows_of(m: np.ndarray) -> set:
    return {r.tobytes() for r in m}


def independent(bench, spec: str) -> dict:
    """recall@{1,10,100} and MSE of faiss's codec for ``spec``, searched with numpy."""
    index = faiss.index_factory(bench.dim, spec, faiss.METRIC_INNER_PRODUCT)
    index.train(bench.sample)
    recon = index.sa_decode(index.sa_encode(bench.database))
    truth = np.argsort(-(bench.queries @ bench.database.T), axis=1, kind="stable")
    found = np.argsort(-(bench.queries @ recon.T), axis=1, kind="stable")
    out = {f"recall@{k}": np.mean([len(set(f[:k]) & set(t[:k])) / k for f, t in zip(found, truth)])
           for k in (1, 10, 100)}
    out["mse"] = float(np.mean(np.sum((bench.database - recon) ** 2, axis=1)))
    out["bytes"] = index.sa_code_size()
    return out


def test_held_back_queries_are_neither_fitted_on_nor_searched(bench):
    assert len(bench.queries) == QUERIES and len(bench.sample) == SAMPLE
    queries = rows_of(bench.queries)
    assert not queries & rows_of(bench.database)
    assert not queries & rows_of(bench.sample)
    assert rows_of(bench.sample) <= rows_of(bench.database)


@pytest.mark.parametrize("spec", ["SQ8", "SQ4", "PQ8x4"])
def test_figures_equal_faiss_and_numpy(bench, spec):
    got, want = bench.measure(spec), independent(bench, spec)
    assert got["bytes"] == want["bytes"]
    for k in (1, 10, 100):  # a coarse code has exact score ties: allow two of them to rank apart
        assert got[f"recall@{k}"] == pytest.approx(want[f"recall@{k}"], abs=2 / (QUERIES * k) + 1e-12), k
    assert got["mse"] == pytest.approx(want["mse"], rel=1e-4)


def test_the_cli_prints_those_figures(cli, bench):
    run = cli("evaluate", DEMO_PATH, "--column", "embedding", "--specs", "SQ4", "--queries", QUERIES,
              "--sample", SAMPLE, "--seed", SEED)
    assert run.code == 0, run
    line = next(line for line in run.out.splitlines() if line.startswith("SQ4 "))
    numbers = re.findall(r"\d+\.\d+", line)
    want = independent(bench, "SQ4")
    assert [float(v) for v in numbers[:3]] == [round(want[k], 3) for k in ("recall@1", "recall@10", "recall@100")]
