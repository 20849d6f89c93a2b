"""What every serving process counted, per minute: requests and errors by version, and
agreement of compared versions (shadow or canary), from the per-process counters they
flush to the store (``serving/stats.py``). Kept for as long as the store keeps them (the
rollout controller prunes buckets older than six hours)."""

from __future__ import annotations

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


def serving_history(store: Store, deployment: str, since_s: int) -> ServingHistory:
    """Counts of every process summed per minute, from ``since_s`` on (one SQL query)."""
    history = ServingHistory()
    for kind, subject, minute, a, b in store.stats.per_minute(deployment, since_s, 60):
        if kind == "version":
            history.versions.setdefault(int(subject), {})[minute] = (a, b)
        elif kind == "pair":
            new, _, old = subject.partition("~")
            history.pairs.setdefault((int(new), int(old)), {})[minute] = (a, b)
    return history
