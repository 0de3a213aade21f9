"""prefetched(): order kept, errors raised where they happen, the producer stops when the caller does."""
import threading
import time

import pytest

from embcompress._prefetch import prefetched


@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("n", [0, 1, 50])
def test_yields_every_item_in_order(n, depth):
    assert list(prefetched(iter(range(n)), depth=depth)) == list(range(n))


def test_producer_error_is_raised_after_the_items_before_it():
    def items():
        yield 1
        yield 2
        raise ValueError("row group 3 is corrupt")

    got = []
    with pytest.raises(ValueError, match="row group 3 is corrupt"):
        for item in prefetched(items()):
            got.append(item)
    assert got == [1, 2]


def test_reads_at_most_depth_items_ahead():
    produced = []

    def items():
        for i in range(10):
            produced.append(i)
            yield i

    stream = prefetched(items(), depth=1)
    assert next(stream) == 0
    time.sleep(0.1)
    assert len(produced) <= 3  # the one handed out, one queued, one waiting to be queued
    stream.close()


def test_closing_early_stops_the_producer_thread():
    def endless():
        i = 0
        while True:
            yield i
            i += 1

    before = threading.active_count()
    stream = prefetched(endless())
    assert [next(stream) for _ in range(5)] == [0, 1, 2, 3, 4]
    stream.close()
    deadline = time.time() + 2
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


@pytest.mark.parametrize("depth", [0, -1, 1.5, True])
def test_a_depth_below_one_is_refused_at_the_call(depth):
    with pytest.raises(ValueError, match="depth must be a positive integer"):
        prefetched(iter([1]), depth=depth)
