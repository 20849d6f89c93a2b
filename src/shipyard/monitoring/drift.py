"""Drift of a current window against stored reference profiles.

Every test is registered by name and takes (reference profile, current
values); results are typed (``DriftResult``) and rendered elsewhere.

The defaults answer two questions at once, at any window size:

- is the change real? A p-value (Kolmogorov-Smirnov for numbers, chi-square
  homogeneity for categories), adjusted across the columns of one check with
  Benjamini-Hochberg, so that a check over many columns keeps its false
  discoveries near ``DriftConfig.false_discovery_rate`` (5%) instead of
  raising one false alarm in every twenty unchanged columns;
- is it big enough to matter? A distance in the same unit for both kinds,
  the share of rows that changed side: the KS distance (largest gap between
  the two CDFs) for numbers, the total variation distance (share of rows that
  would have to change level) for categories, at least ``EFFECT_FLOOR``.

The floor is what keeps million-row windows from alarming on irrelevant
wobbles; it was calibrated with ``benchmarks/drift.py --detection`` on planted
drifts of known size (docs/drift.md): above what a 2% change of scale, a
0.02-sigma shift or a 1-point frequency move produce at a million rows, below
what a 10% change of scale, a 0.1-sigma shift or a 5-point move produce at
100k rows. Both distances are scale-free, so a log-normal's change of scale
counts as much as a normal's (a distance divided by the standard deviation,
the old default, hid it behind the long tail).

Wasserstein, Jensen-Shannon, PSI and the plain p-value tests stay available;
any column can name its own method and threshold.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

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

#: Smallest distance (share of rows, see the module docstring) the defaults call drift.
EFFECT_FLOOR = 0.02
#: Benjamini-Hochberg false-discovery rate of the defaults, across the columns of a check.
FALSE_DISCOVERY_RATE = 0.05
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
    #: Benjamini-Hochberg adjusted p-value, for methods whose verdict is FDR-controlled.
    p_adjusted: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class DatasetDrift:
    columns: list[DriftResult]
    share: float
    threshold: float
    false_discovery_rate: float = FALSE_DISCOVERY_RATE

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
            "false_discovery_rate": self.false_discovery_rate,
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
    #: Level at which Benjamini-Hochberg adjusted p-values count as significant.
    false_discovery_rate: float = FALSE_DISCOVERY_RATE


# -- tests: (reference, current values) -> (statistic, p-value or None) -------------------
Test = Callable[[Any, Any], tuple[float, float | None]]


def _reference_cdf(reference: NumericProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct reference values with the reference CDF just below and at each.

    A profile holding the whole sample gives the exact empirical CDF; a quantile
    grid gives the CDF at its points (exact there, so the KS distance below is
    within one grid step, 1/2000, of the one against the full sample). Ties
    (integer or flag columns) get one jump, as in ``scipy.stats.ks_2samp``.
    """
    grid = reference.quantiles
    values, first = np.unique(grid, return_index=True)
    last = np.append(first[1:], len(grid)) - 1
    if len(grid) == reference.count - reference.nulls:  # the whole sorted sample
        return values, first / len(grid), (last + 1) / len(grid)
    levels = np.linspace(0.0, 1.0, len(grid))
    return values, levels[first], levels[last]


def _ks_distance(reference: NumericProfile, current: np.ndarray) -> tuple[float, float]:
    """The two-sample KS distance and its asymptotic p-value.

    Both CDFs are monotone, so their largest gap is found at the reference's
    points, comparing left limits with left limits and values with values.
    """
    values, ref_below, ref_at = _reference_cdf(reference)
    if not len(values):
        return float("nan"), 1.0
    x = np.sort(current)
    n = len(x)
    cur_below = np.searchsorted(x, values, side="left") / n
    cur_at = np.searchsorted(x, values, side="right") / n
    statistic = float(max(np.max(np.abs(cur_below - ref_below)), np.max(np.abs(cur_at - ref_at))))
    m = reference.count - reference.nulls
    effective = n * m / (n + m)
    from scipy import special  # scipy.stats costs 0.5 s to import: only where a test runs

    return statistic, float(special.kolmogorov(statistic * math.sqrt(effective)))


