"""Shared by the executor-side draws: the oversampling rate, and rows packed as Arrow IPC blobs.

A task's picks travel to the driver as one-value binary columns holding an Arrow IPC stream,
which the driver opens without copying.
"""
from __future__ import annotations

import math
import zlib

import numpy as np
import pyarrow as pa

SAFETY_SIGMAS = 6  # oversampling margin in binomial standard deviations: a short draw is ~1e-9 likely


def oversampled_fraction(sample_size: int, rows: float) -> float:
    """The Bernoulli rate that yields at least ``sample_size`` of ``rows`` rows but for a
    ~1e-9 chance, with a margin of a few binomial standard deviations rather than a fixed
    10%: every extra row is sent to the driver and then cut."""
    if rows <= sample_size:
        return 1.0
    # the draw has mean w and sd <= sqrt(w); w - z*sqrt(w) >= sample_size gives this w
    wanted = (SAFETY_SIGMAS / 2 + math.sqrt(SAFETY_SIGMAS ** 2 / 4 + sample_size)) ** 2
    return min(1.0, wanted / rows)


def ipc_blob(batch: pa.RecordBatch) -> pa.BinaryArray:
    """``batch`` as an Arrow IPC stream in a one-value binary array."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return one_blob(sink.getvalue())


def one_blob(buf: pa.Buffer) -> pa.BinaryArray:
    """A one-element binary array over ``buf`` without copying it."""
    offsets = pa.py_buffer(np.array([0, buf.size], dtype=np.int32).tobytes())
    return pa.Array.from_buffers(pa.binary(), 1, [None, offsets, buf])


def buffers(column: pa.ChunkedArray):
    """Each value of a binary (or large_binary) column as a zero-copy Buffer, None where null."""
    width = np.int64 if pa.types.is_large_binary(column.type) else np.int32
    for chunk in column.chunks:
        _, offsets, data = chunk.buffers()
        ends = np.frombuffer(offsets, dtype=width)[chunk.offset:chunk.offset + len(chunk) + 1]
        valid = chunk.is_valid().to_numpy(zero_copy_only=False) if chunk.null_count else np.ones(len(chunk), bool)
        for start, end, ok in zip(ends[:-1], ends[1:], valid):
            yield data.slice(int(start), int(end - start)) if ok else None


def blobs(column: pa.ChunkedArray):
    """Each non-null value of a binary (or large_binary) column as a zero-copy Buffer."""
    return (buf for buf in buffers(column) if buf is not None)


def row_group_draws(scan, batches, column, seed):
    """Walk a task's row groups as ``(group index, batch seq, vectors, u, non-null)``.

    ``u`` holds one uniform draw per row from a generator seeded by (seed, file name, row
    group), so a rate compared with it picks the same rows whatever the task split or batch
    size; both executor-side samplers draw from here.
    """
    for index, group in scan.task_groups(batches):
        rng = np.random.default_rng([seed, zlib.crc32(group.name.encode()), group.index])
        for seq, data in enumerate(scan.read(group, [column])):
            vectors = data.column(0)
            u = rng.random(len(vectors))
            valid = vectors.is_valid().to_numpy(zero_copy_only=False) if vectors.null_count else None
            yield index, seq, vectors, u, valid


def ipc_column(column: pa.ChunkedArray, field_type: pa.DataType) -> pa.Array:
    """The first column of every IPC blob in ``column``, concatenated once, as ``field_type``."""
    parts = [pa.ipc.open_stream(blob).read_all().column(0) for blob in blobs(column)]
    return pa.chunked_array([c for part in parts for c in part.chunks], field_type).combine_chunks()
