"""What every serving process counted, per minute: requests and errors by version, and
agreement of compared versions (shadow or canary), from the per-process counters they
flush to the store (``serving/stats.py``). Kept for as long as the store keeps them (the
rollout controller prunes buckets older than six hours)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from shipyard.store import Store


@dataclass(frozen=True)
class ServingHistory:
    #: version -> minute start (s) -> (requests, errors)
    versions: dict[int, dict[int, tuple[int, int]]] = field(default_factory=dict)
    #: (version, reference version) -> minute start (s) -> (compared, agreed)
    pairs: dict[tuple[int, int], dict[int, tuple[int, int]]] = field(default_factory=dict)

    def minutes(self) -> list[int]:
        found = {m for series in self.versions.values() for m in series}
        return sorted(found)


Row = tuple[str, str, int, int, int]
#: Minutes older than this are closed: every process has flushed them (flushes are seconds apart).
SETTLED_S = 120


def serving_history(store: Store, deployment: str, since_s: int) -> ServingHistory:
    """Counts of every process summed per minute, from ``since_s`` on (one SQL query)."""
    return _history(store.stats.per_minute(deployment, since_s, 60))


class ServingHistories:
    """``serving_history`` that keeps the minutes that can no longer change, so that a
    repeated read (a dashboard refreshing every few seconds) queries only the last ones."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._settled: dict[str, tuple[int, list[Row]]] = {}
        self._lock = threading.Lock()

    def read(self, deployment: str, since_s: int) -> ServingHistory:
        settled_until = int(time.time()) // 60 * 60 - SETTLED_S
        with self._lock:
            until, rows = self._settled.get(deployment, (since_s, []))
        fresh = self.store.stats.per_minute(deployment, max(until, since_s), 60)
        kept = [r for r in rows if r[2] >= since_s]
        kept += [r for r in fresh if r[2] < settled_until]
        with self._lock:
            self._settled[deployment] = (max(settled_until, since_s), kept)
        return _history(kept + [r for r in fresh if r[2] >= settled_until])


def _history(rows: list[Row]) -> ServingHistory:
    history = ServingHistory()
    for kind, subject, minute, a, b in rows:
        if kind == "version":
            history.versions.setdefault(int(subject), {})[minute] = (a, b)
        elif kind == "pair":
            new, _, old = subject.partition("~")
            history.pairs.setdefault((int(new), int(old)), {})[minute] = (a, b)
    return history
