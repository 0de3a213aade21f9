"""Refuse a write whose output would land on, inside, or around one of its inputs.

Every writer (the CLI, ``parquet_io``, Spark's and Beam's ``compress_parquet``/``CompressParquet``,
the nightly job) calls :func:`check_no_alias` with its inputs and outputs before it deletes or
creates anything: writing a result over its own input (``compress_parquet(path, path,
mode="overwrite")``, ``--rejected`` equal to the input) destroys the data it was about to read.
"""
from __future__ import annotations

import os
import posixpath
import re
from urllib.parse import urlsplit

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_GLOB = re.compile(r"[*?\[]")
_S3_ALIASES = ("s3a", "s3n")  # Hadoop's names for the same buckets as s3://


class PathConflictError(ValueError):
    """An output equals, contains or lies inside an input, or two outputs are the same path."""


def _local(path: str) -> str:
    """Absolute path with symlinks resolved (for the part that exists)."""
    return os.path.realpath(os.path.abspath(os.path.expanduser(path)))


def resolve(path) -> str:
    """A comparable form of ``path``: local paths (and ``file:`` URIs) absolute with symlinks
    resolved; other URIs with a lower-case scheme and host and a normalised path (``s3a://``
    and ``s3n://`` become ``s3://``: the same bucket). A glob
    (``in/*.parquet``) is reduced to the folder before its first wildcard."""
    text = str(os.fspath(path))
    match = _GLOB.search(text)
    if match:
        head = text[: match.start()]
        text = (head.rsplit("/", 1)[0] or "/") if "/" in head else "."
    if text.startswith("file:"):
        text = urlsplit(text).path or "/"
    if not _SCHEME.match(text):
        return _local(text)
    parts = urlsplit(text)
    clean = posixpath.normpath(parts.path or "/")
    scheme = "s3" if parts.scheme.lower() in _S3_ALIASES else parts.scheme.lower()
    return f"{scheme}://{parts.netloc.lower()}{'' if clean == '.' else clean}".rstrip("/")


def _inside(child: str, parent: str) -> bool:
    return child != parent and child.startswith(parent.rstrip("/") + "/")


def _same_file(a: str, b: str) -> bool:
    """Hard links and bind mounts: two existing local paths naming one file."""
    try:
        return not _SCHEME.match(a) and os.path.samefile(a, b)
    except OSError:
        return False


def _entries(paths: dict) -> list:
    """``(role, path as given, resolved path)`` for each path; a list value gives one entry per path."""
    out = []
    for role, value in paths.items():
        for p in (value if isinstance(value, (list, tuple)) else [value]):
            if p is not None:
                out.append((role, str(os.fspath(p)), resolve(p)))
    return out


def check_no_alias(inputs, outputs) -> None:
    """Raise PathConflictError unless every output is apart from every input and from the others.

    ``inputs`` and ``outputs`` are ``{role: path}`` mappings (``{"input": ..., "--rejected": ...}``),
    so the message names the arguments in conflict; a value may be a list of paths, and None
    paths are skipped.
    """
    ins, outs = _entries(inputs), _entries(outputs)
    for o_role, o_raw, o in outs:
        for i_role, i_raw, i in ins:
            if o == i or _same_file(o, i):
                why = "is the same path as"
            elif _inside(o, i):
                why = "lies inside"
            elif _inside(i, o):
                why = "contains"
            else:
                continue
            raise PathConflictError(f"{o_role} {o_raw} {why} {i_role} {i_raw}: writing it would destroy the input "
                                    f"before it is read; choose an output path apart from the input")
    for a, (a_role, a_raw, a_path) in enumerate(outs):
        for b_role, b_raw, b_path in outs[a + 1:]:
            if a_path == b_path or _same_file(a_path, b_path):
                raise PathConflictError(f"{a_role} {a_raw} and {b_role} {b_raw} are the same path; one output "
                                        f"would overwrite the other")
