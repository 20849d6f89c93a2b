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
    present = values.dropna()
    counts = present.astype(str).value_counts()
    return CategoricalProfile(
        len(values),
        int(len(values) - len(present)),
        {str(k): int(v) for k, v in counts.items()},
    )


def profile_numeric(array: np.ndarray) -> NumericProfile:
    finite = array[np.isfinite(array)]
    nulls = int(len(array) - len(finite))
    if not len(finite):
        return NumericProfile(
            len(array), nulls, float("nan"), float("nan"), float("nan"), float("nan"), np.array([])
        )
    if len(finite) <= QUANTILES:
        grid = np.sort(finite)
    else:
        grid = np.quantile(finite, np.linspace(0.0, 1.0, QUANTILES), method="linear")
    return NumericProfile(
        len(array),
        nulls,
        float(finite.min()),
        float(finite.max()),
        float(finite.mean()),
        float(finite.std()),
        grid,
    )


def profile_frame(frame: pd.DataFrame) -> dict[str, ColumnProfile]:
    return {str(name): profile_column(frame[name]) for name in frame.columns}
