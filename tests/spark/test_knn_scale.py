"""knn_join keeps the corpus on the executors: it completes with a corpus 10x larger than the
driver may collect (``spark.driver.maxResultSize``), where collecting the corpus fails.

Runs in its own classic session (a subprocess), since a result-size limit is fixed when a
SparkContext starts.
"""
import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("pyspark")

SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    from pyspark.sql import SparkSession, functions as F
    import embcompress as ec
    from spark_udfs import knn_join

    spark = (SparkSession.builder.master("local[2]").config("spark.driver.maxResultSize", "1m")
             .config("spark.ui.enabled", "false").getOrCreate())
    spark.sparkContext.setLogLevel("OFF")
    rng = np.random.default_rng(0)
    codec = ec.fit("SQ8", rng.standard_normal((2000, 32)).astype(np.float32), seed=0)
    rows = 400_000  # 32-byte codes: 12.8 MB of corpus against a 1 MB result limit
    corpus = spark.range(rows, numPartitions=8).select(
        F.col("id").cast("string").alias("doc"), F.unhex(F.sha2(F.col("id").cast("string"), 256)).alias("code"))
    queries = spark.createDataFrame([(i, rng.standard_normal(32).tolist()) for i in range(5)],
                                    "id int, embedding array<float>")
    try:
        corpus.select("code").toPandas()
        print("COLLECTED")
    except Exception as exc:
        print("COLLECT REFUSED", type(exc).__name__)
    out = knn_join(queries, corpus, codec, query_col="embedding", code_col="code", k=10,
                   corpus_id_col="doc").collect()
    print("ROWS", len(out), len({r.query_id for r in out}))
""")


def test_corpus_larger_than_the_driver_limit(tmp_path):
    if os.environ.get("EMBCOMPRESS_SPARK") == "connect":
        pytest.skip("the result-size limit is set per SparkContext; the classic run covers the same code")
    env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable,
               PYTHONPATH=os.pathsep.join(p for p in (os.environ.get("PYTHONPATH"), os.getcwd()) if p))
    script = tmp_path / "knn_limit.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "COLLECT REFUSED" in done.stdout  # the corpus really is too big to collect here
    assert "ROWS 50 5" in done.stdout
