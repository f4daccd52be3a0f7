"""The prefetch worker: order kept, bounded look-ahead, errors raised in the consumer, stops when closed."""
import threading
import time

import pytest

from ssd_resnet50.inference.prefetch import prefetched


def test_items_come_in_order_and_never_more_than_depth_ahead():
    produced = []

    def source():
        for k in range(50):
            produced.append(k)
            yield k

    taken = []
    for item in prefetched(source(), depth=3):
        time.sleep(0.002)  # a slow consumer: the worker would run far ahead if nothing held it
        assert len(produced) <= len(taken) + 1 + 3 + 1  # this item, the queue, the one being offered
        taken.append(item)
    assert taken == list(range(50))


def test_a_worker_error_is_raised_in_the_consumer_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise OSError("disk gone")

    taken = []
    with pytest.raises(OSError, match="disk gone"):
        for item in prefetched(source(), depth=2):
            taken.append(item)
    assert taken == [1, 2]


def test_closing_early_stops_the_worker():
    def endless():
        k = 0
        while True:
            k += 1
            yield k

    stream = prefetched(endless(), depth=2)
    assert next(stream) == 1
    stream.close()
    assert not any(t.name == "ssd-resnet50-prefetch" and t.is_alive() for t in threading.enumerate())


def test_depth_zero_runs_in_the_calling_thread():
    threads = []

    def source():
        threads.append(threading.current_thread())
        yield 1

    assert list(prefetched(source(), depth=0)) == [1] and threads == [threading.current_thread()]
