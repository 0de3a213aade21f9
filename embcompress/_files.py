"""Read untrusted local files without blocking and without reading more than a cap.

A path handed to the loader may name a FIFO (which blocks an ordinary ``open`` until a
writer appears), a device such as ``/dev/zero`` (which never ends) or a file larger than any
valid input. The file is opened non-blocking and checked with ``fstat`` on the open
descriptor, so it cannot be swapped between the check and the read.
"""
from __future__ import annotations

import os
import stat
from contextlib import contextmanager

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


class UnsafeFileError(ValueError):
    """A path is not a regular file, or is larger than the caller accepts."""


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


@contextmanager
def _open_regular(path: str, what: str):
    """A read-only descriptor of ``path`` and its ``fstat``, refused unless a regular file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeFileError(f"{path} is {_kind(info.st_mode)}, not a regular {what}; refusing to read it")
        yield fd, info
    finally:
        os.close(fd)


def read_regular_file(path, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of the regular file ``path``; refuse any other kind, or more than ``max_bytes``.

    Reads exactly the size ``fstat`` reported, plus one byte to notice a file that grew.
    """
    path = os.fspath(path)
    with _open_regular(path, what) as (fd, info):
        if info.st_size > max_bytes:
            raise UnsafeFileError(f"{path} is {info.st_size:,} bytes, above the {max_bytes:,}-byte limit for a {what}")
        chunks, left = [], info.st_size + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    data = b"".join(chunks)
    if len(data) > info.st_size:
        raise UnsafeFileError(f"{path} grew while it was read; refusing a {what} that is being written")
    return data


def read_head(path, size: int, what: str = "file") -> bytes:
    """The first ``size`` bytes of the regular file ``path`` (to sniff its format), with the same checks."""
    path = os.fspath(path)
    with _open_regular(path, what) as (fd, _):
        return os.read(fd, size)
