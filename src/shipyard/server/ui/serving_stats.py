"""Request rate, p99 and error rate per deployment, from this process's Prometheus metrics.

The serving process already counts requests (``shipyard_requests``) and times them
(``shipyard_request_latency_seconds``) for ``/metrics``; this reads the same collectors.
Totals and p99 are since the process started; the rate is between two reads of the
overview (so the first read shows none). With several workers each process knows only
its own requests: the page says so.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from prometheus_client import CollectorRegistry


@dataclass(frozen=True)
class DeploymentStats:
    requests: int = 0
    errors: int = 0  # 5xx answers
    p99_s: float | None = None
    rate_per_s: float | None = None

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None


def _p99(buckets: list[tuple[float, float]]) -> float | None:
    """The upper bound of the first bucket holding the 99th percentile (cumulative counts)."""
    if not buckets or buckets[-1][1] == 0:
        return None
    wanted = 0.99 * buckets[-1][1]
    for bound, count in sorted(buckets):
        if count >= wanted:
            return bound if math.isfinite(bound) else None
    return None


@dataclass(frozen=True)
class VersionStats:
    version: str
    requests: int
    errors: int


class ServingStats:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._last: tuple[float, dict[str, int]] | None = None

    def by_version(self, deployment: str) -> list[VersionStats]:
        """Requests and 5xx answers per version of one deployment (since start)."""
        counts: dict[str, list[int]] = {}
        for family in self.registry.collect():
            if family.name != "shipyard_requests":
                continue
            for sample in family.samples:
                labels = sample.labels
                if not sample.name.endswith("_total") or labels["deployment"] != deployment:
                    continue
                entry = counts.setdefault(labels["version"], [0, 0])
                entry[0] += int(sample.value)
                if labels.get("status", "").startswith("5"):
                    entry[1] += int(sample.value)
        return [VersionStats(v, n, e) for v, (n, e) in sorted(counts.items())]

    def batch_sizes(self, models: set[str]) -> list[tuple[str, int, float, list[tuple[str, int]]]]:
        """Micro-batching of these models (``name/version``) in this process since start:
        (model, model calls, mean requests per call, [(up to N requests, calls)])."""
        found: dict[str, dict[str, float]] = {}
        for family in self.registry.collect():
            if family.name != "shipyard_batch_size":
                continue
            for sample in family.samples:
                model = sample.labels.get("model", "")
                if model not in models:
                    continue
                entry = found.setdefault(model, {})
                if sample.name.endswith("_bucket"):
                    entry[sample.labels["le"]] = sample.value
                elif sample.name.endswith("_count"):
                    entry["count"] = sample.value
                elif sample.name.endswith("_sum"):
                    entry["sum"] = sample.value
        result = []
        for model, entry in sorted(found.items()):
            calls = int(entry.pop("count", 0))
            total = entry.pop("sum", 0.0)
            if not calls:
                continue
            cumulative = sorted((float(le), n) for le, n in entry.items())
            buckets, before = [], 0.0
            for bound, n in cumulative:
                if n > before:
                    label = "more" if math.isinf(bound) else f"≤ {bound:g}"
                    buckets.append((label, int(n - before)))
                before = n
            result.append((model, calls, total / calls, buckets))
        return result

    def read(self) -> dict[str, DeploymentStats]:
        requests: dict[str, int] = {}
        errors: dict[str, int] = {}
        buckets: dict[str, dict[float, float]] = {}
        for family in self.registry.collect():
            if family.name == "shipyard_requests":
                for sample in family.samples:
                    if not sample.name.endswith("_total"):
                        continue
                    name = sample.labels["deployment"]
                    requests[name] = requests.get(name, 0) + int(sample.value)
                    if sample.labels.get("status", "").startswith("5"):
                        errors[name] = errors.get(name, 0) + int(sample.value)
            elif family.name == "shipyard_request_latency_seconds":
                for sample in family.samples:
                    if sample.name.endswith("_bucket"):
                        name = sample.labels["deployment"]
                        bound = float(sample.labels["le"])
                        per = buckets.setdefault(name, {})
                        per[bound] = per.get(bound, 0.0) + sample.value  # summed over protocols
        now = time.monotonic()
        rates: dict[str, float] = {}
        if self._last is not None and now - self._last[0] >= 1.0:
            elapsed = now - self._last[0]
            rates = {n: (c - self._last[1].get(n, 0)) / elapsed for n, c in requests.items()}
        if self._last is None or now - self._last[0] >= 1.0:
            self._last = (now, requests)
        return {
            name: DeploymentStats(
                requests=count,
                errors=errors.get(name, 0),
                p99_s=_p99(list(buckets.get(name, {}).items())),
                rate_per_s=rates.get(name),
            )
            for name, count in requests.items()
        }
