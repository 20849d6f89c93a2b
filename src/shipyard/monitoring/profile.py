"""Reference profiles: what drift and quality checks compare against, stored once.

A profile summarizes a column so that every drift test can run against it
without re-reading (or re-sorting) the reference data:

- numeric: count, nulls, min/max, mean/std, and the quantile function on a
  fixed grid (``QUANTILES`` points; the whole sorted sample when it is no
  larger), which gives the reference CDF for Kolmogorov-Smirnov, the
  quantile function for Wasserstein, and decile bins for PSI;
- categorical: count, nulls and the frequency of every level.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

QUANTILES = 2001


@dataclass(frozen=True)
class NumericProfile:
    count: int
    nulls: int
    minimum: float
    maximum: float
    mean: float
    std: float
    quantiles: np.ndarray  # increasing; the quantile function at evenly spaced levels
    kind: str = "numeric"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "count": self.count,
            "nulls": self.nulls,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "mean": self.mean,
            "std": self.std,
            "quantiles": self.quantiles.tolist(),
        }

    @property
    def null_rate(self) -> float:
        return self.nulls / self.count if self.count else 0.0

    def cdf(self, values: np.ndarray) -> np.ndarray:
        """The reference CDF at ``values`` (right-continuous step/linear hybrid)."""
        levels = np.linspace(0.0, 1.0, len(self.quantiles))
        return np.interp(values, self.quantiles, levels, left=0.0, right=1.0)

    def decile_edges(self) -> np.ndarray:
        edges = np.unique(np.quantile(self.quantiles, np.linspace(0, 1, 11)))
        return edges


@dataclass(frozen=True)
class CategoricalProfile:
    count: int
    nulls: int
    frequencies: dict[str, int] = field(default_factory=dict)
    kind: str = "categorical"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "count": self.count,
            "nulls": self.nulls,
            "frequencies": dict(self.frequencies),
        }

    @property
    def null_rate(self) -> float:
        return self.nulls / self.count if self.count else 0.0


ColumnProfile = NumericProfile | CategoricalProfile


def profile_from_dict(data: dict[str, Any]) -> ColumnProfile:
    if data["kind"] == "numeric":
        return NumericProfile(
            data["count"],
            data["nulls"],
            data["minimum"],
            data["maximum"],
            data["mean"],
            data["std"],
            np.asarray(data["quantiles"]),
        )
    return CategoricalProfile(data["count"], data["nulls"], dict(data["frequencies"]))


def is_numeric(values: pd.Series) -> bool:
    dtype = values.dtype
    return not isinstance(dtype, pd.CategoricalDtype) and dtype.kind in "iuf"


def profile_column(values: pd.Series) -> ColumnProfile:
    if is_numeric(values):
        return profile_numeric(values.to_numpy(dtype="float64", na_value=np.nan))
    counts = count_levels(values)
    return CategoricalProfile(len(values), int(len(values) - sum(counts.values())), counts)


def sorted_quantiles(ordered: np.ndarray, points: int = QUANTILES) -> np.ndarray:
    """The quantile function of sorted values at ``points`` even levels (linear, as
    ``np.quantile``), by indexing: one sort serves every level."""
    if len(ordered) <= points:
        return ordered
    positions = np.linspace(0, len(ordered) - 1, points)
    below = np.floor(positions).astype(np.int64)
    above = np.minimum(below + 1, len(ordered) - 1)
    weight = positions - below
    return ordered[below] * (1 - weight) + ordered[above] * weight


def finite_values(array: np.ndarray) -> np.ndarray:
    mask = np.isfinite(array)
    return array if mask.all() else array[mask]


def profile_numeric(array: np.ndarray) -> NumericProfile:
    finite = finite_values(array)
    nulls = int(len(array) - len(finite))
    if not len(finite):
        return NumericProfile(
            len(array), nulls, float("nan"), float("nan"), float("nan"), float("nan"), np.array([])
        )
    ordered = np.sort(finite)
    return NumericProfile(
        len(array),
        nulls,
        float(ordered[0]),
        float(ordered[-1]),
        float(ordered.mean()),
        float(ordered.std()),
        sorted_quantiles(ordered),
    )


def count_levels(values: pd.Series) -> dict[str, int]:
    """Level counts keyed by text; categorical columns are counted by code (fast)."""
    counts: dict[str, int] = {}
    for key, count in values.value_counts(dropna=True).items():
        if count:
            label = str(key)
            counts[label] = counts.get(label, 0) + int(count)
    return counts


def profile_frame(frame: pd.DataFrame) -> dict[str, ColumnProfile]:
    return {str(name): profile_column(frame[name]) for name in frame.columns}
