"""One way to reach a path, local or remote, through ``pyarrow.fs``.

Local paths, ``file:`` URIs, ``s3://`` (``s3a://``/``s3n://`` name the same bucket, as Hadoop
writes them), ``gs://``, ``abfs[s]://`` and ``hdfs://`` all resolve to a pyarrow filesystem
and a path inside it. Credentials come from each store's usual environment and config files;
none are taken as arguments.
"""
from __future__ import annotations

import os
import posixpath
import uuid

import pyarrow.fs as pafs

from . import files

HADOOP_S3 = ("s3a://", "s3n://")


def resolve(path: str) -> tuple:
    """``(pyarrow FileSystem, path inside it)`` for a local path or a URI."""
    path = str(path)
    for scheme in HADOOP_S3:
        if path.startswith(scheme):
            path = "s3://" + path[len(scheme):]
    if "://" in path and not path.startswith("file://"):
        return pafs.FileSystem.from_uri(path)
    if path.startswith("file://"):
        path = path[len("file://"):]
    elif path.startswith("file:"):
        path = path[len("file:"):]
    return pafs.LocalFileSystem(), posixpath.abspath(path)


def join(*parts: str) -> str:
    """``parts`` joined with single slashes (works for URIs, unlike os.path.join on Windows)."""
    return "/".join([str(parts[0]).rstrip("/")] + [str(p).strip("/") for p in parts[1:]])


def exists(path: str) -> bool:
    fs, inner = resolve(path)
    return fs.get_file_info(inner).type != pafs.FileType.NotFound


def is_dir(path: str) -> bool:
    fs, inner = resolve(path)
    return fs.get_file_info(inner).type == pafs.FileType.Directory


def read_bytes(path: str, *, limit: int | None = None) -> bytes:
    """The whole file at ``path``; refuses a file larger than ``limit`` bytes before reading it.
    A local path must be a regular file (a FIFO or device is refused without blocking)."""
    fs, inner = resolve(path)
    if isinstance(fs, pafs.LocalFileSystem):
        if not os.path.exists(inner):
            raise FileNotFoundError(f"{path} does not exist")
        if os.path.isdir(inner):
            raise IsADirectoryError(f"{path} is not a regular file")
        try:
            return files.read_regular_file(inner, limit if limit is not None else 1 << 62, "file")
        except files.UnsafeFileError as exc:
            raise ValueError(str(exc)) from None
    info = fs.get_file_info(inner)
    if info.type == pafs.FileType.NotFound:
        raise FileNotFoundError(f"{path} does not exist")
    if info.type != pafs.FileType.File:
        raise IsADirectoryError(f"{path} is not a regular file")
    if limit is not None and info.size is not None and info.size > limit:
        raise ValueError(f"{path} is {info.size} bytes, more than the {limit} allowed")
    with fs.open_input_stream(inner) as f:
        data = f.read() if limit is None else f.read(limit + 1)
    if limit is not None and len(data) > limit:
        raise ValueError(f"{path} holds more than the {limit} bytes allowed")
    return data


def write_bytes(path: str, data: bytes, *, overwrite: bool = False) -> None:
    """Write ``data`` to ``path``, creating parent directories; an existing file is an error unless
    ``overwrite``. Local files are written to a temporary name (mode 0o644) and renamed, so
    readers never see half a file; object stores make a single PUT visible at once."""
    fs, inner = resolve(path)
    if not overwrite and fs.get_file_info(inner).type != pafs.FileType.NotFound:
        raise FileExistsError(f"{path} already exists; pass mode='overwrite' to replace it")
    parent = posixpath.dirname(inner)
    if parent:
        fs.create_dir(parent, recursive=True)
    if isinstance(fs, pafs.LocalFileSystem):
        # 0o644 whatever the umask: group and others may read an artifact, never change it
        tmp = f"{inner}.tmp-{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.fchmod(fd, 0o644)
            with os.fdopen(fd, "wb", closefd=False) as out:
                out.write(data)
        finally:
            os.close(fd)
        os.replace(tmp, inner)
        return
    with fs.open_output_stream(inner) as out:
        out.write(data)


def partition_columns(path: str) -> list:
    """Hive-style partition columns (``key=value`` directories) under ``path``, outermost first."""
    fs, inner = resolve(path)
    cols = []
    while fs.get_file_info(inner).type == pafs.FileType.Directory:
        subdirs = [i for i in fs.get_file_info(pafs.FileSelector(inner))
                   if i.type == pafs.FileType.Directory and "=" in i.base_name
                   and not i.base_name.startswith(("_", "."))]
        if not subdirs:
            break
        first = sorted(subdirs, key=lambda i: i.base_name)[0]
        cols.append(first.base_name.split("=", 1)[0])
        inner = first.path
    return cols
