"""Add embedding compression to an existing Spark Parquet ETL job: four added lines (marked +).

    .venv/bin/python examples/spark_etl_step.py [--input PATH] [--output DIR] [--spec PCA128,SQ8]

Reads the shipped 2,000-row demo table by default and writes to a temporary directory.
"""
import argparse
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # workers use this interpreter

from pyspark.sql import SparkSession, functions as F  # noqa: E402

import embcompress as ec  # noqa: E402
from embcompress.datasets import DEMO_PATH  # noqa: E402
from spark_udfs import encode_column, fit_codec  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--input", default=str(DEMO_PATH))
    ap.add_argument("--output", default=None)
    ap.add_argument("--spec", default="PCA128,SQ8")
    args = ap.parse_args()
    out = args.output or os.path.join(tempfile.mkdtemp(prefix="embcompress_etl_"), "docs")
    spark = SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false").getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")

    # the existing job: read, clean, enrich
    df = spark.read.parquet(args.input)
    df = df.where(F.length("text") > 20).withColumn("package", F.split("source", r"\.")[0])

    codec = fit_codec(df, "embedding", args.spec, sample_size=100_000)  # + fit on a sample
    df = encode_column(df, codec, "embedding", "embedding_code", drop_input=True)  # + encode
    df.write.mode("overwrite").parquet(out)
    codec.save(os.path.join(out, "_embcompress.ecz"), overwrite=True)  # + keep the codec with the data

    back = spark.read.parquet(out)
    raw = os.path.getsize(args.input)
    size = sum(f.stat().st_size for f in Path(out).glob("*.parquet"))
    print(f"{back.count()} rows written to {out}, columns {back.columns}")
    print(f"codec {codec.spec}: {codec.code_size} bytes per vector instead of {4 * codec.dim}; "
          f"Parquet {raw / 1e6:.2f} MB -> {size / 1e6:.2f} MB")
    # anyone can decode later in plain Python, without Spark:
    plain = ec.load(os.path.join(out, "_embcompress.ecz"))
    first = back.select("embedding_code").first()[0]
    print("decoded first row, first values:", plain.decode(bytearray(first))[0][:4])
    spark.stop()


if __name__ == "__main__":
    main()
