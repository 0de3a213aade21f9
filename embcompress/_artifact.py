"""The codec artifact: one self-describing, checksummed blob. Never pickle.

Byte layout (all integers little-endian)::

    offset      size  field
    0           8     magic  b"EMBCODEC"
    8           2     format version (uint16), currently 1
    10          2     flags (uint16), reserved, 0
    12          4     H: header length in bytes (uint32), at most 1 MiB
    16          8     P: array payload length in bytes (uint64), at most 4 GiB
    24          H     header: UTF-8 JSON object (spec, dim, metric, seed, versions, fit
                      statistics, and "arrays": [{name, dtype, shape, offset, nbytes}])
    24+H        P     payload: the raw little-endian arrays, at the offsets the header gives
    24+H+P      32    sha256 of bytes [0, 24+H+P)

The blob's total length must equal 24 + H + P + 32 exactly. All sizes are checked against
that length before anything is parsed, so a hostile file cannot make the loader allocate
more than the file itself; arrays are read-only views into the blob, never copies.

A signed artifact (``Codec.to_bytes(key=...)``) carries one more trailer after the sha256::

    24+H+P+32   8     b"EMBHMAC1"
    24+H+P+40   32    HMAC-SHA256(key, bytes [0, 24+H+P+32))

The sha256 proves the bytes are intact; the HMAC proves they were written by someone who
holds the key. The codec's fingerprint is the sha256 of the unsigned part, so a codec has one
fingerprint whether or not it travels signed.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import struct

import numpy as np

from .errors import ArtifactError

MAGIC = b"EMBCODEC"
FORMAT_VERSION = 1
MAX_HEADER_BYTES = 1 << 20
MAX_PAYLOAD_BYTES = 1 << 32
_PREFIX = struct.Struct("<8sHHIQ")
_DIGEST = 32
_DTYPES = {"float32": "<f4", "float64": "<f8", "uint8": "|u1", "int64": "<i8", "int32": "<i4", "uint16": "<u2"}
_ALIGN = 16
MAC_MAGIC = b"EMBHMAC1"
MAC_BYTES = len(MAC_MAGIC) + 32
MIN_KEY_BYTES = 16


def pack(header: dict, arrays: dict) -> bytes:
    """Serialize ``header`` (JSON-able dict) and named numpy ``arrays`` into one blob."""
    table, chunks, offset = [], [], 0
    for name in sorted(arrays):
        arr = np.asarray(arrays[name])
        dtype = arr.dtype.name
        if dtype not in _DTYPES:
            raise TypeError(f"artifact array {name!r} has unsupported dtype {dtype}")
        data = np.ascontiguousarray(arr, dtype=np.dtype(_DTYPES[dtype])).tobytes()
        pad = (-offset) % _ALIGN
        chunks.append(b"\0" * pad)
        offset += pad
        table.append({"name": name, "dtype": dtype, "shape": list(arr.shape), "offset": offset, "nbytes": len(data)})
        chunks.append(data)
        offset += len(data)
    body = json.dumps({**header, "arrays": table}, sort_keys=True, separators=(",", ":")).encode("utf-8")
    payload = b"".join(chunks)
    prefix = _PREFIX.pack(MAGIC, FORMAT_VERSION, 0, len(body), len(payload))
    content = prefix + body + payload
    return content + hashlib.sha256(content).digest()


def _check_key(key) -> bytes:
    if not isinstance(key, (bytes, bytearray)) or len(key) < MIN_KEY_BYTES:
        got = f"{len(key)} bytes" if isinstance(key, (bytes, bytearray)) else type(key).__name__
        raise ValueError(f"an artifact key must be bytes of at least {MIN_KEY_BYTES} bytes (e.g. os.urandom(32)), "
                         f"got {got}")
    return bytes(key)


def _mac(key: bytes, blob: bytes) -> bytes:
    return hmac.new(key, blob, hashlib.sha256).digest()


def sign(blob: bytes, key) -> bytes:
    """``blob`` followed by its HMAC-SHA256 trailer under ``key``."""
    return bytes(blob) + MAC_MAGIC + _mac(_check_key(key), bytes(blob))


def _signed_length(blob: bytes):
    """The length of the unsigned part when ``blob`` ends in a MAC trailer, else None."""
    if len(blob) < _PREFIX.size + _DIGEST + MAC_BYTES:
        return None
    _, _, _, h_len, p_len = _PREFIX.unpack_from(blob, 0)
    unsigned = _PREFIX.size + h_len + p_len + _DIGEST
    if len(blob) == unsigned + MAC_BYTES and blob[unsigned: unsigned + len(MAC_MAGIC)] == MAC_MAGIC:
        return unsigned
    return None


def strip_mac(blob) -> bytes:
    """The unsigned artifact: ``blob`` without its MAC trailer, if it has one (not verified)."""
    blob = bytes(blob)
    unsigned = _signed_length(blob)
    return blob if unsigned is None else blob[:unsigned]


def verify_mac(blob, key) -> bytes:
    """The unsigned artifact, after checking its HMAC under ``key``; ArtifactError if unsigned or wrong."""
    key = _check_key(key)
    blob = bytes(blob)
    unsigned = _signed_length(blob)
    if unsigned is None:
        raise ArtifactError("artifact is not signed, but a key was given: refusing an unauthenticated codec "
                            "(sign it with Codec.to_bytes(key=...) or Codec.save(..., key=...))")
    if not hmac.compare_digest(_mac(key, blob[:unsigned]), blob[unsigned + len(MAC_MAGIC):]):
        raise ArtifactError("artifact signature does not match the key: it was signed with another key or modified")
    return blob[:unsigned]


def unpack(blob) -> tuple[dict, dict]:
    """Verify and parse a blob into ``(header, arrays)``; raise ArtifactError on any defect."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise ArtifactError(f"artifact must be bytes, got {type(blob).__name__}")
    blob = bytes(blob)
    if len(blob) < _PREFIX.size + _DIGEST:
        raise ArtifactError(f"artifact is truncated or empty: {len(blob)} bytes, a valid one has at least "
                            f"{_PREFIX.size + _DIGEST}")
    magic, version, _flags, h_len, p_len = _PREFIX.unpack_from(blob, 0)
    if magic != MAGIC:
        hint = " (it looks like a pickle, which embcompress never loads)" if blob[:1] == b"\x80" else ""
        raise ArtifactError(f"not an embcompress codec artifact: bad magic bytes {magic!r}{hint}")
    if version > FORMAT_VERSION:
        raise ArtifactError(f"artifact format version {version} is newer than this embcompress supports "
                            f"({FORMAT_VERSION}); upgrade embcompress to load it")
    if version < 1:
        raise ArtifactError(f"artifact format version {version} is invalid")
    if h_len > MAX_HEADER_BYTES or p_len > MAX_PAYLOAD_BYTES:
        raise ArtifactError(f"artifact header claims implausible sizes (header {h_len} B, payload {p_len} B)")
    expected = _PREFIX.size + h_len + p_len + _DIGEST
    if len(blob) != expected:
        raise ArtifactError(f"artifact is truncated or has trailing bytes: {len(blob)} bytes, header says {expected}")
    content, digest = blob[:-_DIGEST], blob[-_DIGEST:]
    if hashlib.sha256(content).digest() != digest:
        raise ArtifactError("artifact checksum mismatch: the file is corrupted or was modified")
    try:
        header = json.loads(blob[_PREFIX.size: _PREFIX.size + h_len].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ArtifactError(f"artifact header is not valid JSON: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("arrays"), list):
        raise ArtifactError("artifact header must be a JSON object with an 'arrays' list")
    payload = memoryview(blob)[_PREFIX.size + h_len: _PREFIX.size + h_len + p_len]
    arrays = {}
    for entry in header.pop("arrays"):
        name, arr = _read_array(entry, payload)
        arrays[name] = arr
    return header, arrays


def _read_array(entry, payload: memoryview):
    try:
        name, dtype, shape = entry["name"], entry["dtype"], entry["shape"]
        offset, nbytes = entry["offset"], entry["nbytes"]
    except (KeyError, TypeError):
        raise ArtifactError(f"artifact array entry is malformed: {entry!r:.200}") from None
    if not isinstance(name, str) or dtype not in _DTYPES:
        raise ArtifactError(f"artifact array {name!r:.100} has unsupported dtype {dtype!r:.50}")
    ints = [offset, nbytes, *shape] if isinstance(shape, list) else None
    if ints is None or len(shape) > 4 or not all(type(i) is int and i >= 0 for i in ints):
        raise ArtifactError(f"artifact array {name!r} has an invalid shape or offset")
    itemsize = np.dtype(_DTYPES[dtype]).itemsize
    count = 1
    for s in shape:
        count *= s
    if count * itemsize != nbytes or offset + nbytes > len(payload):
        raise ArtifactError(f"artifact array {name!r} claims {count} elements ({count * itemsize} B), "
                            f"which does not fit the {len(payload)} B payload")
    arr = np.frombuffer(payload[offset: offset + nbytes], dtype=np.dtype(_DTYPES[dtype])).reshape(shape)
    return name, arr
