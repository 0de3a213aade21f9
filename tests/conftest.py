"""Shared fixtures: seeded low-rank data, the shipped demo set, and the project's real dev set."""
import os
import sys

import numpy as np
import pytest

from embcompress import datasets
from tests.s3server import start_moto_server


def low_rank(n, d, rank=8, seed=0, normalize=True):
    """Seeded data with a decaying spectrum, like real embeddings (not isotropic noise)."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((rank, d)).astype(np.float32)
    weights = (rng.standard_normal((n, rank)) * (1.0 / np.arange(1, rank + 1))).astype(np.float32)
    x = weights @ basis + 0.05 * rng.standard_normal((n, d)).astype(np.float32)
    if normalize:
        x /= np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x, dtype=np.float32)


@pytest.fixture(scope="session")
def make_low_rank():
    """The ``low_rank`` data factory, for tests that need their own sizes."""
    return low_rank


@pytest.fixture(scope="session")
def data64():
    return low_rank(1200, 64, seed=1)


@pytest.fixture(scope="session")
def demo_matrix():
    return datasets.matrix(datasets.load_demo())


REQUIRE_DEV_DATA = "EMBCOMPRESS_REQUIRE_DEV_DATA"


def dev_data_dir():
    """``../shared/data``; where it is absent the test skips, or fails when $EMBCOMPRESS_REQUIRE_DEV_DATA=1
    (CI sets it: CI always has the shared data, so a skip there would hide a broken path)."""
    root = datasets.shared_data_dir()
    if root is None:
        message = "../shared/data (the project's real dev embeddings) is absent on this machine"
        if os.environ.get(REQUIRE_DEV_DATA) == "1":
            pytest.fail(f"{message}, and {REQUIRE_DEV_DATA}=1 requires it")
        pytest.skip(message)
    return root


@pytest.fixture(scope="session")
def dev_dir():
    return dev_data_dir()


@pytest.fixture(scope="session")
def shared_dev(dev_dir):
    return datasets.load_dev(dev_dir)


def dataframe_from_arrow(spark, table):
    """A Spark DataFrame of a small Arrow table, on every Spark line and whatever pandas is installed.

    Spark 4 takes the Arrow table itself. pyspark 3.5 cannot read pandas 3's frames, so its rows
    go in as Python values with the schema given, never inferred.
    """
    try:
        return spark.createDataFrame(table)
    except (TypeError, ValueError):  # pyspark 3.5: no Arrow tables
        from pyspark.sql.pandas.types import from_arrow_schema

        return spark.createDataFrame(table.to_pylist(), schema=from_arrow_schema(table.schema))


class Run:
    """Result of one in-process CLI call: exit code, stdout, stderr."""

    def __init__(self, code, out, err):
        self.code, self.out, self.err = code, out, err

    def __repr__(self):
        return f"Run(code={self.code}, out={self.out[-400:]!r}, err={self.err[-400:]!r})"


@pytest.fixture
def cli(capsys):
    def run(*argv):
        from embcompress.cli import main

        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)
    return run


def publish_race(root, codecs, name: str = "items") -> list:
    """Publish each codec to ``Registry(root)`` from its own thread, all released at once;
    ``[(version, fingerprint)]``. A thread's exception fails the caller."""
    import threading

    from embcompress.registry import Registry

    results, errors, start = [], [], threading.Barrier(len(codecs))

    def publish(codec):
        start.wait()
        try:
            results.append((Registry(root).publish(name, codec), codec.fingerprint))
        except Exception as exc:  # surfaced below: a thread's exception would otherwise only warn
            errors.append(exc)

    threads = [threading.Thread(target=publish, args=(c,)) for c in codecs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return results


SPARK_MODES = ("classic", "connect")


def spark_mode() -> str:
    """Which session the Spark tests use: ``EMBCOMPRESS_SPARK=classic`` (default) or ``connect``."""
    mode = os.environ.get("EMBCOMPRESS_SPARK", "classic")
    if mode not in SPARK_MODES:
        raise ValueError(f"EMBCOMPRESS_SPARK must be one of {SPARK_MODES}, got {mode!r}")
    return mode


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory):
    """The one SparkSession of the whole run, shared by every suite that needs Spark.

    Classic: ``local[2,3]``, two task threads and up to three attempts per task, so retry
    tests can fail a first attempt on purpose. Connect (``EMBCOMPRESS_SPARK=connect``): a
    local Spark Connect server that pyspark starts, ``remote("local[2,3]")``. One session for
    all suites also means no suite inherits another's differently configured session.
    """
    pytest.importorskip("pyspark", reason="the Spark tests need pyspark (pip install -e '.[spark]')")
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    if spark_mode() == "connect":
        pytest.importorskip("grpc", reason="Spark Connect needs pyspark's connect extra (pip install -e '.[connect]')")
        builder = builder.remote("local[2,3]")
    else:
        builder = builder.master("local[2,3]")
    builder = (builder.appName("embcompress-tests").config("spark.sql.shuffle.partitions", "4")
               # Spark 4's default (3.5's is off): the fixtures build DataFrames from pandas with arrays
               .config("spark.sql.execution.arrow.pyspark.enabled", "true"))
    if spark_mode() == "classic":  # settings of the JVM itself: a Connect client cannot change them
        builder = (builder.config("spark.default.parallelism", "4").config("spark.ui.enabled", "false")
                   .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("warehouse")))
                   .config("spark.driver.memory", "2g"))
    session = builder.getOrCreate()
    if spark_mode() == "classic":
        session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def s3_server():
    """A real S3-compatible HTTP server (moto's standalone server, in its own process) on
    127.0.0.1 and a free port, for the whole run: ``http://127.0.0.1:PORT``. Skips where moto
    is not installed."""
    pytest.importorskip("moto.server", reason="the object-store tests need moto's S3 server "
                        "(pip install -e '.[test]', which brings moto[server])")
    proc, url = start_moto_server()
    yield url
    proc.terminate()
    proc.wait(timeout=30)


