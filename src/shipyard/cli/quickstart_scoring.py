"""The quickstart's batch and stream steps: score with what the deployment serves now.

A CSV of patients (the bundled data, repeated, with an id column and three
unreadable cells) is scored by a two-worker batch job on the deployment, so
the bad rows land in the rejects file, the rest in Parquet parts, and the
predictions in the deployment's prediction log beside the online traffic.
Then a few rows go onto a Redis stream and a consumer of the deployment
answers each on the output stream (skipped, saying so, when no Redis answers).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pandas as pd

from shipyard.entities import BatchJobRecord
from shipyard.sdk.client import Client

COPIES = 40
STREAM_ROWS = 20
REDIS_URL = "redis://127.0.0.1:6379/0"
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


@dataclass(frozen=True)
class StreamSummary:
    """What the stream step did, or why it was skipped (no Redis answering)."""

    skipped: str | None
    sent: int = 0
    scored: int = 0
    example: dict[str, str] | None = None
    stream: str = ""


def score_a_stream(
    client: Client, deployment: str, features: pd.DataFrame, redis_url: str = REDIS_URL
) -> StreamSummary:
    """Put a few rows on a Redis stream and score them with a consumer of the deployment,
    the way `shipyard stream consume` does; skipped, with the reason, without Redis."""
    import redis

    connection = redis.Redis.from_url(redis_url, socket_connect_timeout=1)
    try:
        connection.ping()
    except redis.RedisError as exc:
        return StreamSummary(skipped=f"no Redis at {redis_url} ({type(exc).__name__})")
    stream = f"shipyard-quickstart-{uuid.uuid4().hex[:8]}"
    try:
        rows = features.head(STREAM_ROWS)
        client.stream_produce(redis_url, stream, rows)
        consumer = client.stream_consumer(
            deployment, redis_url=redis_url, stream=stream, group="quickstart", block_ms=200
        )
        counts = consumer.run(messages=len(rows), seconds=60)
        entries = cast(
            list[tuple[bytes, dict[bytes, bytes]]], connection.xrange(f"{stream}:out", count=1)
        )
        example = {k.decode(): v.decode() for k, v in entries[0][1].items()}
        return StreamSummary(None, len(rows), counts.scored, example, stream)
    finally:
        connection.delete(stream, f"{stream}:out", f"{stream}:dead")
        connection.close()
