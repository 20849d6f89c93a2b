"""Declared cleaning steps: imputation per column, recorded with the version they made.

``clean`` computes fill values on one version (mean, median, mode, a
constant, or a ``module:function`` that returns the cleaned frame), writes
the result as a new version whose ``derived`` record names the source
version, the strategies and the exact fill values. ``apply_cleaning``
replays those recorded values on any frame - e.g. serving input - so that
training-time and serving-time preprocessing cannot silently diverge.
"""

from __future__ import annotations

import importlib
from typing import Any

import pandas as pd

from shipyard.errors import InvalidInput

STRATEGIES = ("mean", "median", "mode", "drop_rows")


def fill_values(frame: pd.DataFrame, strategies: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column, strategy in strategies.items():
        if column not in frame.columns:
            raise InvalidInput(f"cleaning names column {column!r}, which the data lacks")
        series = frame[column]
        if strategy in ("mean", "median"):
            if not pd.api.types.is_numeric_dtype(series):
                raise InvalidInput(
                    f"{strategy} needs a numeric column; {column!r} is {series.dtype}"
                )
            value = getattr(series, strategy)()
            values[column] = float(value) if pd.notna(value) else 0.0
        elif strategy == "mode":
            modes = series.mode(dropna=True)
            if modes.empty:
                raise InvalidInput(f"column {column!r} has no values to take a mode from")
            value = modes.iloc[0]
            values[column] = value.item() if hasattr(value, "item") else value
        elif strategy == "drop_rows":
            values[column] = None
        elif isinstance(strategy, str) and ":" in strategy:
            values[column] = {"function": strategy}
        elif isinstance(strategy, int | float | str | bool):
            values[column] = strategy
        else:
            raise InvalidInput(
                f"unknown cleaning strategy {strategy!r} for {column!r}; use "
                f"{STRATEGIES}, a constant or 'module:function'"
            )
    return values


def apply_cleaning(frame: pd.DataFrame, derived: dict[str, Any]) -> pd.DataFrame:
    """Replay a version's recorded cleaning on ``frame`` (same fill values, same order)."""
    cleaned = frame.copy()
    for column, value in derived.get("fill_values", {}).items():
        if column not in cleaned.columns:
            continue
        if value is None:
            cleaned = cleaned[cleaned[column].notna()]
        elif isinstance(value, dict) and "function" in value:
            module, _, name = value["function"].partition(":")
            try:
                function = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError) as exc:
                raise InvalidInput(
                    f"cleaning function {value['function']!r} cannot be imported: {exc}"
                ) from exc
            cleaned = function(cleaned)
        else:
            cleaned[column] = cleaned[column].fillna(value)
    return cleaned.reset_index(drop=True)
