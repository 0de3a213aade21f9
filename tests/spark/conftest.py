"""One SparkSession for the whole Spark suite, plus small real codecs fitted on the shipped demo table.

The master is ``local[2,3]``: two task threads, and up to three attempts per task, so the
retry test can fail a first attempt on purpose.
"""

import numpy as np
import pytest

pytest.importorskip("pyspark", reason="the Spark plugin needs pyspark (pip install -e '.[spark]')")

import embcompress as ec  # noqa: E402
from embcompress.datasets import load_demo, matrix  # noqa: E402
from tests.conftest import dataframe_from_arrow  # noqa: E402


@pytest.fixture(scope="session")
def spark(spark_session):
    return spark_session


@pytest.fixture(scope="session")
def demo_table():
    return load_demo()


@pytest.fixture(scope="session")
def demo_matrix(demo_table):
    return matrix(demo_table)


@pytest.fixture(scope="session")
def demo_df(spark, demo_table):
    """The 2,000-row demo table as a DataFrame (id, text, embedding array<float>, source), 4 partitions."""
    return dataframe_from_arrow(spark, demo_table).repartition(4, "id").cache()


@pytest.fixture(scope="session")
def codecs(demo_matrix):
    """Small, fast codecs fitted in plain Python on the demo vectors, by spec."""
    specs = ["SQ8", "PCA32,SQ8", "BIN", "PQ8x4"]
    return {s: ec.fit(s, demo_matrix, seed=0) for s in specs}


@pytest.fixture(scope="session")
def sq8(codecs):
    return codecs["SQ8"]


def vectors(df, column):
    """An array<float> column collected in row order as an (n, d) float32 matrix."""
    return np.asarray([np.asarray(v, dtype=np.float32) for v in df.select(column).toPandas()[column]])


def assert_codes_match(got, want):
    """Codes byte-identical to the core's: encoding is row-independent, whatever the batching."""
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
