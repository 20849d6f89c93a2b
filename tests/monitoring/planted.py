"""Generated data with known drifted and undrifted columns (shared by tests and benchmarks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


# -- drifts of known size (the detection benchmark and the default-calibration tests) --------

#: Six levels, from common to rare; a frequency drift of size d moves d of the probability
#: from the most common level to the rarest (d = 0.05: 25/10% become 20/15%).
SIX_LEVELS = ["a", "b", "c", "d", "e", "f"]
SIX_P = [0.25, 0.20, 0.18, 0.15, 0.12, 0.10]
#: Sigma of the log of the log-normal columns (the standard log-normal).
LOG_SIGMA = 1.0


@dataclass(frozen=True)
class Effect:
    """A planted drift of known size; ``size == 0`` plants none.

    - ``scale``: log-normal, current = (1 + size) x reference (a change of scale);
    - ``mean``: normal, the mean moves by ``size`` standard deviations;
    - ``frequency``: six levels, ``size`` of the probability moves from "a" to "f".
    """

    kind: str
    size: float

    @property
    def categorical(self) -> bool:
        return self.kind == "frequency"


def six_level_p(size: float) -> list[float]:
    """Level probabilities after moving ``size`` from the most common level to the rarest."""
    return [SIX_P[0] - size, *SIX_P[1:-1], SIX_P[-1] + size]


def effect_column(effect: Effect, rows: int, rng: np.random.Generator) -> tuple[Any, Any]:
    """(reference, current) values of one column with the planted effect."""
    if effect.kind == "scale":
        base = rng.uniform(1.0, 100.0)  # the scale itself must not matter
        reference = base * rng.lognormal(0.0, LOG_SIGMA, rows)
        return reference, (1 + effect.size) * base * rng.lognormal(0.0, LOG_SIGMA, rows)
    if effect.kind == "mean":
        loc, scale = rng.normal(0, 5), rng.uniform(0.5, 3)
        return rng.normal(loc, scale, rows), rng.normal(loc + effect.size * scale, scale, rows)
    if effect.kind == "frequency":
        reference = rng.choice(len(SIX_LEVELS), rows, p=SIX_P)
        current = rng.choice(len(SIX_LEVELS), rows, p=six_level_p(effect.size))
        return (
            pd.Categorical.from_codes(reference, categories=SIX_LEVELS),
            pd.Categorical.from_codes(current, categories=SIX_LEVELS),
        )
    raise ValueError(f"unknown effect kind {effect.kind!r}")


def effect_frame(
    effects: dict[str, Effect], rows: int, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reference, current) with one column per named effect."""
    rng = np.random.default_rng(seed)
    pairs = {name: effect_column(effect, rows, rng) for name, effect in effects.items()}
    return (
        pd.DataFrame({name: pair[0] for name, pair in pairs.items()}),
        pd.DataFrame({name: pair[1] for name, pair in pairs.items()}),
    )
