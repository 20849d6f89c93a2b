"""The quickstart's batch step: score a file with what the deployment serves now.

A CSV of patients (the bundled data, repeated, with an id column and three
unreadable cells) is scored by a two-worker batch job on the deployment, so
the bad rows land in the rejects file, the rest in Parquet parts, and the
predictions in the deployment's prediction log beside the online traffic.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from shipyard.entities import BatchJobRecord
from shipyard.sdk.client import Client

COPIES = 40
BAD_CELLS = ((5, "mean radius", "n/a"), (4_000, "worst area", "?"), (17_000, "mean texture", ""))


@dataclass(frozen=True)
class BatchSummary:
    job: BatchJobRecord
    input: Path
    rejects: Path


def score_in_batch(client: Client, deployment: str, features: pd.DataFrame) -> BatchSummary:
    folder = client.settings.home / "batch"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    patients = pd.concat([features] * COPIES, ignore_index=True).astype(object)
    patients.insert(0, "patient_id", [f"p{i:06d}" for i in range(len(patients))])
    for row, column, value in BAD_CELLS:
        patients.loc[row, column] = value
    source = folder / f"patients-{stamp}.csv"
    patients.to_csv(source, index=False)
    output = folder / f"scored-{stamp}"
    job = client.batch_predict(
        deployment, source, output, id_column="patient_id", chunk_rows=5_000, workers=2
    )
    return BatchSummary(job, source, output / "rejects.parquet")
