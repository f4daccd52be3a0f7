"""Run a generator ahead on a worker thread, a bounded number of items ahead.

The Detector decodes and pre-processes the next batch this way while the network runs on the
current one (OpenCV, NumPy and the inference engines release the GIL while they compute).
Memory is bounded by `depth`, never by the number of inputs.
"""
import queue
import threading

_END = object()


def prefetched(iterable, depth=2):
    """The items of `iterable` in order, produced by a worker thread at most `depth` ahead
    (`depth` 0: in this thread, no worker). An exception in the worker is raised here; closing
    this generator early stops the worker."""
    if depth <= 0:
        yield from iterable
        return
    handoff = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(entry) -> bool:
        while not stop.is_set():
            try:
                handoff.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work():
        try:
            for item in iterable:
                if not offer((item, None)):
                    return
            offer((_END, None))
        except BaseException as error:  # noqa: BLE001 - handed to the consumer, raised there
            offer((_END, error))

    worker = threading.Thread(target=work, name="ssd-resnet50-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = handoff.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
