"""Ship a codec to Spark's Python workers as artifact bytes and rebuild it once per worker.

A classic session broadcasts ``codec.to_bytes()`` (never a pickled object), so each executor
fetches it once. Spark Connect has no SparkContext and so no broadcast: there the bytes
travel inside the task's closure, which Spark sends with the plan (docs/spark.md gives what
each way costs). Either way each Python worker rebuilds the codec with ``Codec.from_bytes``
the first time a task needs it and keeps it in a per-process cache keyed by fingerprint.
"""
from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from . import _session

_CACHE: dict = {}
_THREADS_SET = False


SHIP_MODES = ("auto", "broadcast", "closure")


@dataclass(frozen=True)
class Shipped:
    """Bytes a task closure carries: a broadcast of them, or the bytes themselves."""

    payload: Any  # a pyspark Broadcast of bytes (classic), or the bytes (Connect)

    def blob(self) -> bytes:
        return bytes(self.payload) if isinstance(self.payload, (bytes, bytearray)) else self.payload.value


@dataclass(frozen=True)
class CodecHandle:
    """What a task closure carries to rebuild a codec: its shipped artifact bytes and their fingerprint."""

    shipped: Shipped
    fingerprint: str

    def blob(self) -> bytes:
        return self.shipped.blob()

    def get(self):
        return worker_codec(self)


def ship_bytes(spark, blob: bytes, *, how: str = "auto") -> Shipped:
    """``blob`` made available to tasks: ``how`` is ``"broadcast"``, ``"closure"`` or ``"auto"``
    (a broadcast on classic sessions; inside the closure on Spark Connect, which has none)."""
    if how not in SHIP_MODES:
        raise ValueError(f"how must be one of {SHIP_MODES}, got {how!r}")
    if how == "closure" or (how == "auto" and _session.is_connect(spark)):
        return Shipped(bytes(blob))
    return Shipped(spark.sparkContext.broadcast(bytes(blob)))


def broadcast_codec(spark, codec, *, how: str = "auto") -> CodecHandle:
    """The handle tasks rebuild ``codec`` from, shipped as :func:`ship_bytes` says."""
    return CodecHandle(ship_bytes(spark, codec.to_bytes(), how=how), codec.fingerprint)


def _limit_threads() -> None:
    """One faiss thread per Python worker: Spark already runs one worker per core."""
    global _THREADS_SET
    if not _THREADS_SET:
        import faiss

        faiss.omp_set_num_threads(1)
        _THREADS_SET = True


def worker_codec(handle: CodecHandle):
    """The codec for ``handle``, rebuilt from the shipped bytes at most once per process."""
    codec = _CACHE.get(handle.fingerprint)
    if codec is None:
        from embcompress import Codec

        _limit_threads()
        blob = handle.blob()
        got = sha256(blob).hexdigest()
        if got != handle.fingerprint:
            raise RuntimeError(f"shipped codec artifact has fingerprint {got[:12]}, expected "
                               f"{handle.fingerprint[:12]}: the artifact was corrupted in transit, rerun the job")
        codec = Codec.from_bytes(bytes(blob))
        _CACHE[handle.fingerprint] = codec
    return codec
