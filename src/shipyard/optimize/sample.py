"""The rows a conversion is checked on: the caller's sample, or the version's reference.

At least ``MIN_ROWS`` rows are checked. A smaller sample is topped up with
rows whose every column is drawn independently from the sample's own values
(new combinations reach tree paths the sample alone does not), and, where
the source model accepts missing values, a share of rows gets one numeric
cell set to NaN, so learned NaN routing is checked too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from shipyard.datasets import service as datasets
from shipyard.entities import ModelVersion
from shipyard.errors import InvalidInput, Remedy
from shipyard.monitoring.service import reference_sample
from shipyard.store import Store

MIN_ROWS = 1_000
NAN_SHARE = 0.1
_SAMPLE = Remedy(
    "pass rows to check the conversion on", "sample", "'datasets:/NAME/V' or a CSV/Parquet file"
)


@dataclass(frozen=True)
class ParityRows:
    frame: pd.DataFrame
    sample_rows: int
    drawn_rows: int
    nan_rows: int


def load_sample(store: Store, version: ModelVersion, sample: str | Path | None) -> pd.DataFrame:
    """The sample's rows in signature columns (``datasets:/N/V``, a file, or the reference)."""
    if sample is None:
        frame = reference_sample(store, version)
        if frame is None:
            raise InvalidInput(
                f"{version.uri} has no reference data to check the conversion on", remedy=_SAMPLE
            )
    elif str(sample).startswith("datasets:/"):
        frame = datasets.read_table(store, datasets.resolve(store, str(sample))).to_pandas()
    else:
        frame = datasets.read_source(sample)
    columns = version.signature.columns
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(f"the sample lacks the model's input column(s) {missing}")
    if frame.empty:
        raise InvalidInput("the sample has no rows")
    return frame[columns].reset_index(drop=True)


def parity_rows(
    frame: pd.DataFrame, version: ModelVersion, *, accepts_nan: bool, seed: int = 0
) -> ParityRows:
    """The sample, topped up to ``MIN_ROWS`` rows, with NaN rows where the model takes them."""
    rng = np.random.default_rng(seed)
    sample_rows = len(frame)
    drawn = max(0, MIN_ROWS - sample_rows)
    parts = [frame]
    if drawn:
        parts.append(
            pd.DataFrame(
                {c: frame[c].to_numpy()[rng.integers(0, sample_rows, drawn)] for c in frame}
            )
        )
    rows = pd.concat(parts, ignore_index=True)
    numeric = [c.name for c in version.signature.inputs if c.dtype in ("float64", "int64")]
    nan_rows = 0
    if accepts_nan and numeric:
        nan_rows = max(1, int(len(rows) * NAN_SHARE))
        as_float = {c: "float64" for c in numeric}
        picked = rows.sample(nan_rows, random_state=seed, replace=True).astype(as_float)
        for position, column in enumerate(rng.choice(numeric, nan_rows)):
            picked.iloc[position, picked.columns.get_loc(column)] = np.nan
        rows = pd.concat([rows.astype(as_float), picked], ignore_index=True)
    return ParityRows(rows, sample_rows, drawn, nan_rows)
