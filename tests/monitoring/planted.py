"""Generated data with known drifted and undrifted columns (shared by tests and benchmarks)."""

from __future__ import annotations

import numpy as np
import pandas as pd

LEVELS = ["a", "b", "c", "d"]
REFERENCE_P = [0.4, 0.3, 0.2, 0.1]
SHIFTED_P = [0.25, 0.3, 0.25, 0.2]
# Column -> how it drifts in the current data (None: it does not).
PLAN: dict[str, str | None] = {
    **{f"num_{i}": None for i in range(14)},
    "num_14": "mean",
    "num_15": "mean",
    "num_16": "mean",
    "num_17": "variance",
    "num_18": "variance",
    "num_19": "variance",
    "cat_0": None,
    "cat_1": None,
    "cat_2": None,
    "cat_3": "frequency",
    "cat_4": "frequency",
}


def planted(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reference, current) with 20 numeric and 5 categorical columns."""
    rng = np.random.default_rng(seed)
    reference, current = {}, {}
    for column, drift in PLAN.items():
        if column.startswith("num"):
            loc, scale = rng.normal(0, 5), rng.uniform(0.5, 3)
            reference[column] = rng.normal(loc, scale, rows)
            shift = {"mean": (0.5 * scale, 1.0), "variance": (0.0, 1.6)}.get(drift, (0.0, 1.0))
            current[column] = rng.normal(loc + shift[0], scale * shift[1], rows)
        else:
            reference[column] = pd.Categorical(
                rng.choice(LEVELS, rows, p=REFERENCE_P), categories=LEVELS
            )
            p = SHIFTED_P if drift else REFERENCE_P
            current[column] = pd.Categorical(rng.choice(LEVELS, rows, p=p), categories=LEVELS)
    return pd.DataFrame(reference), pd.DataFrame(current)


def drifted_columns() -> set[str]:
    return {c for c, d in PLAN.items() if d}
