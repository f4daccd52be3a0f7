"""Dynamic batching with admission control: concurrent requests share one model call.

Samples wait in an asyncio queue; a collector takes the first, then gathers more until the
batch holds `max_batch_size` or `max_delay` has passed since the first, and runs the batch on a
worker thread, so the event loop never blocks on the model. At most `max_queue` samples wait
(not yet running): beyond that `submit` raises `QueueFull` at once (503 with Retry-After). A
sample still unanswered at its deadline raises `DeadlineExceeded` (504); one whose request is
gone (deadline, client disconnect) is dropped from its batch if the batch has not started.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


class QueueFull(RuntimeError):
    """More samples would wait than the queue admits."""


class DeadlineExceeded(TimeoutError):
    """A request waited longer than its deadline."""


class BatchFailed(RuntimeError):
    """The model call of a batch raised: every sample of the batch gets this as its result."""


@dataclass
class _Sample:
    prepared: object
    future: asyncio.Future
    queued_at: float = field(default_factory=time.monotonic)


class Batcher:
    """`await batcher.submit(prepared_samples, timeout)` -> the results of `run_batch`, in order.

    Args:
        run_batch: list of prepared samples -> list of results (one each), run on a worker thread.
        max_batch_size, max_delay: when a batch closes (seconds for the delay).
        max_queue: samples that may wait; more get QueueFull.
        workers: batches that may run at once (worker threads).
        observe: optional callbacks (batch_size, queue_depth) for metrics.
    """

    def __init__(self, run_batch, *, max_batch_size=8, max_delay=0.005, max_queue=64, workers=1, observe=None):
        if max_batch_size < 1 or max_queue < 1 or workers < 1 or max_delay < 0:
            raise ValueError("max_batch_size, max_queue and workers must be at least 1 and max_delay at least 0")
        self.run_batch = run_batch
        self.max_batch_size, self.max_delay, self.max_queue = max_batch_size, max_delay, max_queue
        self.workers = workers
        self.observe = observe
        self.waiting = 0  # samples submitted and not yet running
        self._queue: asyncio.Queue | None = None
        self._executor = None
        self._slots = None
        self._collector = None
        self._running: set = set()

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._slots = asyncio.Semaphore(self.workers)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="batch")
        self._collector = asyncio.create_task(self._collect())

    async def stop(self) -> None:
        """Finish what waits and runs, then stop the worker threads."""
        while self.waiting or self._running:
            await asyncio.sleep(0.01)
        if self._collector is not None:
            self._collector.cancel()
            await asyncio.gather(self._collector, return_exceptions=True)
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def submit(self, samples: list, timeout: float) -> list:
        """Queue the samples of one request and wait for their results."""
        if self._queue is None:
            raise RuntimeError("the batcher is not started")
        if self.waiting + len(samples) > self.max_queue:
            raise QueueFull(f"{self.waiting} samples wait already (at most {self.max_queue})")
        loop = asyncio.get_running_loop()
        queued = [_Sample(prepared, loop.create_future()) for prepared in samples]
        self.waiting += len(queued)
        self._report(0)
        for sample in queued:
            self._queue.put_nowait(sample)
        futures = [sample.future for sample in queued]
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.gather(*futures)), timeout)
        except asyncio.TimeoutError:
            raise DeadlineExceeded(f"no result within the deadline of {timeout:g} s") from None
        finally:
            for future in futures:  # the request is answered or gone: a waiting sample is not run
                if not future.done():
                    future.cancel()

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._slots.acquire()  # a worker is free; what queued meanwhile makes the next batch
            try:
                batch = await self._gather(loop)
            except BaseException:
                self._slots.release()
                raise
            self.waiting -= len(batch)
            live = [sample for sample in batch if not sample.future.done()]
            if not live:
                self._slots.release()
                continue
            self._report(len(live))
            task = asyncio.create_task(self._run(live, loop))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _gather(self, loop) -> list:
        """The first waiting sample and those that come until the batch is full or its delay is over."""
        batch = [await self._queue.get()]
        closes = loop.time() + self.max_delay
        while len(batch) < self.max_batch_size:
            left = closes - loop.time()
            try:
                batch.append(self._queue.get_nowait() if left <= 0 or not self._queue.empty() else
                             await asyncio.wait_for(self._queue.get(), left))
            except (asyncio.QueueEmpty, asyncio.TimeoutError):
                break
        return batch

    async def _run(self, batch: list, loop) -> None:
        try:
            results = await loop.run_in_executor(self._executor, self.run_batch, [s.prepared for s in batch])
            if len(results) != len(batch):
                raise RuntimeError(f"run_batch returned {len(results)} results for {len(batch)} samples")
        except Exception as error:  # the model failed: every request of the batch hears it
            log.exception("a batch of %d failed", len(batch))
            results = [BatchFailed(f"{type(error).__name__}: {error}")] * len(batch)
        finally:
            self._slots.release()
        for sample, result in zip(batch, results):
            if not sample.future.done():
                sample.future.set_result(result)

    def _report(self, batch_size: int) -> None:
        if self.observe is not None:
            self.observe(batch_size, self.waiting)
