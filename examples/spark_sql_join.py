"""Score a join in Spark SQL with the codec's UDFs: which stdlib docstrings are closest to some numpy ones?

    .venv/bin/python examples/spark_sql_join.py [--input PATH]

Uses the shipped 2,000-row demo table by default; nothing is written outside a temporary directory.
"""
import argparse
import os
import sys

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers use this interpreter

from pyspark.sql import SparkSession  # noqa: E402

from embcompress.datasets import DEMO_PATH  # noqa: E402
from spark_udfs import fit_codec, register_udfs  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", default=str(DEMO_PATH))
    args = ap.parse_args()
    spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    spark.read.parquet(args.input).createOrReplaceTempView("docs")

    codec = fit_codec(spark.table("docs"), "embedding", "SQ8")
    register_udfs(spark, codec, prefix="emb")  # emb_encode, emb_decode, emb_score, emb_sim

    # a compressed table: the code replaces the 1.5 KB float vector
    spark.sql("""CREATE OR REPLACE TEMP VIEW stdlib_codes AS
                 SELECT id, source, emb_encode(embedding) AS code FROM docs
                 WHERE id < 4593""")  # ids below 4,593 are Python standard library docstrings
    top = spark.sql("""
        SELECT query, match, round(score, 3) AS score, rank FROM (
            SELECT query, match, score, row_number() OVER (PARTITION BY query ORDER BY score DESC) AS rank
            FROM (SELECT q.source AS query, c.source AS match, emb_score(q.embedding, c.code) AS score
                  FROM docs q CROSS JOIN stdlib_codes c
                  WHERE q.source LIKE 'numpy.linalg.%'))
        WHERE rank <= 3
        ORDER BY query, rank""")
    top.show(30, truncate=60)
    spark.stop()


if __name__ == "__main__":
    main()
