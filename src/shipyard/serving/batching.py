"""Adaptive micro-batching: many concurrent requests, one model call.

Each request gets its own future. A single loop task per model takes the
first waiting request, drains whatever else is already queued, and - only
when recent batches were larger than what it has (so more requests are
demonstrably on their way) - waits up to ``max_wait_ms`` for the batch to
fill. Under light load nothing waits: a lone request runs at once. The batch
runs in the model's own thread, so the event loop keeps accepting and
parsing requests meanwhile; those form the next batch. An exception from the
batch function reaches every waiter of that batch; a per-item exception
(returned in the results list) reaches only its own waiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from shipyard.errors import ShipyardError

INLINE_MAX_MS = 5.0
T = TypeVar("T")
R = TypeVar("R")


class BatcherClosed(ShipyardError):
    """The batcher was shut down before the request could run."""


class BatchObserver(Protocol):
    def observe_batch(self, size: int, queue_waits_s: Sequence[float], run_s: float) -> None: ...

    def observe_queue_depth(self, depth: int) -> None: ...


@dataclass(frozen=True)
class BatchingConfig:
    """Per-model batching knobs (``max_batch_size=1`` turns batching off)."""

    max_batch_size: int = 64
    max_wait_ms: float = 2.0

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {self.max_batch_size}")
        if self.max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, got {self.max_wait_ms}")


@dataclass
class _Pending(Generic[T, R]):
    item: T
    future: asyncio.Future[R]
    enqueued: float = field(default_factory=time.perf_counter)


class MicroBatcher(Generic[T, R]):
    """Groups items submitted concurrently into calls of ``run_batch``.

    ``run_batch(items)`` returns one result per item, in order; an element
    that is an ``Exception`` fails only that item.
    """

    def __init__(
        self,
        run_batch: Callable[[list[T]], Sequence[R | BaseException]],
        config: BatchingConfig | None = None,
        *,
        name: str = "model",
        observer: BatchObserver | None = None,
    ) -> None:
        self._run_batch = run_batch
        self.config = config or BatchingConfig()
        self._observer = observer
        self._queue: asyncio.Queue[_Pending[T, R]] = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"batch-{name}")
        self._task: asyncio.Task[None] | None = None
        self._expected = 1.0  # moving average of recent batch sizes
        self._closed = False
        self._busy = False
        self._collecting = False
        self._arrivals = 0  # requests inside submit() right now
        self._run_ms = math.inf  # moving average of a model call; unknown until measured

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def submit(self, item: T) -> R:
        """Run ``item`` in the next batch and return its result (or raise its error)."""
        if self._closed:
            raise BatcherClosed("the model is shutting down")
        self._arrivals += 1
        try:
            if self._idle():
                # One turn of the loop lets requests that arrived together find each
                # other; a request still alone after it runs inline (see _run_inline).
                await asyncio.sleep(0)
                if self._arrivals == 1 and self._idle():
                    return self._run_inline(item)
            self.start()
            future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
            self._queue.put_nowait(_Pending(item, future))
            if self._observer is not None:
                self._observer.observe_queue_depth(self._queue.qsize())
            return await future
        finally:
            self._arrivals -= 1

    def _idle(self) -> bool:
        return (
            not self._busy
            and not self._collecting
            and self._queue.empty()
            and self._run_ms <= INLINE_MAX_MS
        )

    def _run_inline(self, item: T) -> R:
        """An idle, fast model answers a lone request right here: no queue, no task
        switch, no thread hand-off; nothing else is waiting, so nothing is delayed."""
        started = time.perf_counter()
        self._busy = True
        try:
            result = self._run_batch([item])[0]
        finally:
            self._busy = False
            took = time.perf_counter() - started
            self._run_ms = 0.8 * self._run_ms + 0.2 * took * 1000
            if self._observer is not None:
                self._observer.observe_batch(1, (0.0,), took)
        if isinstance(result, BaseException):
            raise result
        return result

    def _timed(self, items: list[T]) -> tuple[Sequence[R | BaseException], float]:
        started = time.perf_counter()
        results = self._run_batch(items)
        return results, time.perf_counter() - started

    async def _collect(self) -> list[_Pending[T, R]]:
        batch = [await self._queue.get()]
        self._collecting = True
        limit = self.config.max_batch_size
        await asyncio.sleep(0)  # let requests that are already readable enqueue
        self._drain(batch, limit)
        wait_s = self.config.max_wait_ms / 1000
        if len(batch) < limit and wait_s > 0 and self._expected > len(batch) + 0.5:
            deadline = time.perf_counter() + wait_s
            while len(batch) < min(limit, round(self._expected)):
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
                self._drain(batch, limit)
        self._expected = 0.8 * self._expected + 0.2 * len(batch)
        self._collecting = False
        return batch

    def _drain(self, batch: list[_Pending[T, R]], limit: int) -> None:
        while len(batch) < limit:
            try:
                batch.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                return

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            live = [p for p in batch if not p.future.done()]  # skip cancelled requests
            if not live:
                continue
            started = time.perf_counter()
            self._busy = True
            try:
                if len(live) == 1 and self._queue.empty() and self._run_ms <= INLINE_MAX_MS:
                    # Nobody else is waiting and the model is known to be fast: run on the
                    # loop thread and skip two thread hand-offs, so a lone request costs
                    # what an unbatched call costs. A slow model never runs here, so it
                    # cannot stall the event loop (or the other models on it).
                    results, took_s = self._timed([live[0].item])
                else:
                    results, took_s = await loop.run_in_executor(
                        self._executor, self._timed, [p.item for p in live]
                    )
                # The model's own time, not the thread hand-off: on a busy machine the
                # hand-off alone can exceed INLINE_MAX_MS and keep a fast model off the loop.
                took_ms = took_s * 1000
                self._run_ms = (
                    took_ms if math.isinf(self._run_ms) else (0.8 * self._run_ms + 0.2 * took_ms)
                )
                if len(results) != len(live):
                    raise RuntimeError(
                        f"batch function returned {len(results)} results for {len(live)} items"
                    )
            except Exception as exc:  # delivered to every waiter of this batch
                for pending in live:
                    if not pending.future.done():
                        pending.future.set_exception(exc)
                continue
            finally:
                self._busy = False
                if self._observer is not None:
                    self._observer.observe_batch(
                        len(live),
                        [started - p.enqueued for p in live],
                        time.perf_counter() - started,
                    )
            for pending, result in zip(live, results, strict=True):
                if pending.future.done():
                    continue
                if isinstance(result, BaseException):
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(result)

    async def close(self, drain_timeout_s: float = 30.0) -> None:
        """Stop taking new work, finish what is queued (up to a timeout), release the thread."""
        self._closed = True
        deadline = time.perf_counter() + drain_timeout_s
        while (not self._queue.empty() or self._busy) and time.perf_counter() < deadline:
            await asyncio.sleep(0.005)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(BatcherClosed("the model is shutting down"))
        self._executor.shutdown(wait=True)
