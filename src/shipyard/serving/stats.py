"""Per-version serving statistics, kept in memory and flushed to the store.

A rollout decision must not depend on one worker's memory, so every serving
process flushes what it saw (cumulative counts per time bucket, one row per
process) and the analysis sums the rows of all processes. Everything here
runs on the event loop thread: recording is a few dict updates.

- ``VersionStats``: requests, errors, a latency histogram, predicted-class
  counts and a histogram of the positive-class score (binary classifiers).
- ``PairStats``: one version compared with another on the same requests
  (shadow or rollout comparison): agreement, mean absolute score difference,
  and the confusion between their labels.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

BUCKET_S = 2
# Latency bucket upper bounds in ms, roughly logarithmic; the last is +inf.
LATENCY_BOUNDS_MS = (
    0.25,
    0.5,
    0.75,
    1,
    1.5,
    2,
    3,
    4,
    5,
    7.5,
    10,
    15,
    20,
    30,
    50,
    75,
    100,
    150,
    200,
    300,
    500,
    750,
    1000,
    2000,
    5000,
    math.inf,
)
SCORE_BINS = 20


@dataclass
class VersionStats:
    requests: int = 0
    errors: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BOUNDS_MS))
    classes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    scores: list[int] = field(default_factory=lambda: [0] * SCORE_BINS)

    def record(
        self, latency_s: float, labels: list[Any] | None, probabilities: list[list[float]] | None
    ) -> None:
        self.requests += 1
        self.latency[bisect.bisect_left(LATENCY_BOUNDS_MS, latency_s * 1000)] += 1
        if labels is not None:
            for label in labels:
                self.classes[str(label)] += 1
        if probabilities is not None and probabilities and len(probabilities[0]) == 2:
            for row in probabilities:
                self.scores[min(int(row[1] * SCORE_BINS), SCORE_BINS - 1)] += 1

    def record_error(self) -> None:
        self.requests += 1
        self.errors += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "latency": list(self.latency),
            "classes": dict(self.classes),
            "scores": list(self.scores),
        }

    @classmethod
    def merged(cls, payloads: list[dict[str, Any]]) -> VersionStats:
        total = cls()
        for data in payloads:
            total.requests += data["requests"]
            total.errors += data["errors"]
            total.latency = [a + b for a, b in zip(total.latency, data["latency"], strict=True)]
            for label, count in data["classes"].items():
                total.classes[label] += count
            total.scores = [a + b for a, b in zip(total.scores, data["scores"], strict=True)]
        return total

    def latency_quantile_ms(self, q: float) -> float | None:
        """Upper bound of the bucket holding the q-quantile (None without samples)."""
        answered = sum(self.latency)
        if answered == 0:
            return None
        rank = q * answered
        seen = 0
        for bound, count in zip(LATENCY_BOUNDS_MS, self.latency, strict=True):
            seen += count
            if seen >= rank:
                return bound
        return LATENCY_BOUNDS_MS[-1]


@dataclass
class PairStats:
    compared: int = 0
    agreed: int = 0
    abs_diff_sum: float = 0.0
    dropped: int = 0
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)

    def record(
        self,
        labels: list[Any],
        other_labels: list[Any],
        scores: list[list[float]] | None,
        other_scores: list[list[float]] | None,
        values: list[Any] | None = None,
        other_values: list[Any] | None = None,
    ) -> None:
        for index, (mine, theirs) in enumerate(zip(labels, other_labels, strict=True)):
            self.compared += 1
            self.agreed += int(mine == theirs)
            row = self.confusion.setdefault(str(mine), {})
            row[str(theirs)] = row.get(str(theirs), 0) + 1
            if scores is not None and other_scores is not None:
                a, b = scores[index], other_scores[index]
                self.abs_diff_sum += sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)
            elif values is not None and other_values is not None:
                with contextlib.suppress(TypeError, ValueError):
                    self.abs_diff_sum += abs(float(values[index]) - float(other_values[index]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "compared": self.compared,
            "agreed": self.agreed,
            "abs_diff_sum": self.abs_diff_sum,
            "dropped": self.dropped,
            "confusion": self.confusion,
        }

    @classmethod
    def merged(cls, payloads: list[dict[str, Any]]) -> PairStats:
        total = cls()
        for data in payloads:
            total.compared += data["compared"]
            total.agreed += data["agreed"]
            total.abs_diff_sum += data["abs_diff_sum"]
            total.dropped += data["dropped"]
            for mine, row in data["confusion"].items():
                target = total.confusion.setdefault(mine, {})
                for theirs, count in row.items():
                    target[theirs] = target.get(theirs, 0) + count
        return total

    @property
    def agreement(self) -> float | None:
        return self.agreed / self.compared if self.compared else None

    @property
    def mean_abs_diff(self) -> float | None:
        return self.abs_diff_sum / self.compared if self.compared else None


class StatsRecorder:
    """This process's counters for the current time bucket, ready to flush."""

    def __init__(self) -> None:
        self.versions: dict[tuple[str, int, int], VersionStats] = {}
        self.pairs: dict[tuple[str, int, int, int], PairStats] = {}
        self.dirty = False
        # Comparisons of buckets already dropped, so /metrics can count since start;
        # the lock keeps a scrape from seeing a bucket both dropped and folded in.
        self._retired: dict[tuple[str, int, int], tuple[int, int, int]] = {}
        self._retire_lock = threading.Lock()

    @staticmethod
    def bucket(now: float | None = None) -> int:
        moment = time.time() if now is None else now
        return int(moment // BUCKET_S * BUCKET_S)

    def version(self, deployment: str, version: int) -> VersionStats:
        key = (deployment, version, self.bucket())
        stats = self.versions.get(key)
        if stats is None:
            stats = self.versions[key] = VersionStats()
        self.dirty = True
        return stats

    def pair(self, deployment: str, version: int, other: int) -> PairStats:
        key = (deployment, version, other, self.bucket())
        stats = self.pairs.get(key)
        if stats is None:
            stats = self.pairs[key] = PairStats()
        self.dirty = True
        return stats

    def snapshot(self) -> list[tuple[str, str, str, int, dict[str, Any]]]:
        """(deployment, kind, subject, bucket, payload) rows changed since the last
        snapshot (none when idle: nothing is rewritten); old buckets are dropped after."""
        if not self.dirty:
            return []
        rows = [(d, "version", str(v), b, s.to_dict()) for (d, v, b), s in self.versions.items()]
        rows += [(d, "pair", f"{v}~{o}", b, s.to_dict()) for (d, v, o, b), s in self.pairs.items()]
        current = self.bucket()
        self.versions = {k: s for k, s in self.versions.items() if k[2] >= current}
        with self._retire_lock:
            for (d, v, o, b), s in self.pairs.items():
                if b < current:
                    self._retired[(d, v, o)] = _add(self._retired.get((d, v, o)), s)
            self.pairs = {k: s for k, s in self.pairs.items() if k[3] >= current}
        self.dirty = False
        return rows

    def comparison_totals(self) -> dict[tuple[str, int, int], tuple[int, int, int]]:
        """(deployment, version, baseline) -> (compared, agreed, dropped) since start.

        Read by the scrape thread while the event loop records: the counts only grow.
        """
        with self._retire_lock:
            totals = dict(self._retired)
            live = list(self.pairs.items())
        for (d, v, o, _), s in live:
            totals[(d, v, o)] = _add(totals.get((d, v, o)), s)
        return totals


def _add(total: tuple[int, int, int] | None, stats: PairStats) -> tuple[int, int, int]:
    compared, agreed, dropped = total or (0, 0, 0)
    return compared + stats.compared, agreed + stats.agreed, dropped + stats.dropped