def ks(reference: NumericProfile, current: np.ndarray) -> tuple[float, float | None]:
    """Two-sample KS statistic against the stored reference CDF, asymptotic p-value."""
    return _ks_distance(reference, current)


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
    from scipy import stats

    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def total_variation(
    reference: CategoricalProfile, current: dict[str, int]
) -> tuple[float, float | None]:
    """Share of rows that would have to change level, with the chi-square p-value.

    The distance reads like the KS distance of numbers (a share of rows), so
    one floor serves both kinds; the p-value says whether it is more than noise.
    """
    ref, cur, _, _ = _categorical_shares(reference, current)
    _, p_value = chisquare(reference, current)
    return float(0.5 * np.abs(ref - cur).sum()), p_value


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
    #: Also require the Benjamini-Hochberg adjusted p-value (across the check's columns
    #: using such methods) below ``DriftConfig.false_discovery_rate``.
    fdr: bool = False


METHODS: dict[str, Method] = {}


def register_method(name: str, method: Method) -> None:
    METHODS[name] = method


register_method("ks_fdr", Method(ks, ("numeric",), EFFECT_FLOOR, False, fdr=True))
register_method("tvd_fdr", Method(total_variation, ("categorical",), EFFECT_FLOOR, False, fdr=True))
register_method("ks", Method(ks, ("numeric",), 0.05, True))
register_method("wasserstein", Method(wasserstein, ("numeric",), 0.1, False))
register_method("chisquare", Method(chisquare, ("categorical",), 0.05, True))
register_method("jensenshannon", Method(jensenshannon, ("numeric", "categorical"), 0.1, False))
register_method("psi", Method(psi, ("numeric", "categorical"), 0.2, False))


def default_method(kind: str) -> str:
    return "ks_fdr" if kind == "numeric" else "tvd_fdr"


def _measure(
    column: str, reference: ColumnProfile, current: pd.Series, config: DriftConfig
) -> DriftResult:
    """One column's statistic and p-value; FDR methods get their verdict in ``_decide``."""
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
    name = rule.method or default_method(kind)
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


def _decide(results: list[DriftResult], config: DriftConfig) -> list[DriftResult]:
    """Adjust the p-values of FDR methods together (Benjamini-Hochberg) and finish their verdicts.

    The family is every such column of one check, so adding columns does not
    add false alarms the way independent p < 0.05 tests do.
    """
    family = [i for i, r in enumerate(results) if METHODS[r.method].fdr and r.p_value is not None]
    if not family:
        return results
    raw = np.array([results[i].p_value for i in family], dtype="float64")
    from scipy import stats

    adjusted = stats.false_discovery_control(raw, method="bh")
    decided = list(results)
    for i, p_adjusted in zip(family, adjusted, strict=True):
        result = results[i]
        significant = p_adjusted < config.false_discovery_rate
        decided[i] = replace(
            result,
            p_adjusted=float(p_adjusted),
            drifted=bool(significant and result.drifted),
        )
    return decided


def column_drift(
    column: str, reference: ColumnProfile, current: pd.Series, config: DriftConfig | None = None
) -> DriftResult:
    """Drift of one column (a family of one for the FDR adjustment)."""
    config = config or DriftConfig()
    return _decide([_measure(column, reference, current, config)], config)[0]


def dataset_drift(
    references: dict[str, ColumnProfile], current: pd.DataFrame, config: DriftConfig | None = None
) -> DatasetDrift:
    config = config or DriftConfig()
    missing = [c for c in references if c not in current.columns]
    if missing:
        raise InvalidInput(f"the current data lacks reference column(s) {missing}")
    measured = [_measure(c, references[c], current[c], config) for c in references]
    results = _decide(measured, config)
    share = sum(r.drifted for r in results) / len(results) if results else 0.0
    return DatasetDrift(results, share, config.dataset_share, config.false_discovery_rate)
