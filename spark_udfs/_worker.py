"""Ship a codec to Spark's Python workers as artifact bytes and rebuild it once per worker.

The driver broadcasts ``codec.to_bytes()`` (never a pickled object). Each Python worker
rebuilds the codec with ``Codec.from_bytes`` the first time a task needs it and keeps it
in a per-process cache keyed by fingerprint, so later tasks and batches reuse it.
"""
from __future__ import annotations

from dataclasses import dataclass
from hashlib import sha256

_CACHE: dict = {}
_THREADS_SET = False


@dataclass(frozen=True)
class CodecHandle:
    """What a task closure carries: the broadcast artifact bytes and their fingerprint."""

    broadcast: object  # pyspark Broadcast of bytes
    fingerprint: str

    def get(self):
        return worker_codec(self)


def broadcast_codec(spark, codec) -> CodecHandle:
    """Broadcast ``codec``'s artifact bytes once; tasks rebuild it with :func:`worker_codec`."""
    blob = codec.to_bytes()
    return CodecHandle(spark.sparkContext.broadcast(blob), codec.fingerprint)


def _limit_threads() -> None:
    """One faiss thread per Python worker: Spark already runs one worker per core."""
    global _THREADS_SET
    if not _THREADS_SET:
        import faiss

        faiss.omp_set_num_threads(1)
        _THREADS_SET = True


def worker_codec(handle: CodecHandle):
    """The codec for ``handle``, rebuilt from the broadcast bytes at most once per process."""
    codec = _CACHE.get(handle.fingerprint)
    if codec is None:
        from embcompress import Codec

        _limit_threads()
        blob = handle.broadcast.value
        got = sha256(blob).hexdigest()
        if got != handle.fingerprint:
            raise RuntimeError(f"broadcast codec artifact has fingerprint {got[:12]}, expected "
                               f"{handle.fingerprint[:12]}: the broadcast was corrupted, rerun the job")
        codec = Codec.from_bytes(blob)
        _CACHE[handle.fingerprint] = codec
    return codec
