"""One way to reach a path, local or remote, through ``pyarrow.fs``.

Local paths, ``file:`` URIs, ``s3://`` (``s3a://``/``s3n://`` name the same bucket, as Hadoop
writes them), ``gs://``, ``abfs[s]://`` and ``hdfs://`` all resolve to a pyarrow filesystem
and a path inside it. Credentials come from each store's usual environment and config files;
none are taken as arguments.

An S3-compatible endpoint other than AWS (MinIO, a test server) is read from
``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``, as the AWS SDKs do. pyarrow 25 reads them
too, but older pyarrow releases (which the core accepts) do not, so they are resolved here and
given to ``S3FileSystem`` explicitly: the same environment reaches the same store with every
pyarrow.

Object stores have no atomic rename. Whole files are made visible in one step instead: a
single PUT (:func:`write_bytes`), a copy of a finished hidden temporary object
(:class:`AtomicOutput`), or a conditional create that fails when the key exists
(:func:`create_exclusive`, S3's ``If-None-Match: *`` through boto3, the ``s3`` extra).
"""
from __future__ import annotations

import fnmatch
import functools
import os
import posixpath
import re
import uuid
from urllib.parse import urlsplit

import pyarrow.fs as pafs
import pyarrow.parquet as pq

from . import _files as files

HADOOP_S3 = ("s3a://", "s3n://")
S3_ENDPOINT_VARS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
# what the SDK's default credential chain reads: a change gives another filesystem, never a stale one
_CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                    "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE")
_GLOB = re.compile(r"[*?\[]")


def s3_endpoint() -> str | None:
    """The S3 endpoint the environment names (``AWS_ENDPOINT_URL_S3`` first), or None for AWS."""
    for name in S3_ENDPOINT_VARS:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def _s3_region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None


@functools.lru_cache(maxsize=8)
def _s3_at(endpoint: str, region: str | None, _credentials: tuple) -> pafs.S3FileSystem:
    """One S3FileSystem per endpoint, region and credentials in the environment (building one
    costs tens of milliseconds; a CLI command resolves paths dozens of times)."""
    where = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
    return pafs.S3FileSystem(scheme=where.scheme, endpoint_override=where.netloc, region=region)


@functools.lru_cache(maxsize=32)
def _s3_bucket(bucket: str, _credentials: tuple) -> pafs.FileSystem:
    """AWS itself: pyarrow finds the bucket's region with one request, made once per bucket."""
    return pafs.FileSystem.from_uri(f"s3://{bucket}")[0]


def _s3(path: str) -> tuple:
    """``(S3FileSystem, "bucket/key")`` for an ``s3://`` URI, at the environment's endpoint if any."""
    endpoint = s3_endpoint()
    credentials = tuple(os.environ.get(name) for name in _CREDENTIAL_VARS)
    inner = path[len("s3://"):].split("?", 1)[0].rstrip("/")
    if endpoint is None:
        return _s3_bucket(inner.split("/", 1)[0], credentials + (_s3_region(),)), inner
    return _s3_at(endpoint, _s3_region(), credentials), inner


def resolve(path: str) -> tuple:
    """``(pyarrow FileSystem, path inside it)`` for a local path or a URI."""
    path = str(os.fspath(path))
    for scheme in HADOOP_S3:
        if path.startswith(scheme):
            path = "s3://" + path[len(scheme):]
    if path.startswith("s3://"):
        return _s3(path)
    if "://" in path and not path.startswith("file://"):
        return pafs.FileSystem.from_uri(path)
    if path.startswith("file://"):
        path = path[len("file://"):]
    elif path.startswith("file:"):
        path = path[len("file:"):]
    return pafs.LocalFileSystem(), posixpath.abspath(path)


def is_local(path: str) -> bool:
    """Whether ``path`` is on the local filesystem (a plain path or a ``file:`` URI)."""
    text = str(os.fspath(path))
    return text.startswith("file:") or "://" not in text


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


def missing_bucket(path: str) -> str | None:
    """The bucket of an S3 ``path`` when that bucket does not exist, else None."""
    text = str(path)
    for scheme in ("s3://", *HADOOP_S3):
        if text.startswith(scheme):
            bucket = text[len(scheme):].split("/", 1)[0]
            fs, _ = resolve(f"s3://{bucket}")
            if fs.get_file_info(bucket).type == pafs.FileType.NotFound:
                return bucket
    return None


def _bucket_hint(path: str) -> str:
    bucket = missing_bucket(path)
    return "" if bucket is None else f" (bucket {bucket!r} does not exist)"


def missing(path: str, what: str = "file") -> FileNotFoundError:
    """A one-line FileNotFoundError for ``path``, naming a missing bucket when that is the cause."""
    return FileNotFoundError(f"{path}: no such {what}{_bucket_hint(path)}; check the path")


def size(path: str) -> int | None:
    """Bytes in the file at ``path`` (None if the store does not say)."""
    fs, inner = resolve(path)
    return fs.get_file_info(inner).size


def remove(path: str) -> None:
    """Delete the file at ``path`` if it exists."""
    fs, inner = resolve(path)
    if fs.get_file_info(inner).type == pafs.FileType.File:
        fs.delete_file(inner)


def open_input_file(path: str):
    """A seekable binary reader of the file at ``path`` (local or remote)."""
    fs, inner = resolve(path)
    info = fs.get_file_info(inner)
    if info.type == pafs.FileType.NotFound:
        raise missing(path)
    if info.type != pafs.FileType.File:
        raise IsADirectoryError(f"{path} is not a regular file")
    return fs.open_input_file(inner)


