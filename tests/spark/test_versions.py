"""One package on every supported Spark line: the installed pyspark is kept, features that need
a newer line say so when called, and Spark 4.2's nearestByJoin takes ``emb_score``."""
import os

import numpy as np
import pytest

import spark_udfs
from spark_udfs import _session, encode_column, knn_join, register_udfs


def test_the_spark_extra_kept_the_installed_pyspark():
    """``make test-spark35`` installs pyspark 3.5 first, then ``.[spark]``: it must still be 3.5."""
    import pyspark

    expected = os.environ.get("EMBCOMPRESS_EXPECT_PYSPARK")
    if expected is None:
        pytest.skip("EMBCOMPRESS_EXPECT_PYSPARK is set only by the runs that pin a Spark line")
    assert pyspark.__version__.startswith(expected + ".")
    assert spark_udfs.__all__  # and the package imported on it


def test_the_supported_range_is_stated_once():
    assert _session.MIN_SPARK == (3, 5)
    assert _session.pyspark_version() >= _session.MIN_SPARK
    _session.check_supported()


def test_a_newer_feature_fails_when_called_with_the_version_it_needs(monkeypatch):
    monkeypatch.setattr(_session, "pyspark_version", lambda: (3, 5))
    with pytest.raises(RuntimeError, match=r"needs pyspark 4\.2 or newer; this is pyspark"):
        _session.require("nearestByJoin", (4, 2))


def test_session_kind_is_detected(spark):
    assert _session.is_connect(spark) == (os.environ.get("EMBCOMPRESS_SPARK") == "connect")
    assert _session.parallelism(spark) >= 1


def test_nearest_by_join_ranks_with_emb_score(spark, demo_df, demo_table, demo_matrix, codecs):
    """Spark 4.2+: ``emb_score`` as the ranking expression gives the core's top k."""
    if not hasattr(demo_df, "nearestByJoin"):
        pytest.skip(f"DataFrame.nearestByJoin is new in Spark 4.2; this is {spark.version}")
    from pyspark.sql import functions as F

    codec = codecs["SQ8"]
    udfs = register_udfs(spark, codec, prefix="nbj")
    corpus = encode_column(demo_df, codec, "embedding", "code").select(F.col("id").alias("cid"), "code")
    queries = demo_df.where("id % 250 = 0").select(F.col("id").alias("qid"), "embedding")
    got = (queries.nearestByJoin(corpus, udfs["nbj_score"](F.col("embedding"), F.col("code")), 5, "exact",
                                 "similarity")
           .select("qid", "cid", udfs["nbj_score"](F.col("embedding"), F.col("code")).alias("score")).toPandas())
    ours = knn_join(queries, corpus, codec, query_col="embedding", code_col="code", k=5, query_id_col="qid",
                    corpus_id_col="cid").toPandas()
    for qid, part in got.groupby("qid"):
        mine = ours[ours.query_id == qid].sort_values("rank")
        np.testing.assert_allclose(np.sort(part["score"].to_numpy())[::-1], mine["score"].to_numpy(), rtol=1e-5)
        # ids compare where scores do not tie (nearestByJoin leaves tie order unspecified)
        assert set(part["cid"]) == set(mine["corpus_id"]) or np.unique(mine["score"]).size < 5
