"""Drift of a current window against stored reference profiles.

Every test is registered by name and takes (reference profile, current
values); results are typed (``DriftResult``) and rendered elsewhere.

Defaults follow common practice (and Evidently's presets): with at most
1,000 current values a p-value test (Kolmogorov-Smirnov for numbers,
chi-square for categories, drift when p < 0.05); with more, a distance whose
size means something whatever the sample size (Wasserstein distance
normalized by the reference standard deviation, drift at 0.1;
Jensen-Shannon distance, drift at 0.1). PSI is available for both kinds.
Any column can name its own method and threshold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from shipyard.errors import InvalidInput
from shipyard.monitoring.profile import (
    CategoricalProfile,
    ColumnProfile,
    NumericProfile,
    count_levels,
    finite_values,
    is_numeric,
    sorted_quantiles,
)

SMALL_SAMPLE = 1000
_EPS = 1e-4


@dataclass(frozen=True)
class DriftResult:
    column: str
    kind: str
    method: str
    statistic: float
    p_value: float | None
    threshold: float
    drifted: bool
    n_reference: int
    n_current: int

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class DatasetDrift:
    columns: list[DriftResult]
    share: float
    threshold: float

    @property
    def drifted(self) -> bool:
        return self.share >= self.threshold

    @property
    def drifted_columns(self) -> list[str]:
        return [r.column for r in self.columns if r.drifted]

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "share": self.share,
            "threshold": self.threshold,
            "drifted_columns": self.drifted_columns,
            "columns": [r.to_dict() for r in self.columns],
        }


@dataclass(frozen=True)
class ColumnRule:
    """Per-column override: a method name and/or its threshold."""

    method: str | None = None
    threshold: float | None = None


@dataclass(frozen=True)
class DriftConfig:
    rules: dict[str, ColumnRule] = field(default_factory=dict)
    dataset_share: float = 0.5
    small_sample: int = SMALL_SAMPLE


# -- tests: (reference, current values) -> (statistic, p-value or None) -------------------
Test = Callable[[Any, Any], tuple[float, float | None]]


def ks(reference: NumericProfile, current: np.ndarray) -> tuple[float, float | None]:
    """Two-sample KS statistic against the stored reference CDF, asymptotic p-value."""
    x = np.sort(current)
    n = len(x)
    ref_at_x = reference.cdf(x)
    upper = np.arange(1, n + 1) / n
    lower = np.arange(0, n) / n
    statistic = float(max(np.max(np.abs(upper - ref_at_x)), np.max(np.abs(lower - ref_at_x))))
    levels = np.linspace(0.0, 1.0, len(reference.quantiles))
    cur_at_q = np.searchsorted(x, reference.quantiles, side="right") / n
    statistic = max(statistic, float(np.max(np.abs(cur_at_q - levels))))
    m = reference.count - reference.nulls
    effective = n * m / (n + m)
    return statistic, float(special.kolmogorov(statistic * math.sqrt(effective)))


def wasserstein(reference: NumericProfile, current: np.ndarray) -> tuple[float, float | None]:
    """W1 between quantile functions, divided by the reference standard deviation."""
    current_q = sorted_quantiles(np.sort(current), len(reference.quantiles))
    if len(current_q) != len(reference.quantiles):  # fewer values than grid points
        current_q = np.quantile(current, np.linspace(0.0, 1.0, len(reference.quantiles)))
    distance = float(np.mean(np.abs(current_q - reference.quantiles)))
    scale = reference.std if reference.std > 0 else 1.0
    return distance / scale, None


def _numeric_bins(reference: NumericProfile, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    edges = reference.decile_edges()
    inner = edges[1:-1]
    levels = np.linspace(0.0, 1.0, len(reference.quantiles))
    ref_cdf_at_inner = np.interp(inner, reference.quantiles, levels)
    ref_share = np.diff(np.concatenate([[0.0], ref_cdf_at_inner, [1.0]]))
    cur_counts = np.bincount(
        np.searchsorted(inner, current, side="right"), minlength=len(inner) + 1
    )
    return ref_share, cur_counts / max(len(current), 1)


def _categorical_shares(
    reference: CategoricalProfile, current: dict[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Reference and current shares (and current counts) over the union of levels."""
    levels = sorted(set(reference.frequencies) | set(current))
    ref = np.array([reference.frequencies.get(k, 0) for k in levels], dtype="float64")
    cur = np.array([current.get(k, 0) for k in levels], dtype="float64")
    return ref / max(ref.sum(), 1), cur / max(cur.sum(), 1), cur, levels