def open_parquet(path: str, **options) -> pq.ParquetFile:
    """``pq.ParquetFile`` of a local or remote file (``options`` go to ParquetFile)."""
    if is_local(path):
        return pq.ParquetFile(resolve(path)[1], **options)
    return pq.ParquetFile(open_input_file(path), **options)


def _hidden(name: str) -> bool:
    return name.startswith(("_", "."))


def list_parquet(path: str) -> list:
    """The Parquet files ``path`` names, sorted: itself if a file, the data files under it if a
    directory (recursively, skipping ``_``/``.``-prefixed names as Spark and pyarrow do), or
    the files matching it if it is a glob (``in/*.parquet``). A URI stays a URI."""
    text = str(os.fspath(path))
    match = _GLOB.search(text)
    if match:
        base = text[: match.start()].rsplit("/", 1)[0] if "/" in text[: match.start()] else "."
        pattern = text
    else:
        base, pattern = text, None
    fs, inner = resolve(base)
    info = fs.get_file_info(inner)
    if info.type == pafs.FileType.NotFound:
        raise missing(base, "input file or directory")
    if info.type == pafs.FileType.File:
        if pattern is not None:
            raise FileNotFoundError(f"{path}: {base} is a file, not a folder to match in")
        return [text]
    prefix = base.rstrip("/")
    found = []
    for item in fs.get_file_info(pafs.FileSelector(inner, recursive=True)):
        rel = item.path[len(inner.rstrip("/")) + 1:]
        if item.type != pafs.FileType.File or any(_hidden(part) for part in rel.split("/")):
            continue
        name = f"{prefix}/{rel}"
        if pattern is not None and not fnmatch.fnmatchcase(name, pattern):
            continue
        if pattern is None and not rel.endswith(".parquet"):
            continue
        found.append(name)
    if not found:
        raise FileNotFoundError(f"{path}: no Parquet files " + ("match" if pattern else "in this directory"))
    return sorted(found)


class AtomicOutput:
    """A file written under a hidden temporary name and made visible whole by :meth:`commit`.

    Locally the temporary file is renamed onto the target. Object stores have no rename: the
    finished temporary object is copied onto the target key in one server-side copy (readers
    see the old object or the whole new one) and then deleted. The temporary name starts
    with ``_`` so directory readers skip it; :meth:`abort` deletes it.
    """

    def __init__(self, path: str):
        self.path = str(os.fspath(path))
        self.fs, self.inner = resolve(self.path)
        parent, name = posixpath.split(self.inner)
        if isinstance(self.fs, pafs.LocalFileSystem):
            self.tmp = f"{self.inner}.tmp-{os.getpid()}"  # a crashed run's leftover names its process
        else:
            self.tmp = posixpath.join(parent, f"_{name}.tmp-{uuid.uuid4().hex}")
        if parent and isinstance(self.fs, pafs.LocalFileSystem):  # object stores need no folder first
            self.fs.create_dir(parent, recursive=True)
        self.stream = self.fs.open_output_stream(self.tmp)

    def commit(self) -> None:
        """Close the stream and put the file in place."""
        self.stream.close()
        if isinstance(self.fs, pafs.LocalFileSystem):
            os.replace(self.tmp, self.inner)
        else:
            self.fs.copy_file(self.tmp, self.inner)
            self.fs.delete_file(self.tmp)

    def abort(self) -> None:
        """Close the stream and delete the temporary file; the target is left as it was."""
        if not self.stream.closed:
            self.stream.close()
        if self.fs.get_file_info(self.tmp).type == pafs.FileType.File:
            self.fs.delete_file(self.tmp)


def _s3_client():
    """A boto3 S3 client at the environment's endpoint (boto3 is imported here, not by the core)."""
    try:
        import boto3
    except ImportError:
        raise RuntimeError("a conditional create on s3:// needs boto3: pip install 'embcompress[s3]'") from None
    return boto3.client("s3", endpoint_url=s3_endpoint(), region_name=_s3_region())


def has_atomic_rename(fs: pafs.FileSystem) -> bool:
    """Whether renaming a directory on ``fs`` is one atomic step (local disks and HDFS, also seen
    through a SubTreeFileSystem; not object stores)."""
    while isinstance(fs, pafs.SubTreeFileSystem):
        fs = fs.base_fs
    return isinstance(fs, (pafs.LocalFileSystem, pafs.HadoopFileSystem))


def create_exclusive(path: str, data: bytes, *, filesystem: pafs.FileSystem | None = None) -> bool:
    """Create the file at ``path`` holding ``data`` unless it exists; True if this call created it.

    One atomic step wherever it is supported: locally a hard link of a finished temporary file
    (``link`` fails when the target exists), on S3 a PUT with ``If-None-Match: *`` (the store
    refuses it when the key exists, so of two racing writers exactly one wins). Other stores
    raise NotImplementedError rather than fall back to a racy check-then-write. With
    ``filesystem``, ``path`` is a path inside it.
    """
    fs, inner = (filesystem, str(path)) if filesystem is not None else resolve(path)
    parent = posixpath.dirname(inner)
    if isinstance(fs, pafs.LocalFileSystem):
        os.makedirs(parent, exist_ok=True)
        tmp = f"{inner}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        with open(tmp, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        try:
            os.link(tmp, inner)
            return True
        except FileExistsError:
            return False
        finally:
            os.remove(tmp)
    if isinstance(fs, pafs.S3FileSystem):
        bucket, _, key = inner.partition("/")
        client = _s3_client()
        try:
            client.put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")
        except client.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
                return False
            if code == "NoSuchBucket":
                raise missing(path, "bucket") from None
            raise OSError(f"cannot create {path}: {exc}") from None
        return True
    raise NotImplementedError(f"{path}: no conditional create on {fs.type_name} here; only local paths and s3:// "
                              f"support atomic commits for now")
