"""A periodic job that runs in exactly one process: the one holding a store lease.

Serving replicas all start the same background jobs (rollout decisions, monitors);
the lease makes one of them do the work and lets another take over within the
lease's time to live when that process dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from shipyard.store import Store

logger = logging.getLogger(__name__)


class LeasedLoop:
    """Calls ``work`` every ``tick_s`` seconds in a worker thread while this process leads."""

    lease = ""  # subclasses name their lease

    def __init__(self, store: Store, holder: str, *, tick_s: float, lease_ttl_s: float) -> None:
        self.store = store
        self.holder = holder
        self.tick_s = tick_s
        self.lease_ttl_s = lease_ttl_s
        self.leading = False
        self._task: asyncio.Task[None] | None = None

    def work(self) -> None:
        """Blocking: one round of the job; runs only while the lease is held."""
        raise NotImplementedError

    def tick(self) -> None:
        """Blocking: renew or take the lease, then do one round if it is ours."""
        self.leading = self.store.leases.acquire(self.lease, self.holder, self.lease_ttl_s)
        if self.leading:
            self.work()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self.tick)
            except Exception as exc:  # a store hiccup must not kill the loop
                logger.warning("%s tick failed: %s", self.lease, exc)
            await asyncio.sleep(self.tick_s)

    async def close(self) -> None:
        """Stop, and hand the lease back so another process need not wait for it to expire."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.leading:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.store.leases.release, self.lease, self.holder)
