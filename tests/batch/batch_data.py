"""Shared pieces of the batch tests: the scored model and how to read a job's output."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from shipyard import Client


@dataclass
class Scored:
    client: Client
    model: object
    frame: pd.DataFrame
    folder: Path

    def expected(self, frame: pd.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray]:
        frame = self.frame if frame is None else frame
        return self.model.predict(frame), self.model.predict_proba(frame)  # type: ignore[attr-defined]


def read_output(folder: Path) -> pd.DataFrame:
    """Every part file of a job's output, in part order (= input order)."""
    parts = sorted(folder.glob("part-*.parquet"))
    return pd.concat([pq.read_table(p).to_pandas() for p in parts], ignore_index=True)
