"""Carry a codec into workers as artifact bytes and rebuild it once per worker process.

A transform accepts a :class:`embcompress.Codec`, raw artifact bytes, a singleton
PCollection of artifact bytes, or an ``AsSingleton`` side input of one. Only the bytes
travel (never a pickled Codec); :func:`codec_from_blob` rebuilds the codec through
``Codec.from_bytes`` and caches it per process with Beam's ``Shared``, keyed by the
artifact's sha256, so every DoFn instance in a worker shares one faiss index.
"""
from __future__ import annotations

import os
from hashlib import sha256
from typing import Literal, TypeAlias, Union

import apache_beam as beam
from apache_beam.pvalue import AsSingleton, PCollection
from apache_beam.utils.shared import Shared

from embcompress import Codec

#: What a transform's ``codec`` argument may be (see the module docstring).
CodecArg: TypeAlias = Union[Codec, bytes, bytearray, memoryview, AsSingleton, PCollection]
#: ``"auto"`` (one faiss thread per worker thread), None (faiss's default) or a thread count.
FaissThreads: TypeAlias = Union[int, Literal["auto"], None]

_SHARED = Shared()


class _CodecHandle:
    """Weak-referenceable holder for ``Shared`` (the cache keeps weak references only)."""

    def __init__(self, codec: Codec):
        self.codec = codec


def codec_from_blob(blob: bytes) -> _CodecHandle:
    """A handle on the codec for these artifact bytes, built at most once per process while held."""
    blob = bytes(blob)
    return _SHARED.acquire(lambda: _CodecHandle(Codec.from_bytes(blob)), tag=sha256(blob).hexdigest())


def split_codec_arg(codec):
    """Return ``(blob, side_input)``: exactly one of them is not None.

    ``blob`` is the artifact bytes of an in-memory codec; ``side_input`` an ``AsSingleton``
    view of a PCollection holding artifact bytes.
    """
    if isinstance(codec, Codec):
        return codec.to_bytes(), None
    if isinstance(codec, (bytes, bytearray, memoryview)):
        return Codec.from_bytes(bytes(codec)).to_bytes(), None
    if isinstance(codec, AsSingleton):
        return None, codec
    if isinstance(codec, PCollection):
        return None, AsSingleton(codec)
    raise TypeError(f"codec must be an embcompress.Codec, artifact bytes, a singleton PCollection of artifact "
                    f"bytes or beam.pvalue.AsSingleton of one, got {type(codec).__name__}")


def limit_faiss_threads(faiss_threads, built_in_pid: int) -> None:
    """Pin faiss's OpenMP threads in a worker process.

    ``"auto"``: one thread when running in a process other than the one that built the
    pipeline (Beam multi-processing, Dataflow, Flink: several Python workers share the
    cores); otherwise leave faiss's default. An int sets that many threads.
    """
    import faiss

    if faiss_threads == "auto":
        if os.getpid() != built_in_pid:
            faiss.omp_set_num_threads(1)
    elif faiss_threads is not None:
        faiss.omp_set_num_threads(int(faiss_threads))


class CodecDoFn(beam.DoFn):
    """Base for DoFns that need the codec: resolves it from constant bytes or the side input."""

    def __init__(self, blob, faiss_threads="auto"):
        self._blob = blob
        self._faiss_threads = faiss_threads
        self._built_in_pid = os.getpid()
        self._handle = None
        self._handle_blob = None

    def setup(self):
        limit_faiss_threads(self._faiss_threads, self._built_in_pid)
        if self._blob is not None:
            self._handle = codec_from_blob(self._blob)

    def codec(self, side_blob=None) -> Codec:
        """The codec: from the constant bytes, or the side input's (rebuilt only when they change)."""
        if side_blob is not None and side_blob is not self._handle_blob:
            self._handle = codec_from_blob(side_blob)
            self._handle_blob = side_blob
        return self._handle.codec