S3_TEST_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


@pytest.fixture
def s3_bucket(s3_server, monkeypatch, request):
    """``s3://<fresh bucket>`` on the loopback server, with the environment a user would set
    (credentials, region, ``AWS_ENDPOINT_URL``) for this test only; no real AWS config is read."""
    import uuid

    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    for name, value in S3_TEST_ENV.items():
        monkeypatch.setenv(name, value)
    missing = str(request.config.rootpath / "tests" / "no-such-aws-config")
    monkeypatch.setenv("AWS_CONFIG_FILE", missing)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", missing)
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    import boto3

    bucket = f"ec-{uuid.uuid4().hex[:20]}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(Bucket=bucket)
    return f"s3://{bucket}"


@pytest.fixture
def spark_s3(spark_session, s3_bucket, monkeypatch):
    """The SparkSession with this test's loopback S3 environment for its Python workers too: they
    take their variables from ``SparkContext.environment`` (classic sessions), not from the
    driver's os.environ. A Spark Connect server's workers cannot be given it: skipped there."""
    if spark_mode() != "classic":
        pytest.skip("a Spark Connect server's Python workers do not take the client's environment, so they "
                    "cannot reach the loopback S3 server (the JVM here has no S3A connector either)")
    env = spark_session.sparkContext.environment
    for name in ("AWS_ENDPOINT_URL", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", *S3_TEST_ENV):
        monkeypatch.setitem(env, name, os.environ[name])
    return spark_session


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    """A root folder on each store the same behaviour must hold on: a local directory, then a
    fresh bucket on the loopback S3 server (``s3://bucket/root``)."""
    if request.param == "local":
        return str(tmp_path)
    return request.getfixturevalue("s3_bucket") + "/root"
