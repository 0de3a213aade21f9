"""The leak-free protocol: fit rows never hold a query, and codes-only recall equals faiss's own decode."""
import faiss
import numpy as np
import pytest

import embcompress as ec
from embcompress import protocol


@pytest.mark.parametrize("limit", [None, 5, 50])
def test_fit_rows_never_hold_a_query(limit):
    queries = np.array([0, 3, 4, 17, 99])
    rows = protocol.fit_rows(100, queries, limit)
    assert not np.isin(rows, queries).any()
    assert len(rows) == (95 if limit is None else min(limit, 95))
    assert np.all(np.diff(rows) > 0) and rows[0] == 1


@pytest.mark.parametrize("seed", [0, 7])
def test_split_queries_partitions_the_rows(seed):
    q, rest = protocol.split_queries(200, 30, seed)
    assert len(q) == 30 and len(rest) == 170
    assert np.array_equal(np.sort(np.concatenate([q, rest])), np.arange(200))
    again, _ = protocol.split_queries(200, 30, np.random.default_rng(seed))
    assert np.array_equal(q, again)


def test_dev_protocol_measures_codes_like_faiss_decode(make_low_rank):
    x = make_low_rank(1500, 32, seed=3)
    ids = np.arange(len(x)) + 1000
    query_ids = ids[::15]
    rows = np.searchsorted(ids, query_ids)
    truth, _ = ec.exact_search(x[rows], x, 10, exclude=rows)
    dev = protocol.DevProtocol.from_dev(ids, x, query_ids, truth, fit_limit=800)
    assert len(dev.fit_sample) == 800
    assert not any((dev.fit_sample == x[r]).all(axis=1).any() for r in rows)
    codec = ec.fit("PCA16,SQ8", dev.fit_sample, holdout=0)
    index = faiss.index_factory(32, "PCA16,SQ8", faiss.METRIC_INNER_PRODUCT)
    index.train(dev.fit_sample)
    row = dev.measure(codec)
    assert row["bytes"] == 16 and row["encode_rows_per_s"] > 0
    assert row["recall@10"] == pytest.approx(dev.recall_of_reconstruction(index.sa_decode(index.sa_encode(x))),
                                             abs=0.02)


def test_protocol_from_any_parquet_pair(tmp_path, make_low_rank):
    import pyarrow as pa
    import pyarrow.parquet as pq

    x = make_low_rank(300, 16, seed=5)
    ids = np.arange(300, dtype=np.int64)
    query_rows = np.arange(0, 300, 10)
    truth, _ = ec.exact_search(x[query_rows], x, 5, exclude=query_rows)
    pq.write_table(pa.table({"id": ids, "embedding": pa.array(list(x), pa.list_(pa.float32()))}),
                   tmp_path / "set.parquet")
    pq.write_table(pa.table({"query_id": ids[query_rows], "neighbors": pa.array(list(truth.astype(np.int64)))}),
                   tmp_path / "gt.parquet")
    dev = protocol.DevProtocol.from_files(tmp_path / "set.parquet", tmp_path / "gt.parquet", fit_limit=None)
    assert np.array_equal(dev.query_rows, query_rows) and np.array_equal(dev.truth, truth)
    assert len(dev.fit_sample) == 270 and np.allclose(dev.x, x)
    pq.write_table(pa.table({"id": ids[::-1], "embedding": pa.array(list(x), pa.list_(pa.float32()))}),
                   tmp_path / "bad.parquet")
    with pytest.raises(ValueError, match="ascending"):
        protocol.DevProtocol.from_files(tmp_path / "bad.parquet", tmp_path / "gt.parquet")
