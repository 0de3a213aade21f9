"""Small Parquet files and codecs for CLI tests, and a helper that runs ``main(argv)`` in-process."""
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import embcompress as ec

DIM = 64
ROWS = 1500
ROW_GROUP = 100  # 15 row groups: encode must stream them in order


def low_rank(n, d, rank=8, seed=0):
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((rank, d)).astype(np.float32)
    weights = (rng.standard_normal((n, rank)) / np.arange(1, rank + 1)).astype(np.float32)
    x = weights @ basis + 0.05 * rng.standard_normal((n, d)).astype(np.float32)
    return np.ascontiguousarray(x / np.linalg.norm(x, axis=1, keepdims=True), dtype=np.float32)


def write_table(path, x, *, row_group=ROW_GROUP, ids=None):
    """id, text, embedding (list<float>) and score columns, in ``row_group``-row groups."""
    n = len(x)
    ids = np.arange(n, dtype=np.int64) if ids is None else ids
    table = pa.table({
        "id": pa.array(ids),
        "text": pa.array([f"row {i}" for i in ids]),
        "embedding": pa.array(list(x), type=pa.list_(pa.float32())),
        "score": pa.array(np.linspace(0, 1, n)),
    })
    pq.write_table(table, path, row_group_size=row_group)
    return path




@pytest.fixture(scope="session")
def make_table():
    """``make_table(path, x)`` writes vectors ``x`` as a test table (ids 0..n-1)."""
    return write_table


@pytest.fixture(scope="session")
def data64():
    return low_rank(ROWS, DIM, seed=3)


@pytest.fixture(scope="session")
def table64(tmp_path_factory, data64):
    return write_table(tmp_path_factory.mktemp("data") / "vectors64.parquet", data64)


@pytest.fixture(scope="session")
def codec64(tmp_path_factory, data64):
    """An SQ8 codec for 64-d vectors, saved to disk."""
    path = tmp_path_factory.mktemp("codec") / "sq8.ecz"
    ec.fit("SQ8", data64, seed=0).save(path)
    return path
