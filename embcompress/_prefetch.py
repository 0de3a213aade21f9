"""Read ahead: produce the next item of an iterator on a background thread while the caller
works on the current one.

The streaming encode alternates a Parquet read (pyarrow, which releases the GIL) with an
encode (numpy and faiss, which release it too); reading the next batch during the encode
overlaps the two on separate cores. Order is kept, memory is bounded (see ``prefetched``), and
an exception in the producer is raised in the caller at the item where it happened.
"""
from __future__ import annotations

import queue
import threading
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")
_END = object()


def prefetched(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Yield ``items`` in order while a daemon thread reads ahead.

    Besides the item the caller holds, at most ``depth`` items wait in the queue and one more
    is being produced, so ``depth + 2`` items are alive at the most.
    """
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        raise ValueError(f"depth must be a positive integer, got {depth!r}")
    return _read_ahead(items, depth)


def _read_ahead(items: Iterable[T], depth: int) -> Iterator[T]:
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce():
        try:
            for item in items:
                if stop.is_set():
                    return
                slots.put((item, None))
                item = None  # the queue holds it now; keep no second reference while reading the next
            slots.put((_END, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            slots.put((_END, exc))

    worker = threading.Thread(target=produce, name="embcompress-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = slots.get()
            if item is _END:
                if exc is not None:
                    raise exc
                return
            yield item
            item = None  # drop our reference: the caller may free the item before asking for the next
    finally:
        stop.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue, then let it finish
            try:
                slots.get_nowait()
            except queue.Empty:
                pass
            worker.join(timeout=0.01)
