"""One small partitioned table, written by every writer of every engine (once per run).

The input is 240 rows of the shipped demo table (real 384-d embeddings) in two Hive
partitions; the codec is fitted on 1,000 other demo rows. The nightly jobs fit their own
codec (first night, version 1), which the readers get from the job's registry.
"""
from __future__ import annotations

import contextlib
import glob
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import embcompress as ec
from embcompress.cli import main as cli_main
from embcompress.datasets import load_demo, matrix

ROWS_PER_PARTITION = 120
PARTITIONS = ("2024-01-01", "2024-01-02")
SPEC = "PCA32,SQ8"


@dataclass
class Written:
    """What a writer left: its data files, the codec that wrote them, the code column."""

    files: list
    codec: ec.Codec
    code_column: str
    codec_path: str
    nightly_root: str | None = None  # the nightly output, for the nightly readers


@dataclass
class Shared:
    root: Path
    table: Path  # features/date=.../part-00000.parquet
    vectors: dict  # id -> float32 vector
    codec: ec.Codec
    codec_path: str


def data_files(folder) -> list:
    """The Parquet data files under ``folder`` (Spark, Hive and pyarrow skip ``_``/``.`` paths)."""
    found = glob.glob(os.path.join(str(folder), "**", "*.parquet"), recursive=True)
    return sorted(f for f in found if not any(part.startswith(("_", "."))
                                              for part in os.path.relpath(f, folder).split(os.sep)))


def run_cli(*argv) -> str:
    """The CLI in this process; its stdout. A non-zero exit fails the calling test with the output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli_main([str(a) for a in argv])
    assert code == 0, f"embcompress {' '.join(map(str, argv))} exited {code}: {err.getvalue()}"
    return out.getvalue()


@pytest.fixture(scope="session")
def shared(tmp_path_factory) -> Shared:
    root = tmp_path_factory.mktemp("interop")
    demo = load_demo()
    x = matrix(demo)
    ids = np.asarray(demo["id"])
    codec = ec.fit(SPEC, x[1000:2000], seed=0)
    codec_path = str(codec.save(root / "codec.ecz"))
    vectors = {}
    for p, value in enumerate(PARTITIONS):
        rows = slice(p * ROWS_PER_PARTITION, (p + 1) * ROWS_PER_PARTITION)
        folder = root / "features" / f"date={value}"
        folder.mkdir(parents=True)
        part = pa.table({"id": pa.array(ids[rows], pa.int64()),
                         "embedding": pa.array(list(x[rows]), pa.list_(pa.float32())),
                         "clicks": pa.array(np.arange(ROWS_PER_PARTITION, dtype=np.int32))})
        pq.write_table(part, folder / "part-00000.parquet", row_group_size=50)
        vectors.update(zip(ids[rows].tolist(), x[rows]))
    return Shared(root, root / "features", vectors, codec, codec_path)


@pytest.fixture(scope="session")
def spark(spark_session):
    return spark_session
