"""Encode or decode many Parquet files as one result: a directory (as Spark and Beam write
them) or a glob in, a directory out, on any store ``storage`` reaches.

Each input file becomes the output file of the same relative path (``in/p=1/a.parquet`` ->
``out/p=1/a.parquet``), so Hive partitions are kept. Rejected rows (dead-letter) go under
``out/_rejected/``, which directory readers skip. The result is committed by one run record,
``out/_part.embcompress.run.json`` (:func:`parquet_io.result_record_path`), written last;
:func:`parquet_io.verify_result` on it checks every file it names.

Locally the whole output directory is first built under a hidden sibling name and renamed
into place, so readers see all of it or none of it. Object stores have no directory rename:
there the files land one by one and the run record is the commit point, as ``_SUCCESS`` is
for Spark's output.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import posixpath
import re
import uuid
from collections.abc import Callable, Iterator

import pyarrow.fs as pafs

from . import parquet_io, storage

RECORD_PREFIX = "part"
REJECTED_DIR = "_rejected"
_GLOB = re.compile(r"[*?\[]")


def is_many(data: str, output: str) -> bool:
    """Whether ``data`` -> ``output`` is a folder result: the input is a directory or a glob, or
    the output is a directory (ends with ``/`` or exists as one)."""
    text = str(data)
    return bool(_GLOB.search(text)) or storage.is_dir(text) or str(output).endswith("/") or storage.is_dir(output)


def _base(data: str) -> str:
    """The folder that input paths are taken relative to."""
    text = str(data).rstrip("/")
    match = _GLOB.search(text)
    if match:
        head = text[: match.start()]
        return head.rsplit("/", 1)[0] if "/" in head else "."
    return text if storage.is_dir(text) else (text.rsplit("/", 1)[0] if "/" in text else ".")


def pairs(data: str, output: str) -> list:
    """``(input file, output path relative to the output directory)`` for every input file."""
    base = _base(data)
    return [(path, path[len(base.rstrip("/")) + 1:]) for path in storage.list_parquet(data)]


def record_path(output: str) -> str:
    """The run record that commits a folder result at ``output``."""
    return parquet_io.result_record_path(storage.join(output, RECORD_PREFIX))


def _prepare(output: str, overwrite: bool) -> str:
    """The directory to write into: a hidden local sibling of ``output`` (renamed by
    :func:`_publish`), or ``output`` itself on an object store."""
    fs, inner = storage.resolve(output)
    info = fs.get_file_info(inner)
    if info.type == pafs.FileType.File:
        raise FileExistsError(f"{output} is a file; a directory or glob input needs an output directory")
    if info.type == pafs.FileType.Directory and fs.get_file_info(pafs.FileSelector(inner)):
        if not overwrite:
            raise FileExistsError(f"{output} already exists and is not empty; pass --overwrite to replace it")
        if not isinstance(fs, pafs.LocalFileSystem):
            fs.delete_dir_contents(inner)
    if isinstance(fs, pafs.LocalFileSystem):
        parent, name = posixpath.split(inner.rstrip("/"))
        if not os.path.isdir(parent):
            raise FileNotFoundError(f"cannot write {output}: folder {parent} does not exist")
        return posixpath.join(parent, f".{name}.staging-{uuid.uuid4().hex[:12]}")
    bucket = storage.missing_bucket(output)
    if bucket is not None:
        raise FileNotFoundError(f"cannot write {output}: bucket {bucket!r} does not exist")
    return str(output).rstrip("/")


def _publish(staging: str, output: str) -> None:
    """Put a local staging directory in place of ``output`` (removing an old one: --overwrite)."""
    if staging == str(output).rstrip("/"):
        return
    fs, inner = storage.resolve(output)
    if fs.get_file_info(inner).type == pafs.FileType.Directory:
        fs.delete_dir(inner)
    os.replace(staging, inner)


def _discard(staging: str, output: str) -> None:
    """Remove a local staging directory after a failure (an object store keeps what was written,
    uncommitted: no run record names it)."""
    if staging != str(output).rstrip("/") and storage.is_dir(staging):
        fs, inner = storage.resolve(staging)
        fs.delete_dir(inner)


@contextlib.contextmanager
def _staged(output: str, overwrite: bool) -> Iterator[str]:
    """The staging directory of ``output`` (:func:`_prepare`): published whole when the block
    ends, discarded when it raises."""
    staging = _prepare(output, overwrite)
    try:
        yield staging
    except BaseException:
        _discard(staging, output)
        raise
    _publish(staging, output)


def _write_record(staging: str, record: dict) -> dict:
    """Write the run record, the last file of a result (its commit point on object stores)."""
    storage.write_bytes(record_path(staging), json.dumps(record, indent=2, sort_keys=True).encode(), overwrite=True)
    return record


def _run_id(files: list, *options) -> str:
    digest = hashlib.sha256(json.dumps(options, sort_keys=True).encode())
    for path in files:
        digest.update(parquet_io.footer_digest(path))
    return digest.hexdigest()[:32]


def encode_folder(data: str, output: str, codec, column: str, *, output_column: str, drop_input: bool = False,
                  on_invalid: str = "raise", overwrite: bool = False, replace: bool = False,
                  progress: Callable | None = None) -> dict:
    """Encode every Parquet file ``data`` names into the directory ``output`` as one result;
    returns the run record (counts and file lists)."""
    todo = pairs(data, output)
    run_id = _run_id([p for p, _ in todo], codec.fingerprint, column, output_column, drop_input, on_invalid)
    counts = {"rows_in": 0, "rows_out": 0, "rows_rejected": 0}
    written, rejected = [], []
    with _staged(output, overwrite) as staging:
        for source, rel in todo:
            reject_rel = f"{REJECTED_DIR}/{rel}" if on_invalid == "dead_letter" else None
            got = parquet_io.encode_file(source, storage.join(staging, rel), codec, column,
                                         output_column=output_column, drop_input=drop_input, on_invalid=on_invalid,
                                         rejected_path=storage.join(staging, reject_rel) if reject_rel else None,
                                         overwrite=True, replace=replace, progress=progress, run_id=run_id)
            for key in counts:
                counts[key] += got[key]
            written.append(rel)
            if got["rows_rejected"]:
                rejected.append(reject_rel)
        return _write_record(staging, parquet_io.result_record(run_id, written, rejected, **counts))


def decode_folder(data: str, output: str, codec, column: str, *, output_column: str | None = None,
                  overwrite: bool = False, replace: bool = False, progress: Callable | None = None) -> dict:
    """Decode the code column of every Parquet file ``data`` names into the directory ``output``."""
    todo = pairs(data, output)
    run_id = _run_id([p for p, _ in todo], codec.fingerprint, column, output_column, "decode")
    rows, written = 0, []
    with _staged(output, overwrite) as staging:
        for source, rel in todo:
            got = parquet_io.decode_file(source, storage.join(staging, rel), codec, column,
                                         output_column=output_column, overwrite=True, replace=replace,
                                         progress=progress, run_id=run_id)
            rows += got["rows_out"]
            written.append(rel)
        return _write_record(staging, parquet_io.result_record(run_id, written, [], rows_in=rows, rows_out=rows,
                                                               rows_rejected=0))
