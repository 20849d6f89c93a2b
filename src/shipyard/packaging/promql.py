"""Small PromQL builders shared by the dashboard and the alert rules.

Every metric name passes through ``series()``, which looks it up in the
metric catalogue: a query cannot name a metric Shipyard does not export.
"""

from __future__ import annotations

from shipyard.serving.metric_catalogue import SERIES


def series(name: str, selector: str = "") -> str:
    """``name{selector}`` for a declared sample name (``..._total``, ``..._bucket``)."""
    if name not in SERIES:
        raise KeyError(f"{name} is not in shipyard.serving.metric_catalogue")
    return f"{name}{{{selector}}}" if selector else name


def rate(name: str, selector: str, window: str, *, by: str = "", fn: str = "rate") -> str:
    """``sum by (by) (rate(name{selector}[window]))``; counters are only ever read so."""
    grouping = f" by ({by})" if by else ""
    return f"sum{grouping} ({fn}({series(name, selector)}[{window}]))"


def quantile(q: float, histogram: str, selector: str, window: str, by: str) -> str:
    """A percentile from a histogram's buckets, per ``by`` (``le`` is added)."""
    inner = rate(f"{histogram}_bucket", selector, window, by=f"le, {by}" if by else "le")
    return f"histogram_quantile({q:g}, {inner})"


def ratio(numerator: str, denominator: str) -> str:
    return f"({numerator})\n/\n({denominator})"
