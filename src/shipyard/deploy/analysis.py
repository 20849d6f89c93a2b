"""Model-aware analysis of a rollout step: the candidate judged against the baseline.

Reads what every serving process flushed since the step began and computes
one result per check, each with its threshold and minimum sample size:

- ``error_rate``: candidate error rate minus baseline error rate;
- ``p99_latency``: candidate p99 over baseline p99 (ratio, with an absolute floor);
- ``divergence``: Jensen-Shannon distance between the two versions'
  predicted-class distributions (and positive-score histograms, binary);
- ``agreement``: share of canary requests where the candidate and the
  baseline (asked the same request off the response path) agree;
- ``quality``: needs feedback labels, which the monitoring issue adds; until
  then it reports ``skipped``.

A check with fewer samples than its minimum is ``insufficient``: the step
waits instead of passing blindly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.monitoring.drift import js_distance
from shipyard.serving.stats import PairStats, VersionStats
from shipyard.store import Store


@dataclass(frozen=True)
class Thresholds:
    max_error_rate_increase: float = 0.01
    max_p99_ratio: float = 1.5
    p99_margin_ms: float = 10.0
    min_latency_samples: int = 200
    max_divergence: float = 0.15
    min_agreement: float = 0.9
    min_requests: int = 50
    min_compared: int = 100
    min_divergence_samples: int = 200

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Thresholds:
        known = {k: v for k, v in (data or {}).items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: str  # pass | fail | insufficient | skipped
    value: float | None
    threshold: str
    samples: int
    min_samples: int
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def corrected_js_distance(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """JS distance with its small-sample bias removed.

    Two samples of one distribution over k bins have an expected JS divergence
    of about (k - 1) / (8 ln 2) * (1/n1 + 1/n2) bits; without the correction a
    rollout step with a few hundred requests would look divergent by chance.
    """
    n1, n2 = sum(p.values()), sum(q.values())
    if not n1 or not n2:
        return 0.0
    bins = len({k for k, v in p.items() if v} | {k for k, v in q.items() if v})
    bias = (bins - 1) / (8 * math.log(2)) * (1 / n1 + 1 / n2)
    return math.sqrt(max(js_distance(p, q) ** 2 - bias, 0.0))


def analyze(
    store: Store,
    deployment: str,
    baseline: int,
    candidate: int,
    since_ms: int,
    thresholds: Thresholds,
) -> list[CheckResult]:
    # Only buckets that began after the step did: earlier ones mix in the old weights.
    since_s = -(-since_ms // 1000)
    new = VersionStats.merged(store.stats.read(deployment, "version", str(candidate), since_s))
    old = VersionStats.merged(store.stats.read(deployment, "version", str(baseline), since_s))
    pair = PairStats.merged(
        store.stats.read(deployment, "pair", f"{candidate}~{baseline}", since_s)
    )
    t = thresholds
    results = []

    answered = new.requests
    if answered < t.min_requests:
        results.append(
            CheckResult(
                "error_rate",
                "insufficient",
                None,
                f"<= baseline + {t.max_error_rate_increase:g}",
                answered,
                t.min_requests,
            )
        )
    else:
        rate = new.errors / new.requests
        base = old.errors / old.requests if old.requests else 0.0
        ok = rate - base <= t.max_error_rate_increase
        results.append(
            CheckResult(
                "error_rate",
                "pass" if ok else "fail",
                rate,
                f"<= {base + t.max_error_rate_increase:.4f}",
                answered,
                t.min_requests,
                f"baseline {base:.4f}",
            )
        )

    new_p99 = new.latency_quantile_ms(0.99)
    old_p99 = old.latency_quantile_ms(0.99)
    if answered < t.min_latency_samples or new_p99 is None or old_p99 is None:
        results.append(
            CheckResult(
                "p99_latency",
                "insufficient",
                None,
                f"<= {t.max_p99_ratio:g} x baseline",
                answered,
                t.min_latency_samples,
            )
        )
    else:
        # A p99 over a few hundred requests moves by whole buckets from noise alone:
        # fail only when the candidate is slower by both a ratio and an absolute margin.
        limit = max(old_p99 * t.max_p99_ratio, old_p99 + t.p99_margin_ms)
        ok = new_p99 <= limit
        results.append(
            CheckResult(
                "p99_latency",
                "pass" if ok else "fail",
                new_p99,
                f"<= {limit:.2f} ms",
                answered,
                t.min_latency_samples,
                f"baseline p99 {old_p99} ms",
            )
        )

    predictions = sum(new.classes.values())
    if predictions < t.min_divergence_samples or not old.classes:
        results.append(
            CheckResult(
                "divergence",
                "insufficient",
                None,
                f"<= {t.max_divergence:g}",
                predictions,
                t.min_divergence_samples,
            )
        )
    else:
        distance = corrected_js_distance(new.classes, old.classes)
        if sum(new.scores) and sum(old.scores):
            distance = max(
                distance, corrected_js_distance(_deciles(new.scores), _deciles(old.scores))
            )
        ok = distance <= t.max_divergence
        results.append(
            CheckResult(
                "divergence",
                "pass" if ok else "fail",
                distance,
                f"<= {t.max_divergence:g}",
                predictions,
                t.min_divergence_samples,
                "Jensen-Shannon distance of classes and scores, small-sample bias removed",
            )
        )

    if pair.compared < t.min_compared:
        results.append(
            CheckResult(
                "agreement",
                "insufficient",
                None,
                f">= {t.min_agreement:g}",
                pair.compared,
                t.min_compared,
                f"{pair.dropped} comparison(s) dropped",
            )
        )
    else:
        agreement = pair.agreement or 0.0
        ok = agreement >= t.min_agreement
        results.append(
            CheckResult(
                "agreement",
                "pass" if ok else "fail",
                agreement,
                f">= {t.min_agreement:g}",
                pair.compared,
                t.min_compared,
                f"mean |score difference| {pair.mean_abs_diff or 0:.4f}",
            )
        )

    results.append(
        CheckResult("quality", "skipped", None, "-", 0, 0, "no feedback labels are collected yet")
    )
    return results


def _deciles(scores: list[int]) -> dict[str, float]:
    """The 20-bin score histogram folded to 10 bins (less noise per bin)."""
    return {str(i): float(scores[2 * i] + scores[2 * i + 1]) for i in range(len(scores) // 2)}
