"""spark_udfs.compress_parquet(engine="auto"): the pyarrow engine where pyarrow can open the
input (a local folder, the loopback S3 bucket), Spark's engine otherwise (a glob, partition_by)."""
import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

pytest.importorskip("pyspark", reason="compress_parquet needs pyspark (pip install -e '.[spark]')")

import embcompress as ec  # noqa: E402
from embcompress import storage  # noqa: E402
from spark_udfs.parquet import choose_engine, compress_parquet  # noqa: E402
from tests.conftest import S3_TEST_ENV, spark_mode  # noqa: E402

DIM = 32


def write_input(root, x):
    for i, part in enumerate(("day=1", "day=2")):
        rows = x[i * 150:(i + 1) * 150]
        table = pa.table({"id": pa.array(np.arange(i * 150, i * 150 + len(rows), dtype=np.int64)),
                          "embedding": pa.array(list(rows), type=pa.list_(pa.float32()))})
        out = storage.AtomicOutput(storage.join(root, "in", part, "a.parquet"))
        pq.write_table(table, out.stream, row_group_size=50)
        out.commit()
    return storage.join(root, "in")


def read_dir(path):
    fs, inner = storage.resolve(path)
    return pads.dataset(inner, filesystem=fs, format="parquet", partitioning="hive").to_table().sort_by("id")


def data_files(path):
    return [p.rsplit("/", 1)[1] for p in storage.list_parquet(path)]


def test_choose_engine(store, make_low_rank):
    src = write_input(store, make_low_rank(300, DIM))
    assert choose_engine(src) == "pyarrow"
    assert choose_engine(src.replace("s3://", "s3a://")) == "pyarrow"  # the same bucket
    assert choose_engine(src + "/day=*") == "spark"  # a glob: only Spark's reader expands it
    assert choose_engine(storage.join(store, "missing")) == "spark"  # Spark's read reports it in its words
    assert choose_engine(src, partition_by=["id"]) == "spark"
    assert choose_engine(src, "spark") == "spark" and choose_engine(src + "/day=*", "pyarrow") == "pyarrow"


@pytest.fixture
def spark_env(spark_session, s3_server, monkeypatch):
    """The loopback S3 environment for the Python workers too: they take their variables from
    ``SparkContext.environment`` (classic sessions), not from the driver's os.environ."""
    if spark_mode() != "classic":
        pytest.skip("a Spark Connect server's workers do not take the client's environment")
    env = spark_session.sparkContext.environment
    for name, value in dict(S3_TEST_ENV, AWS_ENDPOINT_URL=s3_server).items():
        monkeypatch.setitem(env, name, value)
    return spark_session


def test_auto_runs_the_pyarrow_engine_on_s3_with_no_spark_read(spark_env, s3_bucket, make_low_rank):
    x = make_low_rank(300, DIM, seed=5)
    codec = ec.fit("SQ8", x)
    src, out = write_input(s3_bucket, x), f"{s3_bucket}/out"
    # the JVM here has no S3A connector: only the pyarrow engine can read this input
    compress_parquet(spark_env, src.replace("s3://", "s3a://"), out, "embedding", codec)
    got = read_dir(out)
    assert got["id"].to_pylist() == list(range(300))
    want = codec.encode(x)
    codes = np.stack([np.frombuffer(c, np.uint8) for c in got["embedding_code"].to_pylist()])
    np.testing.assert_array_equal(codes, want)
    assert all("c000" not in name for name in data_files(out))  # the row-group engine's file names
    assert ec.Codec.from_bytes(storage.read_bytes(f"{out}/_embcompress.ecz")).fingerprint == codec.fingerprint


def test_auto_falls_back_to_spark_for_a_glob(spark_session, tmp_path, make_low_rank):
    x = make_low_rank(300, DIM, seed=6)
    codec = ec.fit("SQ8", x)
    src = write_input(str(tmp_path), x)
    out = str(tmp_path / "out")
    compress_parquet(spark_session, src + "/day=*", out, "embedding", codec)
    assert read_dir(out).num_rows == 300
    assert all("c000" in name for name in data_files(out))  # written by Spark's DataFrameWriter
