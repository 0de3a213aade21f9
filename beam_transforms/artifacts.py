"""Read and write codec artifacts through Beam's FileSystems (local paths, gs://, s3://, ...).

Writes go to a temporary name and are renamed into place; local files are made 0644 (no
group or world write, whatever the umask). An existing artifact is only replaced when its
bytes are identical (an idempotent retry) or when ``overwrite=True``.
"""
from __future__ import annotations

import os
import uuid
from hashlib import sha256

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.io.localfilesystem import LocalFileSystem

from embcompress import ArtifactError, Codec
from embcompress import _files as files
from embcompress.codec import MAX_ARTIFACT_BYTES

_RAW = CompressionTypes.UNCOMPRESSED


def read_artifact(location: str) -> bytes:
    """The verified artifact bytes at ``location`` (checked by ``Codec.from_bytes``).

    A local path is read like ``embcompress.load`` reads it: regular files only, without
    blocking on a FIFO, and never more than the size cap.
    """
    if isinstance(FileSystems.get_filesystem(location), LocalFileSystem):
        try:
            blob = files.read_regular_file(location.removeprefix("file://"), MAX_ARTIFACT_BYTES, "codec artifact")
        except files.UnsafeFileError as exc:
            raise ArtifactError(str(exc)) from None
    else:
        with FileSystems.open(location, compression_type=_RAW) as f:
            blob = f.read(MAX_ARTIFACT_BYTES + 1)
    Codec.from_bytes(blob)
    return blob


def load_codec(location: str) -> Codec:
    """Load a codec artifact from any Beam filesystem, e.g. to pass to a transform at construction."""
    return Codec.from_bytes(read_artifact(location))


def _owner_writable_only(path: str) -> None:
    """On a local filesystem, make ``path`` 0644 whatever the umask (as ``Codec.save`` does);
    object stores have no such mode bits and keep their own access control."""
    if isinstance(FileSystems.get_filesystem(path), LocalFileSystem):
        os.chmod(path, 0o644)


def write_artifact(blob: bytes, location: str, overwrite: bool = False) -> bytes:
    """Write ``blob`` to ``location``; refuse to replace a different artifact unless ``overwrite``."""
    if FileSystems.exists(location):
        with FileSystems.open(location, compression_type=_RAW) as f:
            existing = f.read(MAX_ARTIFACT_BYTES + 1)
        if existing == blob:
            return blob
        if not overwrite:
            raise FileExistsError(
                f"{location} already holds a codec artifact with fingerprint {sha256(existing).hexdigest()[:16]}, "
                f"not {sha256(blob).hexdigest()[:16]}; pass overwrite=True to replace it")
    tmp = f"{location}.tmp-{uuid.uuid4().hex}"
    with FileSystems.create(tmp, mime_type="application/octet-stream", compression_type=_RAW) as f:
        f.write(blob)
    _owner_writable_only(tmp)
    try:
        FileSystems.rename([tmp], [location])
    except Exception:  # filesystems whose rename refuses an existing target (overwrite=True only)
        if not (overwrite and FileSystems.exists(location)):
            raise
        FileSystems.delete([location])
        FileSystems.rename([tmp], [location])
    return blob