def chisquare(reference: CategoricalProfile, current: dict[str, int]) -> tuple[float, float | None]:
    """Chi-square test of homogeneity: reference counts against current counts.

    Two-sample, because the reference is a sample too: treating its shares as
    exact would flag undrifted columns far more often than the 5% it promises.
    """
    _, _, cur_counts, levels = _categorical_shares(reference, current)
    ref_counts = np.array([reference.frequencies.get(k, 0) for k in levels], dtype="float64")
    table = np.vstack([ref_counts, cur_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return 0.0, 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def js_distance(p: Mapping[str, float], q: Mapping[str, float]) -> float:
    """Jensen-Shannon distance (base 2, in [0, 1]) between two count maps."""
    keys = sorted(set(p) | set(q))
    a = np.array([p.get(k, 0.0) for k in keys], dtype="float64")
    b = np.array([q.get(k, 0.0) for k in keys], dtype="float64")
    if not a.sum() or not b.sum():
        return 0.0
    return _js(a / a.sum(), b / b.sum())


def _js(p: np.ndarray, q: np.ndarray) -> float:
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(p, q, base=2))


def jensenshannon(reference: ColumnProfile, current: Any) -> tuple[float, float | None]:
    if isinstance(reference, NumericProfile):
        ref, cur = _numeric_bins(reference, current)
    else:
        ref, cur, _, _ = _categorical_shares(reference, current)
    return _js(ref, cur), None


def psi(reference: ColumnProfile, current: Any) -> tuple[float, float | None]:
    """Population stability index over reference deciles (numbers) or levels (categories)."""
    if isinstance(reference, NumericProfile):
        ref, cur = _numeric_bins(reference, current)
    else:
        ref, cur, _, _ = _categorical_shares(reference, current)
    ref = np.maximum(ref, _EPS)
    cur = np.maximum(cur, _EPS)
    return float(np.sum((cur - ref) * np.log(cur / ref))), None


@dataclass(frozen=True)
class Method:
    test: Test
    kinds: tuple[str, ...]
    threshold: float
    p_value: bool  # True: drift when p < threshold; False: when statistic >= threshold


METHODS: dict[str, Method] = {}


def register_method(name: str, method: Method) -> None:
    METHODS[name] = method


register_method("ks", Method(ks, ("numeric",), 0.05, True))
register_method("wasserstein", Method(wasserstein, ("numeric",), 0.1, False))
register_method("chisquare", Method(chisquare, ("categorical",), 0.05, True))
register_method("jensenshannon", Method(jensenshannon, ("numeric", "categorical"), 0.1, False))
register_method("psi", Method(psi, ("numeric", "categorical"), 0.2, False))


def default_method(kind: str, n_current: int, config: DriftConfig) -> str:
    small = n_current <= config.small_sample
    if kind == "numeric":
        return "ks" if small else "wasserstein"
    return "chisquare" if small else "jensenshannon"


def column_drift(
    column: str, reference: ColumnProfile, current: pd.Series, config: DriftConfig | None = None
) -> DriftResult:
    config = config or DriftConfig()
    kind = reference.kind
    if kind == "numeric":
        if not is_numeric(current):
            raise InvalidInput(
                f"column {column!r} is numeric in the reference but {current.dtype} now"
            )
        values: Any = finite_values(current.to_numpy(dtype="float64", na_value=np.nan))
        size = len(values)
    else:
        values = count_levels(current)  # the categorical tests take level counts
        size = sum(values.values())
    rule = config.rules.get(column, ColumnRule())
    name = rule.method or default_method(kind, size, config)
    method = METHODS.get(name)
    if method is None:
        raise InvalidInput(
            f"unknown drift method {name!r} for column {column!r}; known: {sorted(METHODS)}"
        )
    if kind not in method.kinds:
        raise InvalidInput(f"drift method {name!r} does not apply to {kind} column {column!r}")
    threshold = rule.threshold if rule.threshold is not None else method.threshold
    if size == 0:
        return DriftResult(
            column, kind, name, float("nan"), None, threshold, False, reference.count, 0
        )
    statistic, p_value = method.test(reference, values)
    drifted = (
        (p_value < threshold)
        if method.p_value and p_value is not None
        else (statistic >= threshold)
    )
    return DriftResult(
        column,
        kind,
        name,
        statistic,
        p_value,
        threshold,
        bool(drifted),
        reference.count - reference.nulls,
        size,
    )


def dataset_drift(
    references: dict[str, ColumnProfile], current: pd.DataFrame, config: DriftConfig | None = None
) -> DatasetDrift:
    config = config or DriftConfig()
    missing = [c for c in references if c not in current.columns]
    if missing:
        raise InvalidInput(f"the current data lacks reference column(s) {missing}")
    results = [column_drift(c, references[c], current[c], config) for c in references]
    share = sum(r.drifted for r in results) / len(results) if results else 0.0
    return DatasetDrift(results, share, config.dataset_share)
