"""Read a table written by the nightly job, decoding each file with the codec that encoded it.

    t = open_compressed("features_compressed")            # the latest Delta version
    t.versions                      # {"2024-01-01": 1, ..., "2024-01-07": 2}
    table = t.read(decode=True)     # codes decoded file by file, each with its own codec
    ids, sims = t.search(queries, k=10)
    open_compressed("features_compressed", version=2)     # time travel: an earlier night

The reader pins one Delta version when opened: its active files (from the Delta log, through
delta-rs), each with its partition value and codec version, and our manifest (from the commit
info). Each file's codec is the one its Parquet metadata names (the fingerprint), loaded from
the artifact kept in ``_codecs/``, so a table whose partitions carry different codec versions
decodes and scores correctly; a run committing meanwhile does not change what an open reader sees.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from . import delta_lake, nightly, storage
from .arrow import codes_from_arrow, decode_arrow
from .codec import MAX_ARTIFACT_BYTES, Codec
from .errors import ArtifactError


def table_state(path, version: int | None = None) -> dict:
    """What a reader pins: the table URI, its Delta version, our manifest and the active files
    (``[{"path", "partition", "version", "rows"}]``, relative paths). Plain data, so that Spark
    and Beam workers can be handed it."""
    state = nightly.read_state(path, version)
    if state is None:
        raise FileNotFoundError(f"{path} has no Delta log ({nightly.DELTA_LOG}): it is not a nightly output table, "
                                f"or its first run has not committed yet")
    table, manifest = state
    partition_col, version_col = manifest["partition_col"], manifest["version_column"]
    files = [{"path": f.path, "partition": str(f.partition[partition_col]), "version": f.partition.get(version_col),
              "rows": f.rows} for f in delta_lake.active_files(table)]
    return {"path": delta_lake.table_uri(path), "version": table.version(), "manifest": manifest, "files": files}


class CompressedTable:
    """One version of a nightly output table."""

    def __init__(self, path, version: int | None = None, *, state: dict | None = None):
        state = state or table_state(path, version)
        self.state = state
        self.path = state["path"]
        self.manifest = state["manifest"]
        self.column, self.code_column = self.manifest["column"], self.manifest["code_column"]
        self.version_column = self.manifest["version_column"]
        self.partition_col = self.manifest["partition_col"]
        self._codecs: dict = {}

    @property
    def snapshot(self) -> int:
        """The Delta version this reader pinned."""
        return self.state["version"]

    @property
    def partitions(self) -> list:
        return sorted({f["partition"] for f in self.state["files"]})

    @property
    def versions(self) -> dict:
        """Codec registry version per partition, from the Delta log's partition values."""
        return {f["partition"]: f["version"] for f in sorted(self.state["files"], key=lambda f: f["partition"])}

    @property
    def num_rows(self) -> int:
        return sum(f["rows"] for f in self.state["files"])

    def files(self, partition=None) -> list:
        """Full paths (or URIs) of the pinned version's data files (of one partition, or all), sorted."""
        values = self.partitions if partition is None else [partition]
        return [storage.join(self.path, f["path"]) for v in values
                for f in sorted(self.state["files"], key=lambda f: f["path"]) if f["partition"] == v]

    def codec(self, fingerprint: str):
        """The artifact stored with the table for ``fingerprint``, verified."""
        if fingerprint not in self._codecs:
            path = nightly.codec_path(self.path, fingerprint)
            if not storage.exists(path):
                raise ArtifactError(f"{path} is missing: the table refers to codec {fingerprint[:12]} but does not "
                                    f"hold its artifact; restore it from the registry (Registry.find/get)")
            codec = Codec.from_bytes(storage.read_bytes(path, limit=MAX_ARTIFACT_BYTES))
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
        """``(table, codec)`` of one data file, with the partition column (a string) and the codec-version
        column (int32) added, as a Delta reader gives them."""
        codec = self.file_codec(path)
        fs, inner = storage.resolve(path)
        own = None if columns is None else [c for c in columns if c not in (self.partition_col, self.version_column)]
        table = pq.read_table(inner, columns=own, filesystem=fs)
        if decode and self.code_column in table.column_names:
            vectors = decode_arrow(codec, table[self.code_column], column=self.code_column)
            table = table.drop_columns([self.code_column]).append_column(self.column, vectors)
        table = table.append_column(self.partition_col, pa.array([value] * table.num_rows, pa.string()))
        if columns is None or self.version_column in columns:
            version = self.versions[value]
            table = table.append_column(self.version_column, pa.array([version] * table.num_rows, pa.int32()))
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
        return (f"CompressedTable({self.path!r}, version={self.snapshot}, partitions={len(self.partitions)}, "
                f"rows={self.num_rows}, versions={sorted(set(self.versions.values()))})")


def _merge(ids_a, sims_a, ids_b, sims_b, k):
    ids, sims = np.concatenate([ids_a, ids_b], axis=1), np.concatenate([sims_a, sims_b], axis=1)
    order = np.argsort(-sims, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(ids, order, 1), np.take_along_axis(sims, order, 1)


def open_compressed(path, version: int | None = None) -> CompressedTable:
    """Open a nightly output table (see :mod:`embcompress.nightly`) at its latest Delta version, or at ``version``."""
    return CompressedTable(path, version)
