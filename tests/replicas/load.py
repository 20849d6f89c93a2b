"""A load generator that routes like a Kubernetes Service: round robin over the
replicas currently in rotation, a few keep-alive connections, every outcome kept."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.replicas.replicas import Replica


@dataclass(frozen=True)
class Outcome:
    sent: float  # time.time() when the request left (wall clock, as the store's events)
    at: float  # time.monotonic() when the response arrived
    replica: str
    deployment: str
    status: int  # 0: the request failed without a response
    version: int | None
    error: str = ""  # the exception's type and message when status is 0


@dataclass
class Load:
    rows: list[dict[str, Any]]
    concurrency: int = 4
    outcomes: list[Outcome] = field(default_factory=list)
    in_flight: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)  # per deployment, kept cheap
    _targets: list[Replica] = field(default_factory=list)
    _deployment: str = ""
    _quota: int | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _turn: itertools.count[int] = field(default_factory=itertools.count)

    def route(self, deployment: str, targets: list[Replica], quota: int | None = None) -> None:
        """Send to ``deployment`` on ``targets`` from now on; at most ``quota`` requests."""
        self._deployment, self._targets, self._quota = deployment, list(targets), quota

    async def drained(self, replica: Replica | None = None) -> None:
        """Wait until no request is in flight (to ``replica``, or to any)."""
        while (self.in_flight[replica.name] if replica else sum(self.in_flight.values())) > 0:
            await asyncio.sleep(0.005)

    async def quota_done(self) -> None:
        while self._quota != 0 or sum(self.in_flight.values()):
            await asyncio.sleep(0.01)

    def count(self, **where: Any) -> int:
        return sum(all(getattr(o, k) == v for k, v in where.items()) for o in self.outcomes)

    async def run(self) -> None:
        # Idle connections are dropped before the server's keep-alive timeout (5 s) can
        # close them under a request being sent, as load balancers are configured
        # (their idle timeout below the backends'); otherwise a replica left out of
        # rotation for a while answers its next request with a reset.
        limits = httpx.Limits(max_connections=self.concurrency * 2, keepalive_expiry=2.0)
        async with httpx.AsyncClient(timeout=30, limits=limits) as http:
            await asyncio.gather(*(self._worker(http) for _ in range(self.concurrency)))

    def stop(self) -> None:
        self._stop.set()

    def _next(self) -> tuple[Replica, str] | None:
        if not self._targets or self._quota == 0:
            return None
        if self._quota is not None:
            self._quota -= 1
        turn = next(self._turn)
        return self._targets[turn % len(self._targets)], self._deployment

    async def _worker(self, http: httpx.AsyncClient) -> None:
        while not self._stop.is_set():
            pick = self._next()
            if pick is None:
                await asyncio.sleep(0.005)
                continue
            replica, deployment = pick
            row = self.rows[len(self.outcomes) % len(self.rows)]
            self.in_flight[replica.name] += 1
            sent = time.time()
            try:
                response = await http.post(
                    f"{replica.url}/v1/deployments/{deployment}/predict", json={"inputs": [row]}
                )
                version = response.json().get("version") if response.status_code == 200 else None
                status = response.status_code
                error = ""
            except httpx.HTTPError as exc:
                status, version, error = 0, None, f"{type(exc).__name__}: {exc}"
            finally:
                self.in_flight[replica.name] -= 1
            self.answered[deployment] += 1
            self.outcomes.append(
                Outcome(sent, time.monotonic(), replica.name, deployment, status, version, error)
            )
