"""The quickstart's closed loop: drifted traffic → monitor alert → retraining
pipeline → gate → canary rollout → promoted, all inside one real server.

The server runs the monitor, the pipeline scheduler and executor and the
rollout controller, exactly as ``shipyard serve`` does; this module only
plays the outside world: clients sending requests, labels arriving later,
and new labelled data landing in the dataset.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd

from shipyard.cli import quickstart_pipeline
from shipyard.config import ServerSettings
from shipyard.errors import NotFound, ShipyardError
from shipyard.sdk.client import Client
from shipyard.server.app import create_app
from shipyard.server.background import running_server
from shipyard.store.monitor_store import AlertRecord
from shipyard.store.pipeline_records import ENDED, PipelineRunRecord

PIPELINE = "retrain-breast-cancer"
MONITOR = quickstart_pipeline.MONITOR
# A recalibrated imaging device: every size measurement reads 30% larger.
SHIFTED = [
    "mean radius",
    "mean perimeter",
    "mean area",
    "worst radius",
    "worst perimeter",
    "worst area",
]


def shift(data: pd.DataFrame) -> pd.DataFrame:
    shifted = data.copy()
    shifted[SHIFTED] = shifted[SHIFTED] * 1.3
    return shifted


@dataclass(frozen=True)
class LoopSummary:
    alert: AlertRecord
    run: PipelineRunRecord
    requests: int
    labels: int
    pipeline_file: Path


def close_the_loop(
    client: Client,
    dataset: str,
    drifted: pd.DataFrame,
    *,
    say: Callable[[str], None],
    headers: dict[str, str],
    timeout_s: float = 150.0,
    concurrency: int = 8,
) -> LoopSummary:
    """Serve drifted traffic until the pipeline the monitor's alert started has ended."""
    name = quickstart_pipeline.MODEL
    with contextlib.suppress(NotFound):  # a clean monitor (and trigger) on every quickstart
        client.delete_monitor(MONITOR)
    client.create_monitor(
        MONITOR,
        {
            "deployment": name,
            "window_s": 20,
            "interval_s": 1,
            "rules": ["drift_share >= 0.15", "accuracy < 0.94"],
        },
    )
    with contextlib.suppress(NotFound):
        client.delete_pipeline(PIPELINE)
    client.register_pipeline(PIPELINE, quickstart_pipeline.__file__)
    before = max((r.id for r in client.pipeline_runs(PIPELINE, limit=1)), default=0)
    settings = ServerSettings(
        poll_interval_s=0.1,
        stats_flush_s=0.2,
        controller_tick_s=0.2,
        pipeline_tick_s=0.2,
        prediction_log_flush_s=0.2,
    )
    # the labelled rows of the new world land in the training data, as a data job would
    record = client.add_dataset(dataset, drifted)
    say(f"new labelled data arrived: {record.uri}; serving traffic from the drifted world")
    with running_server(create_app(settings, client=client)) as url:
        requests, labels = asyncio.run(
            _outside_world(client, url, name, before, drifted, say, timeout_s, concurrency, headers)
        )
    runs = client.pipeline_runs(PIPELINE, limit=1)
    if not runs or runs[0].id <= before or runs[0].status not in ENDED:
        raise ShipyardError(
            f"the retraining pipeline did not finish within {timeout_s:.0f} s; "
            f"see shipyard pipelines runs {PIPELINE}"
        )
    run = client.get_pipeline_run(runs[0].id)
    alert = next(a for a in client.alerts(MONITOR) if a.id == run.trigger.get("alert"))
    return LoopSummary(
        alert,
        run,
        requests,
        labels,
        Path(quickstart_pipeline.__file__),
    )


async def _outside_world(
    client: Client,
    url: str,
    name: str,
    before: int,
    drifted: pd.DataFrame,
    say: Callable[[str], None],
    timeout_s: float,
    concurrency: int,
    headers: dict[str, str],
) -> tuple[int, int]:
    features = drifted.drop(columns=["target"]).to_dict(orient="records")
    truth = drifted["target"].tolist()
    token = uuid.uuid4().hex[:8]
    done = asyncio.Event()
    unlabelled: list[tuple[str, int]] = []
    sent = labelled = 0

    async def send(http: httpx.AsyncClient, offset: int) -> None:
        nonlocal sent
        i = offset
        while not done.is_set():
            i += concurrency
            row = i % len(features)
            request_id = f"qs-{token}-{i}"
            response = await http.post(
                f"{url}/v1/deployments/{name}/predict",
                json={"inputs": [features[row]]},
                headers={"x-request-id": request_id},
            )
            response.raise_for_status()
            unlabelled.append((request_id, truth[row]))
            sent += 1

    async def label(http: httpx.AsyncClient) -> None:
        """Ground truth arrives a little after each prediction."""
        nonlocal labelled
        while not done.is_set():
            await asyncio.sleep(0.5)
            batch = [{"request_id": r, "label": y} for r, y in unlabelled]
            unlabelled.clear()
            if batch:
                response = await http.post(f"{url}/v1/deployments/{name}/feedback", json=batch)
                response.raise_for_status()
                labelled += len(batch)

    async def watch() -> None:
        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            runs = await asyncio.to_thread(client.pipeline_runs, PIPELINE, limit=1)
            if runs and runs[0].id > before:
                run = await asyncio.to_thread(client.get_pipeline_run, runs[0].id)
                current = next(
                    (s.name for s in run.steps if s.status in ("running", "waiting")), ""
                )
                text = f"pipeline run {run.id} ({run.trigger.get('source')}): {run.status}"
                text += f", step {current}" if current else ""
                if run.status == "deploying":
                    rollout = await asyncio.to_thread(client.rollout, name)
                    text += f", canary at {rollout.spec['steps'][rollout.step_index]:g}%"
                if text != last:
                    say(text)
                    last = text
                if run.status in ENDED:
                    break
            else:
                alerts = await asyncio.to_thread(client.alerts, MONITOR, open_only=True)
                firing = [a for a in alerts if a.status == "firing"]
                if firing and not last.startswith("alert"):
                    last = f"alert: {firing[0].message}"
                    say(last)
            await asyncio.sleep(0.2)
        done.set()

    limits = httpx.Limits(max_connections=concurrency + 1)
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as http:
        await asyncio.gather(watch(), label(http), *(send(http, i) for i in range(concurrency)))
    return sent, labelled
