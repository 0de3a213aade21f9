"""The provenance record: which codec wrote which code column, in one versioned shape.

Every writer (core, CLI, Spark, Beam, nightly) stores it under the Parquet key
``embcompress`` as JSON ``{"format": "embcompress-provenance/1", "columns": [...]}``, one
entry per code column. Spark's own writer cannot set file metadata, so Spark puts the
column's entry in the code column's field metadata, which Spark saves in every file footer;
readers find it there too. Dataset sidecars (``_embcompress.json``) hold the same record.

Readers also accept the shapes written before this record existed: the core's
``{"columns": [{"column", "output_column", ...}]}``, Spark's flat sidecar
(``"format": "embcompress-parquet/1"``) and Beam's ``embcompress.<field>`` keys.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from . import storage
from ._version import __version__

FORMAT = "embcompress-provenance/1"
KEY = b"embcompress"
FIELD_KEY = "embcompress"  # the entry's key in a column's field metadata (Spark)
SPARK_ROW_METADATA = b"org.apache.spark.sql.parquet.row.metadata"
_LEGACY_BEAM_PREFIX = b"embcompress."
_MAX_JSON_BYTES = 1 << 20


class ProvenanceError(ValueError):
    """A provenance record that cannot be read: what is wrong and where."""


@dataclass(frozen=True)
class ColumnRecord:
    """What a reader needs to decode one code column, and to refuse the wrong codec."""

    code_column: str
    spec: str
    dim: int
    metric: str
    code_size: int
    fingerprint: str
    source_column: str | None = None
    codec_version: int | None = None  # the registry version, where a registry named the codec
    writer: str = ""  # "embcompress <version>" of the writer; empty in records read from older shapes

    @classmethod
    def of(cls, codec, source_column: str | None, code_column: str, *, codec_version: int | None = None
           ) -> ColumnRecord:
        """The record of ``codec`` encoding ``source_column`` into ``code_column``."""
        return cls(code_column=code_column, spec=codec.spec, dim=int(codec.dim), metric=codec.metric,
                   code_size=int(codec.code_size), fingerprint=codec.fingerprint, source_column=source_column,
                   codec_version=codec_version, writer=f"embcompress {__version__}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, entry: Mapping, where: str = "") -> ColumnRecord:
        """A record from the current shape or an older one (``column``/``output_column`` keys)."""
        if not isinstance(entry, Mapping):
            raise ProvenanceError(f"{where}: a provenance entry is {type(entry).__name__}, not an object")
        code_column = entry.get("code_column", entry.get("output_column"))
        source_column = entry.get("source_column", entry.get("column"))
        try:
            record = cls(code_column=str(code_column), spec=str(entry["spec"]), dim=int(entry["dim"]),
                         metric=str(entry["metric"]), code_size=int(entry["code_size"]),
                         fingerprint=str(entry["fingerprint"]),
                         source_column=None if source_column is None else str(source_column),
                         codec_version=None if entry.get("codec_version") is None else int(entry["codec_version"]),
                         writer=str(entry.get("writer") or ""))
        except KeyError as exc:
            raise ProvenanceError(f"{where}: a provenance entry lacks {exc.args[0]!r}") from None
        except (TypeError, ValueError) as exc:
            raise ProvenanceError(f"{where}: a provenance entry has a malformed field ({exc})") from None
        if code_column is None:
            raise ProvenanceError(f"{where}: a provenance entry names no code column")
        return record


def dumps(records: Iterable[ColumnRecord]) -> bytes:
    """The JSON value stored under :data:`KEY`."""
    return json.dumps({"format": FORMAT, "columns": [r.to_dict() for r in records]}, sort_keys=True).encode()


def _json(raw: bytes | str, where: str):
    if len(raw) > _MAX_JSON_BYTES:
        raise ProvenanceError(f"{where}: the embcompress metadata is {len(raw):,} bytes, more than a record can be")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProvenanceError(f"{where}: the embcompress metadata is not valid JSON ({exc})") from None


def loads(raw: bytes | str, where: str = "") -> list[ColumnRecord]:
    """Records from a stored value: the current shape, the core's older one, or a flat sidecar."""
    doc = _json(raw, where)
    if isinstance(doc, Mapping) and isinstance(doc.get("columns"), list):
        return [ColumnRecord.from_dict(e, where) for e in doc["columns"]]
    if isinstance(doc, Mapping) and "fingerprint" in doc:  # Spark's flat sidecar, embcompress-parquet/1
        return [ColumnRecord.from_dict(doc, where)]
    raise ProvenanceError(f"{where}: the embcompress metadata has neither 'columns' nor a flat record")


