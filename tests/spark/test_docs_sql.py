"""Every ``spark.sql(...)`` example in the README and docs/ runs as written, on whichever Spark
line and session kind this run uses, and gives the top k that knn_join gives."""
import re
from pathlib import Path

import numpy as np
import pytest
from pyspark.sql import functions as F

from spark_udfs import encode_column, knn_join, register_udfs

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SQL = re.compile(r'spark\.sql\("""(.*?)"""\)', re.S)


def examples():
    found = [(doc.relative_to(REPO).as_posix(), i, text) for doc in DOCS
             for i, text in enumerate(SQL.findall(doc.read_text()))]
    assert found, "no spark.sql examples found in the docs"
    return found


@pytest.fixture(scope="module")
def views(spark, demo_df, codecs):
    """The names the examples use: queries(id, embedding) and docs_compressed(id, embedding_code)."""
    codec = codecs["SQ8"]
    register_udfs(spark, codec, prefix="emb")
    corpus = encode_column(demo_df.select("id", "embedding"), codec, "embedding", "embedding_code",
                           drop_input=True)
    queries = demo_df.where("id % 400 = 0").select("id", "embedding")
    corpus.createOrReplaceTempView("docs_compressed")
    queries.createOrReplaceTempView("queries")
    top = knn_join(queries, corpus, codec, query_col="embedding", code_col="embedding_code", k=10).toPandas()
    return top


@pytest.mark.parametrize("doc, index, sql", examples(), ids=[f"{d}#{i}" for d, i, _ in examples()])
def test_sql_example_runs_as_written(spark, views, doc, index, sql):
    got = spark.sql(sql).toPandas()
    assert len(got) == len(views), f"{doc} example {index}"
    for qid, part in got.groupby("id"):
        want = views[views.query_id == qid].sort_values("rank")
        np.testing.assert_allclose(np.sort(part["score"].to_numpy())[::-1], want["score"].to_numpy(), rtol=1e-5)


def test_sql_udfs_take_spark_ml_vectors(spark, demo_df, codecs):
    """A VectorUDT column (dense or sparse) encodes and scores as its array<float> twin does."""
    from pyspark.ml.functions import array_to_vector
    from pyspark.ml.linalg import SparseVector, VectorUDT
    from pyspark.sql.types import LongType, StructField, StructType

    codec = codecs["SQ8"]
    udfs = register_udfs(spark, codec, prefix="vudt")
    df = demo_df.where("id % 50 = 0").select("id", "embedding", array_to_vector("embedding").alias("vec"))
    encode, score = udfs["vudt_encode"], udfs["vudt_score"]
    got = df.select("id", encode(F.col("vec")).alias("a"), encode(F.col("embedding")).alias("b"),
                    score(F.col("vec"), encode(F.col("embedding"))).alias("s"),
                    score(F.col("embedding"), encode(F.col("embedding"))).alias("t"))
    rows = got.toPandas()
    assert (rows["a"] == rows["b"]).all()
    np.testing.assert_allclose(rows["s"], rows["t"], rtol=1e-6)
    dim = codec.dim
    sparse = spark.createDataFrame([(1, SparseVector(dim, [0, 5], [0.5, -0.25])), (2, None)],
                                   StructType([StructField("id", LongType()), StructField("v", VectorUDT())]))
    sparse.createOrReplaceTempView("sparse_vectors")
    codes = spark.sql("SELECT id, vudt_encode(v) AS code FROM sparse_vectors ORDER BY id").collect()
    dense = np.zeros((1, dim), np.float32)
    dense[0, 0], dense[0, 5] = 0.5, -0.25
    assert bytes(codes[0].code) == bytes(codec.encode(dense)[0]) and codes[1].code is None
