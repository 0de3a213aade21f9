"""Real embedding data: the demo set shipped in the package, and the project's dev set when present."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from .arrow import vectors_from_arrow
from ._validation import raise_on_invalid

DEMO_PATH = Path(__file__).parent / "data" / "docstrings_minilm384_2k.parquet"
DEV_FILE = "dev_docstrings_minilm384.parquet"
DEV_GT_FILE = "dev_gt_top100.parquet"


def matrix(table, column: str = "embedding") -> np.ndarray:
    """A list<float> column of equal-length rows as an (n, d) float32 matrix."""
    batch = vectors_from_arrow(table[column], column=column)
    raise_on_invalid(batch.invalid, batch.reasons, column=column)
    return batch.matrix


def load_demo():
    """The shipped 2,000-row demo table (see ``embcompress/data/README.md``)."""
    return pq.read_table(DEMO_PATH)


def shared_data_dir(start=None) -> Path | None:
    """``../shared/data`` next to the repository root, or $EMBCOMPRESS_SHARED_DATA; None if absent."""
    env = os.environ.get("EMBCOMPRESS_SHARED_DATA")
    if env:
        return Path(env) if (Path(env) / DEV_FILE).exists() else None
    here = Path(start or __file__).resolve()
    for parent in here.parents:
        candidate = parent.parent / "shared" / "data"
        if (parent / "pyproject.toml").exists() and (candidate / DEV_FILE).exists():
            return candidate
    return None


def load_dev(data_dir: Path):
    """The dev set as ``(ids, vectors, query_ids, ground_truth)``, ids aligned with rows."""
    return load_pair(data_dir / DEV_FILE, data_dir / DEV_GT_FILE)


def load_pair(parquet, gt_parquet, column: str = "embedding"):
    """Any set laid out like the dev set, as ``(ids, vectors, query_ids, ground_truth)``.

    ``parquet`` holds ``id`` (int64, ascending) and a list<float> ``column``; ``gt_parquet``
    holds ``query_id`` and ``neighbors`` (the exact top-k ids of each query, self excluded).
    """
    table = pq.read_table(parquet, columns=["id", column])
    gt = pq.read_table(gt_parquet)
    ids = table["id"].to_numpy()
    if len(ids) > 1 and not np.all(np.diff(ids) > 0):
        raise ValueError(f"{parquet}: ids must be strictly ascending")
    x = matrix(table, column)
    query_ids = gt["query_id"].to_numpy()
    truth = np.asarray(gt["neighbors"].combine_chunks().flatten()).reshape(len(gt), -1)
    return ids, x, query_ids, truth