def _legacy_beam(meta: Mapping[bytes, bytes], where: str) -> list[ColumnRecord]:
    fields = {k[len(_LEGACY_BEAM_PREFIX):].decode(errors="replace"): v.decode(errors="replace")
              for k, v in meta.items() if k.startswith(_LEGACY_BEAM_PREFIX)}
    return [ColumnRecord.from_dict(fields, where)] if "fingerprint" in fields else []


def _spark_fields(meta: Mapping[bytes, bytes], where: str) -> list[ColumnRecord]:
    """Entries that Spark saved from code columns' field metadata (its row schema JSON)."""
    raw = meta.get(SPARK_ROW_METADATA)
    if not raw or FIELD_KEY.encode() not in raw:
        return []
    schema = _json(raw, where)
    records = []
    for field in schema.get("fields", []) if isinstance(schema, Mapping) else []:
        entry = (field.get("metadata") or {}).get(FIELD_KEY) if isinstance(field, Mapping) else None
        if entry is not None:  # the field's name wins: a renamed column keeps its record
            records.append(ColumnRecord.from_dict(dict(entry, code_column=field.get("name")), where))
    return records


def from_metadata(meta: Mapping[bytes, bytes] | None, where: str = "") -> list[ColumnRecord]:
    """Every record in a file's key-value metadata, whichever engine or release wrote it."""
    meta = meta or {}
    found: dict[str, ColumnRecord] = {}
    for records in (_spark_fields(meta, where), _legacy_beam(meta, where),
                    loads(meta[KEY], where) if KEY in meta else []):
        found.update({r.code_column: r for r in records})  # the current key wins
    return list(found.values())


def from_schema(schema: pa.Schema, where: str = "") -> list[ColumnRecord]:
    """Records from an Arrow schema (its metadata and its fields' metadata), for the columns it has.

    A record whose code column is gone (decoded or dropped since) is left out.
    """
    records = {r.code_column: r for r in from_metadata(schema.metadata, where)}
    for field in schema:
        raw = (field.metadata or {}).get(FIELD_KEY.encode())
        if raw is not None and field.name not in records:
            entry = _json(raw, where)
            records[field.name] = ColumnRecord.from_dict(dict(entry, code_column=field.name), where)
    return [r for name, r in records.items() if name in schema.names]


def read(path, filesystem=None) -> list[ColumnRecord]:
    """The records of a Parquet file (local path, or a path on ``filesystem``)."""
    where = str(path)
    try:
        if filesystem is None:
            meta = storage.open_parquet(path).metadata
        else:
            with filesystem.open_input_file(path) as f:
                meta = pq.ParquetFile(f).metadata
    except (pa.ArrowInvalid, OSError) as exc:
        raise ProvenanceError(f"{where} is not a readable Parquet file ({exc})") from None
    return from_schema(meta.schema.to_arrow_schema().with_metadata(meta.metadata), where)


def find(records: Iterable[ColumnRecord], code_column: str) -> ColumnRecord | None:
    return next((r for r in records if r.code_column == code_column), None)


def with_record(meta: Mapping[bytes, bytes] | None, record: ColumnRecord) -> dict:
    """Key-value metadata with ``record`` added (replacing an entry for the same code column)."""
    meta = dict(meta or {})
    kept = [r for r in from_metadata(meta) if r.code_column != record.code_column]
    for key in [k for k in meta if k.startswith(_LEGACY_BEAM_PREFIX)]:
        del meta[key]  # folded into the current record above
    meta[KEY] = dumps(kept + [record])
    return meta


def without_column(meta: Mapping[bytes, bytes] | None, code_column: str) -> dict | None:
    """Key-value metadata minus the record of ``code_column`` (a decode removes that column)."""
    meta = dict(meta or {})
    kept = [r for r in from_metadata(meta) if r.code_column != code_column]
    for key in [k for k in meta if k.startswith(_LEGACY_BEAM_PREFIX) or k == KEY]:
        del meta[key]
    if kept:
        meta[KEY] = dumps(kept)
    return meta or None


def field_metadata(record: ColumnRecord) -> dict:
    """The code column's field metadata (Spark saves it in each file it writes; it holds no nulls)."""
    return {FIELD_KEY: {k: v for k, v in record.to_dict().items() if v is not None}}


def sidecar(record: ColumnRecord, **extra) -> bytes:
    """A dataset sidecar: the same record, plus what the dataset adds (artifact name, partitioning)."""
    return json.dumps({"format": FORMAT, "columns": [record.to_dict()], **extra}, indent=1, sort_keys=True).encode()


def read_sidecar(raw: bytes, where: str = "") -> tuple[list[ColumnRecord], dict]:
    """``(records, extra fields)`` of a sidecar in the current or the older flat shape."""
    doc = _json(raw, where)
    extra = {k: v for k, v in doc.items() if k not in ("format", "columns")} if isinstance(doc, Mapping) else {}
    return loads(raw, where), extra
