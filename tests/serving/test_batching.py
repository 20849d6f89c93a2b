"""The micro-batcher: one future per request, shared errors, adaptive waiting."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from shipyard.serving.batching import BatcherClosed, BatchingConfig, MicroBatcher


class Recorder:
    def __init__(self) -> None:
        self.sizes: list[int] = []
        self.waits: list[float] = []
        self.depths: list[int] = []

    def observe_batch(self, size: int, queue_waits_s: Sequence[float], run_s: float) -> None:
        self.sizes.append(size)
        self.waits.extend(queue_waits_s)

    def observe_queue_depth(self, depth: int) -> None:
        self.depths.append(depth)


def doubler(delay: float = 0.0):
    calls: list[list[int]] = []

    def run(items: list[int]) -> list[int]:
        calls.append(list(items))
        if delay:
            time.sleep(delay)
        return [i * 2 for i in items]

    return run, calls


async def test_concurrent_requests_share_batches_and_get_their_own_result() -> None:
    run, calls = doubler(delay=0.01)
    recorder = Recorder()
    batcher = MicroBatcher(run, BatchingConfig(max_batch_size=16, max_wait_ms=5), observer=recorder)
    results = await asyncio.gather(*(batcher.submit(i) for i in range(100)))
    await batcher.close()
    assert results == [i * 2 for i in range(100)]
    assert max(len(c) for c in calls) <= 16
    assert len(calls) < 100 / 2  # requests really were grouped
    assert sum(recorder.sizes) == 100 and len(recorder.waits) == 100
    assert max(recorder.depths) > 1


async def test_a_lone_request_does_not_wait_for_company() -> None:
    run, calls = doubler()
    batcher = MicroBatcher(run, BatchingConfig(max_batch_size=64, max_wait_ms=200))
    started = time.perf_counter()
    for i in range(20):  # sequential: concurrency 1
        assert await batcher.submit(i) == i * 2
    elapsed = time.perf_counter() - started
    await batcher.close()
    assert all(len(c) == 1 for c in calls)
    assert elapsed < 0.2  # 20 requests; one max_wait would already be 0.2 s


async def test_a_batch_error_reaches_every_waiter_and_the_batcher_keeps_going() -> None:
    failing = {"on": True}

    def run(items: list[int]) -> list[int]:
        if failing["on"]:
            raise ValueError("model exploded")
        return items

    batcher = MicroBatcher(run, BatchingConfig(max_batch_size=8, max_wait_ms=1))
    results = await asyncio.gather(*(batcher.submit(i) for i in range(5)), return_exceptions=True)
    assert all(isinstance(r, ValueError) and "exploded" in str(r) for r in results)
    failing["on"] = False
    assert await batcher.submit(7) == 7
    await batcher.close()


async def test_a_per_item_error_reaches_only_its_waiter() -> None:
    def run(items: list[int]) -> list[int | BaseException]:
        return [ValueError(f"bad {i}") if i == 3 else i for i in items]

    batcher = MicroBatcher(run, BatchingConfig(max_batch_size=8, max_wait_ms=1))
    results = await asyncio.gather(*(batcher.submit(i) for i in range(6)), return_exceptions=True)
    await batcher.close()
    assert [r for r in results if not isinstance(r, BaseException)] == [0, 1, 2, 4, 5]
    assert isinstance(results[3], ValueError)


async def test_wrong_result_count_is_an_error_for_the_batch() -> None:
    batcher = MicroBatcher(lambda items: items[:-1], BatchingConfig(max_batch_size=4))
    with pytest.raises(RuntimeError, match="returned 0 results for 1"):
        await batcher.submit(1)
    await batcher.close()


async def test_concurrent_batches_run_off_the_loop_and_a_lone_request_inline() -> None:
    threads: list[str] = []

    def run(items: list[int]) -> list[int]:
        threads.append(threading.current_thread().name)
        if len(items) > 1:
            time.sleep(0.005)
        return items

    batcher = MicroBatcher(run, name="m1")
    await batcher.submit(1)  # first call: speed unknown, so the model thread
    await batcher.submit(2)  # known fast and alone: the event loop thread, no hand-off
    assert threads[0].startswith("batch-m1")
    assert threads[1] == threading.current_thread().name
    await asyncio.gather(*(batcher.submit(i) for i in range(20)))
    await batcher.close()
    assert any(t.startswith("batch-m1") for t in threads[2:])


async def test_a_slow_model_never_runs_on_the_event_loop() -> None:
    threads: list[str] = []

    def run(items: list[int]) -> list[int]:
        threads.append(threading.current_thread().name)
        time.sleep(0.02)
        return items

    batcher = MicroBatcher(run, name="slow")
    for i in range(4):
        await batcher.submit(i)
    await batcher.close()
    assert all(t.startswith("batch-slow") for t in threads)


async def test_close_drains_queued_work_then_refuses_new_work() -> None:
    run, _ = doubler(delay=0.02)
    batcher = MicroBatcher(run, BatchingConfig(max_batch_size=2, max_wait_ms=0))
    pending = [asyncio.ensure_future(batcher.submit(i)) for i in range(6)]
    await asyncio.sleep(0)
    await batcher.close()
    assert [await p for p in pending] == [0, 2, 4, 6, 8, 10]
    with pytest.raises(BatcherClosed):
        await batcher.submit(1)


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="max_batch_size"):
        BatchingConfig(max_batch_size=0)
    with pytest.raises(ValueError, match="max_wait_ms"):
        BatchingConfig(max_wait_ms=-1)
