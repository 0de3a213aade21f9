"""Fixtures for the Beam suite: the shipped demo table, small fast codecs, pipeline helpers.

Codecs are fitted once per session on the 2,000-row demo set with specs that train in
well under a second here (faiss PQ8x8 or PQ48 would take many seconds).
"""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("apache_beam", reason="apache-beam is not installed (pip install 'embcompress[beam]')")

import embcompress as ec  # noqa: E402
from embcompress import datasets  # noqa: E402


SPECS = ["SQ8", "PCA32,SQ8", "BIN", "PQ8x4"]
_CODECS = {}


@pytest.fixture(scope="session")
def demo_table():
    """The first 800 rows of the shipped demo table (keeps each pipeline to a second or two)."""
    return datasets.load_demo().slice(0, 800)


@pytest.fixture(scope="session")
def demo_x(demo_table):
    return datasets.matrix(demo_table)


@pytest.fixture(scope="session")
def demo_path(demo_table, tmp_path_factory):
    """The demo rows as a Parquet file of four 200-row row groups. Pipelines read it rather
    than ``beam.Create`` the tables, which would pickle and bz2 the vectors into the graph."""
    return write_parquet(demo_table, tmp_path_factory.mktemp("demo") / "demo.parquet")


def write_parquet(table, path, row_group_size=200):
    pq.write_table(table, path, row_group_size=row_group_size)
    return str(path)


def fitted(spec, x):
    """A codec fitted (once per session) on the first 600 demo rows: enough, and fast."""
    if spec not in _CODECS:
        _CODECS[spec] = ec.fit(spec, x[:600], seed=0)
    return _CODECS[spec]


@pytest.fixture(scope="session")
def sq8(demo_x):
    return fitted("SQ8", demo_x)


@pytest.fixture(scope="session", params=SPECS)
def codec(request, demo_x):
    return fitted(request.param, demo_x)


def row_groups(table, size=200):
    """The table as separate tables of ``size`` rows, like ReadFromParquetBatched yields them."""
    return [table.slice(start, size) for start in range(0, table.num_rows, size)]


def with_vectors(table, values, column="embedding"):
    """``table`` with ``column`` replaced by ``values`` (a list of Python lists / None)."""
    return table.set_column(table.column_names.index(column), column, pa.array(values, type=pa.list_(pa.float32())))


@pytest.fixture
def bad_table(demo_table):
    """Twelve rows: rows 2, 5, 7 hold NaN, Inf and a wrong length; row 9 is null."""
    t = demo_table.slice(0, 12)
    values = t["embedding"].to_pylist()
    values[2] = [float("nan")] + values[2][1:]
    values[5] = values[5][:-1] + [float("inf")]
    values[7] = values[7][:10]
    values[9] = None
    return with_vectors(t, values)


def id_code_pairs(table, column="embedding_code"):
    return list(zip(table["id"].to_pylist(), table[column].to_pylist()))


def expected_pairs(table, codes):
    return [(i, None if c is None else bytes(c)) for i, c in zip(table["id"].to_pylist(), codes)]


def counters(result, namespace="embcompress") -> dict:
    """Committed counter values of a finished pipeline, by name."""
    from apache_beam.metrics.metric import MetricsFilter

    query = result.metrics().query(MetricsFilter().with_namespace(namespace))
    totals = {}
    for c in query["counters"]:
        totals[c.key.metric.name] = totals.get(c.key.metric.name, 0) + c.committed
    return totals


def core_codes(codec, x):
    return [row.tobytes() for row in codec.encode(np.asarray(x, dtype=np.float32))]
