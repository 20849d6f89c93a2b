"""The background rows explanations are measured against, from the version's reference.

Best: the sample of reference rows stored with the reference profile
(``register_model(..., reference_data=X)`` keeps up to 100 rows). Versions whose
reference predates that get rows rebuilt from the profile: each numeric column's
quantile function at evenly spaced levels and categorical levels in proportion
to their counts, column by column (right for the linear closed form, which needs
only each feature's mean; an independence assumption for the sampled method).
Without any reference: one row at the middle of each column's range in the
signature. Path-dependent TreeSHAP needs none of it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shipyard.entities import ModelVersion
from shipyard.monitoring.profile import CategoricalProfile, ColumnProfile, NumericProfile
from shipyard.monitoring.service import reference_of, reference_sample
from shipyard.serving.validation import RowValidator
from shipyard.signature import ColumnSpec
from shipyard.store import Store

MAX_ROWS = 100


def background_for(store: Store, version: ModelVersion, rows: int = MAX_ROWS) -> pd.DataFrame:
    """Up to ``rows`` background rows with the signature's columns and dtypes."""
    validator = RowValidator(version.signature)
    frame = reference_sample(store, version)
    if frame is not None and set(validator.columns) <= set(frame.columns):
        return validator.frame(frame[validator.columns].head(rows).values.tolist())
    try:
        profiles = reference_of(store, version)
    except Exception:  # no reference profile at all
        profiles = {}
    if all(c in profiles for c in validator.columns):
        columns = [_from_profile(profiles[c], spec, rows) for c, spec in _specs(version)]
        return validator.frame([list(r) for r in zip(*columns, strict=True)])
    return validator.frame([[spec.example() for _, spec in _specs(version)]])


def _specs(version: ModelVersion) -> list[tuple[str, ColumnSpec]]:
    return [(spec.name, spec) for spec in version.signature.inputs]


def _from_profile(profile: ColumnProfile, spec: ColumnSpec, rows: int) -> list[Any]:
    if isinstance(profile, NumericProfile) and len(profile.quantiles):
        grid = np.linspace(0, 1, len(profile.quantiles))
        values = np.interp((np.arange(rows) + 0.5) / rows, grid, profile.quantiles)
        if spec.dtype == "int64":
            return [round(float(v)) for v in values]
        return [float(v) for v in values]
    if isinstance(profile, CategoricalProfile) and profile.frequencies:
        levels = sorted(profile.frequencies, key=lambda k: -profile.frequencies[k])
        counts = np.array([profile.frequencies[k] for k in levels], dtype=np.float64)
        repeats = np.floor(counts / counts.sum() * rows).astype(int)
        repeats[0] += rows - repeats.sum()  # largest level takes the rounding rest
        picked = [level for level, n in zip(levels, repeats, strict=True) for _ in range(n)]
        if spec.dtype == "bool":
            return [v == "True" for v in picked]
        return picked
    return [spec.example()] * rows
