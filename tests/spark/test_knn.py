"""knn_join: equal to the core's search on the same data, whatever the corpus partitioning;
ids of any type; stable ties; recall on the real dev set; the corpus never reaches the driver."""
import numpy as np
import pytest

import embcompress as ec
from embcompress.datasets import load_dev
from spark_udfs import encode_column, knn_join

from ..topk import assert_same_topk


def sorted_demo(demo_table, demo_matrix):
    ids = demo_table["id"].to_numpy()
    order = np.argsort(ids)
    return ids[order], demo_matrix[order]


@pytest.mark.parametrize("spec,rescore", [("SQ8", False), ("PQ8x4", True), ("BIN", True)])
def test_knn_join_equals_core_search(demo_df, demo_table, demo_matrix, codecs, spec, rescore):
    """Without rescoring the top k is the core's on any partitioning. With it, each partition
    re-ranks its own candidates (more than the core's in all), so one partition in id order
    (the core's row order, for the same ties among 4-byte codes) is compared."""
    codec = codecs[spec]
    corpus = encode_column(demo_df, codec, "embedding", "code")
    corpus = corpus.coalesce(1).sortWithinPartitions("id") if rescore else corpus
    queries = demo_df.where("id % 40 = 0")
    out = knn_join(queries, corpus, codec, query_col="embedding", code_col="code", k=7,
                   rescore_col="embedding" if rescore else None, rescore_factor=4).toPandas()
    ids, x = sorted_demo(demo_table, demo_matrix)
    q = np.flatnonzero(ids % 40 == 0)
    want_rows, want_sims = codec.search(x[q], codec.encode(x), k=7, rescore=(x, 4) if rescore else None)
    out = out.sort_values(["query_id", "rank"])
    assert out["rank"].tolist() == list(range(1, 8)) * len(q)
    assert out["query_id"].tolist() == np.repeat(ids[q], 7).tolist()
    assert_same_topk(out["corpus_id"].to_numpy().reshape(len(q), 7), out["score"].to_numpy().reshape(len(q), 7),
                     ids[want_rows], want_sims, what="knn_join against Codec.search")


def test_k_larger_than_corpus_and_null_codes(spark, demo_matrix, sq8):
    corpus = spark.createDataFrame([(1, bytes(sq8.encode(demo_matrix[0])[0])), (2, None)], "id long, code binary")
    queries = spark.createDataFrame([(5, demo_matrix[0].tolist())], "id int, embedding array<float>")
    rows = knn_join(queries, corpus, sq8, query_col="embedding", code_col="code", k=3).collect()
    assert [(r.query_id, r.corpus_id, r.rank) for r in rows] == [(5, 1, 1)]


def test_bad_arguments(demo_df, sq8):
    corpus = encode_column(demo_df, sq8, "embedding", "code")
    with pytest.raises(ValueError, match="k must be a positive integer"):
        knn_join(demo_df, corpus, sq8, query_col="embedding", code_col="code", k=0)
    with pytest.raises(KeyError, match="column 'nope' not found"):
        knn_join(demo_df, corpus, sq8, query_col="embedding", code_col="code", query_id_col="nope")
    with pytest.raises(TypeError, match="expected binary codes"):
        knn_join(demo_df, corpus, sq8, query_col="embedding", code_col="embedding")


@pytest.mark.parametrize("id_type", ["string", "long", "date"])
def test_ids_of_any_type_and_stable_ties(spark, demo_matrix, sq8, id_type):
    """Three corpus rows share one code: the tie goes to the smaller ids, in every partitioning."""
    code = bytes(sq8.encode(demo_matrix[0])[0])
    other = bytes(sq8.encode(demo_matrix[1])[0])
    make = {"string": lambda i: f"doc-{i}", "long": lambda i: i,
            "date": lambda i: __import__("datetime").date(2020, 1, i)}
    rows = [(make[id_type](i), code if i in (3, 5, 7) else other) for i in range(1, 9)]
    corpus = spark.createDataFrame(rows, f"cid {id_type}, code binary")
    queries = spark.createDataFrame([("q", demo_matrix[0].tolist())], "qid string, embedding array<float>")
    got = [knn_join(queries, corpus.repartition(n), sq8, query_col="embedding", code_col="code", k=2,
                    query_id_col="qid", corpus_id_col="cid").orderBy("rank").collect() for n in (1, 3)]
    for out in got:
        assert [(r.query_id, r.corpus_id, r.rank) for r in out] == [("q", make[id_type](3), 1),
                                                                    ("q", make[id_type](5), 2)]


def test_recall_on_dev_data_with_rescoring(spark, dev_dir):
    data = dev_dir
    ids, x, query_ids, truth = load_dev(data)
    codec = ec.fit("SQ4", x[:5000], seed=0)  # quick to fit; the PQ48 figure is in benchmarks/bench_spark.py
    dev = spark.read.parquet(str(data / "dev_docstrings_minilm384.parquet")).select("id", "embedding")
    corpus = encode_column(dev, codec, "embedding", "code")
    queries = dev.where(dev.id.isin([int(q) for q in query_ids]))
    out = knn_join(queries, corpus, codec, query_col="embedding", code_col="code", k=11, rescore_col="embedding",
                   rescore_factor=4).toPandas()
    out = out[out.query_id != out.corpus_id].sort_values(["query_id", "rank"])  # drop each query's own row
    top = out.groupby("query_id")["corpus_id"].apply(lambda s: s.to_numpy()[:10])
    got = np.stack(top.loc[query_ids].to_numpy())
    assert ec.recall_at_k(got, truth, 10) >= 0.95


@pytest.mark.parametrize("partitions", [1, 7])
def test_partitioning_does_not_change_the_top_k(demo_df, sq8, partitions):
    """Ids compare exactly and scores within float tolerance: partitions merge in another order."""
    corpus = encode_column(demo_df, sq8, "embedding", "code")
    queries = demo_df.where("id % 100 = 0")
    args = dict(query_col="embedding", code_col="code", k=5)
    whole = knn_join(queries, corpus.coalesce(1), sq8, **args).orderBy("query_id", "rank").toPandas()
    split = knn_join(queries, corpus.repartition(partitions), sq8, **args).orderBy("query_id", "rank").toPandas()
    columns = ["query_id", "corpus_id", "rank"]
    assert split[columns].values.tolist() == whole[columns].values.tolist()
    np.testing.assert_allclose(split["score"], whole["score"], rtol=1e-5, atol=1e-6)
