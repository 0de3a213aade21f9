"""Read a table written by the nightly job, decoding each partition with the codec that encoded it.

    t = open_compressed("features_compressed")
    t.versions                      # {"2024-01-01": 1, ..., "2024-01-07": 2}
    table = t.read(decode=True)     # codes decoded partition by partition, each with its own codec
    ids, sims = t.search(queries, k=10)

The reader pins one snapshot (``_CURRENT`` when opened) and takes each file's codec from its
Parquet metadata (the fingerprint), loading the artifact kept in ``_codecs/``, so a table whose
partitions carry different codec versions decodes and scores correctly; a run committing
meanwhile does not change what an open reader sees.
"""
from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import nightly
from .arrow import codes_from_arrow, decode_arrow
from .codec import load
from .errors import ArtifactError


class CompressedTable:
    """One snapshot of a nightly output table."""

    def __init__(self, path, manifest=None):
        self.path = os.path.abspath(os.fspath(path))
        manifest = manifest or nightly.read_manifest(self.path)
        if manifest is None:
            raise FileNotFoundError(f"{self.path} has no {nightly.CURRENT}: it is not a nightly output table, or its "
                                    f"first run has not committed yet")
        self.manifest = manifest
        self.column, self.code_column = manifest["column"], manifest["code_column"]
        self.partition_col = manifest["partition_col"]
        self._codecs = {}

    @property
    def snapshot(self) -> int:
        return self.manifest["sequence"]

    @property
    def partitions(self) -> list:
        return sorted(self.manifest["partitions"])

    @property
    def versions(self) -> dict:
        """Registry version per partition, as committed."""
        return {v: e["version"] for v, e in sorted(self.manifest["partitions"].items())}

    @property
    def num_rows(self) -> int:
        return sum(e["rows"] for e in self.manifest["partitions"].values())

    def files(self, partition=None) -> list:
        """Absolute paths of the snapshot's data files (of one partition, or all)."""
        values = self.partitions if partition is None else [partition]
        return [os.path.join(self.path, f) for v in values for f in self.manifest["partitions"][v]["files"]]

    def codec(self, fingerprint: str):
        """The artifact stored with the table for ``fingerprint``, verified."""
        if fingerprint not in self._codecs:
            path = nightly.codec_path(self.path, fingerprint)
            if not os.path.exists(path):
                raise ArtifactError(f"{path} is missing: the table refers to codec {fingerprint[:12]} but does not "
                                    f"hold its artifact; restore it from the registry (Registry.find/get)")
            codec = load(path)
            if codec.fingerprint != fingerprint:
                raise ArtifactError(f"{path} does not hold codec {fingerprint[:12]}; the file was altered")
            self._codecs[fingerprint] = codec
        return self._codecs[fingerprint]

    def file_codec(self, path):
        """The codec named by a data file's own Parquet metadata."""
        fp = nightly.file_fingerprint(path, self.code_column)
        if fp is None:
            raise ArtifactError(f"{path} has no embcompress metadata for column {self.code_column!r}")
        return self.codec(fp)

    def read_file(self, value: str, path: str, *, decode: bool = False, columns=None):
        """``(table, codec)`` of one data file, with the partition column added (a string)."""
        codec = self.file_codec(path)
        table = pq.read_table(path, columns=columns)
        if decode and self.code_column in table.column_names:
            vectors = decode_arrow(codec, table[self.code_column], column=self.code_column)
            table = table.drop_columns([self.code_column]).append_column(self.column, vectors)
        table = table.append_column(self.partition_col, pa.array([value] * table.num_rows, pa.string()))
        return table, codec

    def iter_files(self, *, decode: bool = False, columns=None):
        """Yield ``(partition, table, codec)`` per data file; ``decode`` swaps codes for float32 vectors."""
        for value in self.partitions:
            for path in self.files(value):
                table, codec = self.read_file(value, path, decode=decode, columns=columns)
                yield value, table, codec

    def read(self, *, decode: bool = False, columns=None) -> pa.Table:
        """The whole snapshot as one table (small tables; use :meth:`iter_files` for large ones)."""
        parts = [t for _, t, _ in self.iter_files(decode=decode, columns=columns)]
        return pa.concat_tables(parts)

    def search(self, queries, k: int = 10, *, id_column: str = "id"):
        """Top-``k`` rows over all partitions, each scored with its own codec: ``(ids, sims)`` (nq, k)."""
        best_ids: np.ndarray | None = None
        best_sims: np.ndarray | None = None
        for _, table, codec in self.iter_files(columns=[id_column, self.code_column]):
            codes, _ = codes_from_arrow(table[self.code_column], codec.code_size, column=self.code_column)
            local, sims = codec.search(queries, codes, k=min(k, len(codes)))
            ids = np.asarray(table[id_column].to_numpy())[local]
            if best_ids is None:
                best_ids, best_sims = ids, sims
            else:
                best_ids, best_sims = _merge(best_ids, best_sims, ids, sims, k)
        if best_ids is None or best_sims is None:
            raise ValueError(f"{self.path} has no rows to search")
        return best_ids[:, :k], best_sims[:, :k]

    def __repr__(self):
        return (f"CompressedTable({self.path!r}, snapshot={self.snapshot}, partitions={len(self.partitions)}, "
                f"rows={self.num_rows}, versions={sorted(set(self.versions.values()))})")


def _merge(ids_a, sims_a, ids_b, sims_b, k):
    ids, sims = np.concatenate([ids_a, ids_b], axis=1), np.concatenate([sims_a, sims_b], axis=1)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(ids, order, 1), np.take_along_axis(sims, order, 1)


def open_compressed(path) -> CompressedTable:
    """Open the committed snapshot of a nightly output table (see :mod:`embcompress.nightly`)."""
    return CompressedTable(path)
