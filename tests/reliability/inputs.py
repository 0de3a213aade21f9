"""Seeded inputs for the catalogue: tables, codecs, bad Parquet files and bad artifacts."""
from __future__ import annotations

import hashlib
import pickle
import struct

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import embcompress as ec

from .cases import DIM

SPEC = "L2norm,SQ8"  # normalizes, so an all-zero vector is a bad row
GOOD_ROWS = 6
MARKER = "pickle_ran.txt"


def good_vectors(n=GOOD_ROWS, dim=DIM, seed=0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def fit_codec(dim=DIM) -> ec.Codec:
    return ec.fit(SPEC, good_vectors(64, dim, seed=1), holdout=0)


def table(vectors, value_type=None, start=0) -> pa.Table:
    """``id`` (int64) and ``embedding`` (list<value_type>, default float32) columns."""
    value_type = value_type or pa.float32()
    ids = pa.array(np.arange(start, start + len(vectors), dtype=np.int64))
    return pa.table({"id": ids, "embedding": pa.array(vectors, pa.list_(value_type))})


def rows_table(cases) -> pa.Table:
    """Good rows first, then one row per row case with that case's vector; ``case`` names each row."""
    good = [list(map(float, v)) for v in good_vectors()]
    vectors = good + [c.value for c in cases]
    t = table(vectors)
    return t.append_column("case", pa.array([""] * len(good) + [c.name for c in cases]))


def column_table(variant: str) -> pa.Table:
    x = good_vectors()
    if variant == "int":
        return table((np.round(x * 10).astype(np.int32) + np.eye(len(x), DIM, dtype=np.int32)).tolist(), pa.int32())
    if variant == "double":
        return table(x.astype(np.float64).tolist(), pa.float64())
    if variant == "string":
        return pa.table({"id": pa.array([0, 1], pa.int64()), "embedding": pa.array(["0.1,0.2", "x"])})
    if variant == "empty":
        return table([])
    if variant == "one_row":
        return table(x[:1].tolist())
    if variant == "all_null":
        return table([None, None, None])
    return table(x.tolist())  # dim16 and missing: ordinary 8-d rows


def code_table(codec, delta: int) -> pa.Table:
    """Three rows of ``code`` (binary): the middle one ``delta`` bytes off the codec's code size."""
    codes = [bytes(codec.code_size), bytes(codec.code_size + delta), bytes(codec.code_size)]
    return pa.table({"id": pa.array([0, 1, 2], pa.int64()), "code": pa.array(codes, pa.binary())})


def write_parquet(path, t: pa.Table, row_group=None):
    pq.write_table(t, path, row_group_size=row_group)
    return str(path)


def bad_parquet(path, variant: str, good: pa.Table) -> str:
    if variant == "truncated":
        write_parquet(path, good)
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(b"id,embedding\n0,\"[0.1, 0.2]\"\n")
    return str(path)


class _Trap:
    """Unpickling this would create the marker file: a loader that runs pickles is caught by it."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def bad_artifact(blob: bytes, variant: str, marker) -> bytes:
    if variant == "empty":
        return b""
    if variant == "truncated":
        return blob[: len(blob) // 2]
    if variant == "tampered":
        flipped = bytearray(blob)
        flipped[len(blob) // 2] ^= 0x01
        return bytes(flipped)
    if variant == "newer":
        content = bytearray(blob[:-32])
        struct.pack_into("<H", content, 8, 2)
        return bytes(content) + hashlib.sha256(content).digest()
    return pickle.dumps(_Trap(marker), protocol=4)
