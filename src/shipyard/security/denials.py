"""Denied requests, written to the audit trail off the request path.

Every 401 and 403 is recorded (who, what, from where, why), but never on
the request path and never unbounded: a flood of bad tokens must not turn
into a flood of database writes. Denials wait in a bounded queue and are
written in one transaction a second; beyond the bound they are counted and
the count is written instead.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from dataclasses import dataclass

from shipyard.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Denial:
    actor: str  # the token's principal, or "anonymous"
    status: int
    method: str
    route: str  # the route template, or the path when no route matched
    reason: str
    client: str | None
    request_id: str | None


class DenialLog:
    def __init__(self, store: Store, *, max_pending: int = 1000, flush_s: float = 1.0) -> None:
        self.store = store
        self.flush_s = flush_s
        self._pending: collections.deque[Denial] = collections.deque(maxlen=max_pending)
        self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    def record(self, denial: Denial) -> None:
        if len(self._pending) == self._pending.maxlen:
            self.dropped += 1
        self._pending.append(denial)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            await self.flush()

    async def flush(self) -> None:
        batch = list(self._pending)
        self._pending.clear()
        dropped, self.dropped = self.dropped, 0
        if not batch and not dropped:
            return
        try:
            await asyncio.to_thread(self.store.access.record_denials, batch, dropped)
        except Exception as exc:  # auditing a denial must never break serving
            logger.warning("could not record %d denied request(s): %s", len(batch), exc)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
