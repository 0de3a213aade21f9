"""The Delta Lake log of a nightly output table, through delta-rs (the ``deltalake`` package, no JVM).

Only what the nightly job and its readers need: the table's active files at a version, the
newest commit that carries our manifest, one commit that adds pre-written Parquet files and
removes the files of the partitions they replace, and vacuum. delta-rs reaches local paths
and object stores alike; its ``storage_options`` come from :func:`storage_options`, which
leaves credentials to each store's usual environment.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from . import storage

KEY = "embcompress"  # the commit-info key holding our manifest
EXTRA = "delta"


def _deltalake():
    try:
        import deltalake
        import deltalake.exceptions  # noqa: F401 - submodules used below
        import deltalake.transaction  # noqa: F401
    except ImportError:
        raise ImportError("the nightly job writes and reads a Delta Lake table and needs the 'deltalake' package: "
                          f"pip install 'embcompress[{EXTRA}]'") from None
    return deltalake


def table_uri(path) -> str:
    """The URI delta-rs opens for ``path``: a local path made absolute, ``s3a://``/``s3n://`` as ``s3://``.
    Only a local path is resolved (a URI is rewritten, never looked up)."""
    text = str(path)
    scheme = text.split("://", 1)[0] if "://" in text else ""
    if scheme and scheme != "file":
        return f"{'s3' if scheme in ('s3a', 's3n') else scheme}://{text.split('://', 1)[1]}".rstrip("/")
    _, inner = storage.resolve(text)
    return inner.rstrip("/") or "/"


# what delta-rs (object_store) takes for S3, read from the environment variables of the same names
_S3_PASSED = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")


def storage_options(path) -> dict | None:
    """delta-rs options for ``path``, all from the environment (credentials are never arguments).

    Other stores: None (delta-rs reads their usual environment itself). ``s3://``: the endpoint
    that :mod:`embcompress.storage` resolves (``AWS_ENDPOINT_URL_S3``/``AWS_ENDPOINT_URL``, so
    delta-rs and pyarrow reach the same store), ``AWS_ALLOW_HTTP`` for a plain-http endpoint,
    the region, the credentials, and commits by conditional put (``conditional_put=etag``: the
    log's next version is created with ``If-None-Match: *``, so of two racing commits one
    fails) unless ``AWS_S3_LOCKING_PROVIDER`` names a lock (DynamoDB). Unsafe rename is never set.
    """
    uri = table_uri(path)
    if not uri.startswith("s3://"):
        return None
    options = {name: os.environ[name] for name in _S3_PASSED if os.environ.get(name)}
    endpoint = storage.s3_endpoint()
    if endpoint is not None:
        options["AWS_ENDPOINT_URL"] = endpoint
        if endpoint.startswith("http://"):
            options["AWS_ALLOW_HTTP"] = "true"
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        options["AWS_REGION"] = region
    locking = os.environ.get("AWS_S3_LOCKING_PROVIDER")
    if locking:
        options["AWS_S3_LOCKING_PROVIDER"] = locking
    else:
        options["conditional_put"] = os.environ.get("AWS_CONDITIONAL_PUT") or "etag"
    return options


def is_table(path) -> bool:
    """True when ``path`` holds a Delta log with at least one commit."""
    return bool(_deltalake().DeltaTable.is_deltatable(table_uri(path), storage_options=storage_options(path)))


def open_table(path, version: int | None = None):
    """``deltalake.DeltaTable`` at ``version`` (the latest when None)."""
    dl = _deltalake()
    return dl.DeltaTable(table_uri(path), version=version, storage_options=storage_options(path))


@dataclass(frozen=True)
class ActiveFile:
    """One add action of the table at a version: a data file and its partition values."""

    path: str  # relative to the table root, as the log holds it
    partition: dict
    size: int
    rows: int | None


def active_files(table) -> list:
    """The files a Delta reader of ``table`` (a DeltaTable) reads, sorted by path."""
    actions = pa.table(table.get_add_actions(flatten=True))
    names = [n for n in actions.column_names if n.startswith("partition.")]
    out = []
    for row in actions.to_pylist():
        partition = {n[len("partition."):]: row[n] for n in names}
        out.append(ActiveFile(row["path"], partition, int(row["size_bytes"]), row.get("num_records")))
    return sorted(out, key=lambda f: f.path)


def latest_manifest(table, scan: int = 100) -> dict | None:
    """Our manifest from the newest commit (at or below ``table``'s version) that carries one.

    Other writers' commits (vacuum, optimize) carry none and are skipped; after ``scan`` of
    them without ours, None. Each manifest records the commit version it came with.
    """
    for commit in table.history(scan):
        value = commit.get(KEY)
        if value is not None:
            manifest = value if isinstance(value, dict) else json.loads(value)
            return {**manifest, "delta_version": commit.get("version")}
    return None


def add_action(relative: str, size: int, partition: dict, rows: int, modified_ms: int) -> Any:
    """A delta-rs ``AddAction`` for a data file already written under the table root."""
    dl = _deltalake()
    values = {k: None if v is None else str(v) for k, v in partition.items()}
    return dl.transaction.AddAction(relative, int(size), values, int(modified_ms), True,
                                    json.dumps({"numRecords": int(rows)}))


class CommitConflict(RuntimeError):
    """Another writer committed to the table after this run planned."""


def commit(path, *, read_version: int | None, schema: pa.Schema | None, partition_by: list, adds: list,
           replace: dict, manifest: dict) -> int:
    """One Delta commit: ``adds`` (AddActions) become active, and every file of the partitions
    ``replace`` names (``{column: [values]}``) is removed. Returns the new table version.

    ``read_version`` is the version the run planned from (None: the table must not exist
    yet); a table that moved on meanwhile raises :class:`CommitConflict`, and nothing is committed.
    """
    dl = _deltalake()
    uri, options = table_uri(path), storage_options(path)
    # no retries: a commit that lost the race to another writer fails instead of being rebased onto it
    properties = dl.CommitProperties(custom_metadata={KEY: manifest}, max_commit_retries=0)
    delta_schema = None if schema is None else dl.Schema.from_arrow(schema)
    if read_version is None:
        try:
            dl.transaction.create_table_with_add_actions(uri, delta_schema, adds, mode="error",
                                                         partition_by=partition_by, storage_options=options,
                                                         commit_properties=properties)
        except Exception as exc:  # delta-rs raises DeltaError or its subclasses; "exists" is the race we name
            if is_table(path):
                raise CommitConflict(f"{uri} was created by another run meanwhile") from exc
            raise
        return 0
    table = open_table(path)
    if table.version() != read_version:
        raise CommitConflict(f"{uri} moved from version {read_version} to {table.version()} meanwhile")
    filters = [(column, "in", sorted(values)) for column, values in replace.items() if values]
    if delta_schema is None:  # a commit that only removes partitions keeps the table's schema
        delta_schema = table.schema()
    try:
        table.create_write_transaction(adds, mode="overwrite" if filters else "append", schema=delta_schema,
                                       partition_by=partition_by, partition_filters=filters or None,
                                       commit_properties=properties)
    except dl.exceptions.CommitFailedError as exc:
        raise CommitConflict(f"{uri}: another run committed version {read_version + 1} first") from exc
    return read_version + 1


def vacuum(path, *, retention_hours: int | None = None, enforce_retention_duration: bool = True,
           dry_run: bool = False) -> list:
    """Delta's vacuum: delete files no version within the retention refers to. Returns their relative paths."""
    table = open_table(path)
    return sorted(table.vacuum(retention_hours=retention_hours, dry_run=dry_run,
                               enforce_retention_duration=enforce_retention_duration))
