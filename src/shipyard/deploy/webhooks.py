"""Sending deployment, rollout and alias events to webhooks.

Any process may record an event (it is an audit row, written with the change
itself). The dispatcher - in the serving process that holds its lease -
follows the audit trail from where it started and POSTs each matching event
as JSON to every subscribed URL, retrying with exponential backoff; a
delivery that still fails is logged and dropped, never blocking anything.
At most ``max_in_flight`` POSTs are under way at once: each one may resolve
a host name on the worker threads the server's routes also run on, and
hundreds of slow lookups at once (many events, many hooks) stalled every
request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import httpx

from shipyard.config import HttpSettings
from shipyard.http import async_http_client
from shipyard.store import Store
from shipyard.store.webhook_store import redacted_url

logger = logging.getLogger(__name__)

LEASE = "webhook-dispatcher"
FORWARDED = ("deployment.", "rollout.", "alias.", "alert.")


def matches(action: str, subscribed: list[str]) -> bool:
    if not action.startswith(FORWARDED):
        return False
    return not subscribed or "*" in subscribed or any(action.startswith(p) for p in subscribed)


class WebhookDispatcher:
    def __init__(
        self,
        store: Store,
        holder: str,
        *,
        poll_s: float = 1.0,
        attempts: int = 5,
        first_backoff_s: float = 0.5,
        timeout_s: float = 5.0,
        max_in_flight: int = 8,
        http: HttpSettings | None = None,
    ) -> None:
        self.store = store
        self.http = http or HttpSettings()
        self.holder = holder
        self.poll_s = poll_s
        self.attempts = attempts
        self.first_backoff_s = first_backoff_s
        self.timeout_s = timeout_s
        self.cursor: int | None = None
        self.delivered = 0
        self.failed = 0
        self._task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(max_in_flight)
        self.in_flight = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        async with async_http_client(self.http, timeout=self.timeout_s) as http:
            while True:
                try:
                    await self._poll(http)
                except Exception as exc:
                    logger.warning("webhook dispatch failed: %s", exc)
                await asyncio.sleep(self.poll_s)

    async def _poll(self, http: httpx.AsyncClient) -> None:
        if self.cursor is None:
            self.cursor = await asyncio.to_thread(self.store.events.last_id)
        leading = await asyncio.to_thread(
            self.store.leases.acquire, LEASE, self.holder, self.poll_s * 10
        )
        events = await asyncio.to_thread(self.store.events.after, self.cursor)
        if not events:
            return
        self.cursor = events[-1]["id"]
        if not leading:
            return
        hooks = await asyncio.to_thread(self.store.webhooks.list)
        for event in events:
            for _, url, subscribed in hooks:
                if matches(event["action"], subscribed):
                    task = asyncio.get_running_loop().create_task(self._send(http, url, event))
                    self._sending.add(task)
                    task.add_done_callback(self._sending.discard)

    async def _send(self, http: httpx.AsyncClient, url: str, event: dict[str, Any]) -> None:
        delay = self.first_backoff_s
        for attempt in range(1, self.attempts + 1):
            try:
                async with self._slots:
                    self.in_flight += 1
                    try:
                        response = await http.post(url, json=event)
                    finally:
                        self.in_flight -= 1
                if response.status_code < 300:
                    self.delivered += 1
                    return
                problem = f"HTTP {response.status_code}"
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            if attempt < self.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        self.failed += 1
        logger.error(
            "webhook %s: event %s (%s) not delivered after %d attempts: %s",
            redacted_url(url),
            event["id"],
            event["action"],
            self.attempts,
            problem,
        )

    async def close(self) -> None:
        for task in [self._task, *self._sending]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
