"""The three-night scenario on a small partitioned table, run by any engine (local, Spark, Beam).

Rows are a seeded permutation of the shipped 2,000-row demo table (real 384-d embeddings):
three partitions of 200 rows per night. Night 3's vectors are rotated by a random orthogonal
matrix, the drift the job must notice. One SparkSession serves the whole suite (``local[2]``).
"""
import json
import os
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from embcompress import nightly, storage
from embcompress.datasets import load_demo, matrix

REPO = str(Path(__file__).resolve().parents[2])
if REPO not in sys.path:
    sys.path.append(REPO)

ROWS = 200
NIGHTS = {1: ["2024-01-01", "2024-01-02", "2024-01-03"],
          2: ["2024-01-04", "2024-01-05", "2024-01-06"],
          3: ["2024-01-07", "2024-01-08", "2024-01-09"]}
ENGINES = ["local", "spark", "beam"]
SPEC = "PCA32,SQ8"  # SQ8 alone has a noisy fit-time MSE on 600 rows (ratios up to 1.5x between halves)


def rotation(d, seed=0):
    return np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))[0].astype(np.float32)


class Scenario:
    """Writes each night's partitions (id, embedding, a feature) under ``root/features``."""

    def __init__(self, root):
        self.root = Path(root)
        self.table = self.root / "features"
        self.output = self.root / "features_compressed"
        self.registry = self.root / "codecs"
        x = matrix(load_demo())
        self.order = np.random.default_rng(7).permutation(len(x))
        self.x = x
        self.rows = {}  # partition value -> (ids, vectors)

    def vectors(self, night, i):
        start = ((night - 1) * 3 + i) * ROWS
        ids = self.order[start:start + ROWS]
        x = self.x[ids]
        if night == 3:
            x = x @ rotation(x.shape[1])
        return ids.astype(np.int64), np.ascontiguousarray(x, dtype=np.float32)

    def add_night(self, night):
        for i, value in enumerate(NIGHTS[night]):
            ids, x = self.vectors(night, i)
            vectors = pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), x.shape[1])
            table = pa.table({"id": ids, "embedding": vectors, "clicks": pa.array(ids % 17, pa.int32())})
            self.write_partition(value, table)
            self.rows[value] = (ids, x)

    def write_partition(self, value, table):
        folder = self.table / f"date={value}"
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, folder / "part-00000.parquet", row_group_size=100)


class StoreScenario(Scenario):
    """The same nights with the input table, output and registry under a URI (``s3://bucket/run``),
    written and read through pyarrow's filesystems; ``table`` may name another scenario's input."""

    def __init__(self, root, table=None):
        super().__init__(REPO)  # the demo rows and their order; nothing is written locally
        self.root = str(root).rstrip("/")
        self.table = table or f"{self.root}/features"
        self.output = f"{self.root}/features_compressed"
        self.registry = f"{self.root}/codecs"

    def write_partition(self, value, table):
        fs, inner = storage.resolve(f"{self.table}/date={value}/part-00000.parquet")
        pq.write_table(table, inner, filesystem=fs, row_group_size=100)


def scenario_at(root):
    """The scenario under ``root``: a local folder, or a URI (the loopback S3 bucket)."""
    return StoreScenario(root) if "://" in str(root) else Scenario(root)


def run(engine, spark, scenario, **kwargs):
    """One night with ``engine``; returns the run summary it wrote."""
    args = {"spec": SPEC, "partition_col": "date", "sample_size": 2000, "output_path": str(scenario.output)}
    args.update(kwargs)
    table, registry = str(scenario.table), str(scenario.registry)
    if engine == "local":
        return nightly.recompress_local(table, "embedding", registry, "items", **args)
    if engine == "spark":
        from spark_udfs import recompress

        return recompress(spark, table, "embedding", registry, "items", **args)
    import apache_beam as beam

    from beam_transforms import Recompress

    transform = Recompress(table, "embedding", registry, "items", **args)
    with beam.Pipeline() as p:
        p | transform
    return json.loads(storage.read_bytes(transform.summary_path))


def snapshot_files(output, *, log=True):
    """``{relative path: (bytes, mtime_ns)}`` of every table file (run summaries left out, and the
    Delta log too unless ``log``: its commits carry timestamps)."""
    out = {}
    for folder, _, names in os.walk(output):
        for n in names:
            path = os.path.join(folder, n)
            rel = os.path.relpath(path, output)
            if not rel.startswith(nightly.RUNS) and (log or not rel.startswith(nightly.DELTA_LOG)):
                with open(path, "rb") as f:
                    out[rel] = (f.read(), os.stat(path).st_mtime_ns)
    return out


@pytest.fixture(scope="session", autouse=True)
def one_faiss_thread():
    """One OpenMP thread in this process: on a busy 2-core machine spinning threads make fits 10x slower."""
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="session")
def spark(spark_session):
    return spark_session


@pytest.fixture
def engine_spark(request):
    """The SparkSession when the test's engine is Spark, else None (no JVM for local/Beam tests)."""
    engine = request.getfixturevalue("engine")
    if engine == "beam":
        pytest.importorskip("apache_beam", reason="the Beam engine needs apache-beam")
    return request.getfixturevalue("spark") if engine == "spark" else None
