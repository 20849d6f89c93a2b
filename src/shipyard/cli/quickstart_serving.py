"""The quickstart's serving step: deploy the champion, serve it, call all three protocols."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd

from shipyard.config import ServerSettings
from shipyard.errors import DeploymentNotFound, ShipyardError
from shipyard.sdk.client import Client
from shipyard.server.app import create_app
from shipyard.server.background import running_server


@dataclass(frozen=True)
class ServingSummary:
    version: int
    rows: int
    requests: int
    concurrency: int
    mean_batch: float
    example_file: Path
    sent: dict[str, int]


def serve_and_call(
    client: Client,
    name: str,
    X: pd.DataFrame,
    *,
    headers: dict[str, str],
    requests: int = 400,
    concurrency: int = 8,
) -> ServingSummary:
    try:
        client.update_deployment(name, model=f"{name}@champion")
    except DeploymentNotFound:
        client.create_deployment(
            name, f"{name}@champion", description="created by shipyard quickstart"
        )
    sample = X.iloc[:5]
    records = sample.to_dict(orient="records")
    with running_server(create_app(ServerSettings(), client=client)) as url:
        native = httpx.post(
            f"{url}/v1/deployments/{name}/predict", json={"inputs": records}, headers=headers
        )
        oip = httpx.post(
            f"{url}/v2/models/{name}/infer",
            headers=headers,
            json={
                "inputs": [
                    {
                        "name": "input-0",
                        "shape": list(sample.shape),
                        "datatype": "FP64",
                        "data": sample.to_numpy().ravel().tolist(),
                    }
                ]
            },
        )
        mlflow = httpx.post(
            f"{url}/v1/deployments/{name}/invocations",
            headers=headers,
            json={
                "dataframe_split": {
                    "columns": list(sample.columns),
                    "data": sample.to_numpy().tolist(),
                }
            },
        )
        for response in (native, oip, mlflow):
            if response.status_code != 200:
                raise ShipyardError(f"quickstart call failed: {response.text}")
        labels = native.json()["predictions"]
        oip_labels = next(o["data"] for o in oip.json()["outputs"] if o["name"] == "predict")
        if not labels == oip_labels == mlflow.json()["predictions"]:
            raise ShipyardError("the three protocols disagree; please report this")
        sent = asyncio.run(_load(url, name, X, requests, concurrency, headers))
        mean_batch = _mean_batch_size(httpx.get(f"{url}/metrics", headers=headers).text)
    example_file = client.settings.home.resolve() / "quickstart-request.json"
    example_file.write_text(json.dumps({"inputs": records[:1]}))
    return ServingSummary(
        version=int(native.json()["version"]),
        rows=len(records),
        requests=requests,
        concurrency=concurrency,
        mean_batch=mean_batch,
        example_file=example_file,
        sent=sent,
    )


def _mean_batch_size(metrics: str) -> float:
    """Requests per model call, from the server's own Prometheus counters."""
    total = count = 0.0
    for line in metrics.splitlines():
        if line.startswith("shipyard_batch_size_sum"):
            total += float(line.rsplit(" ", 1)[1])
        elif line.startswith("shipyard_batch_size_count"):
            count += float(line.rsplit(" ", 1)[1])
    return total / count if count else 1.0


async def _load(
    url: str, name: str, X: pd.DataFrame, total: int, concurrency: int, headers: dict[str, str]
) -> dict[str, int]:
    """Single-row requests with known request ids; returns request id -> row position."""
    records = X.to_dict(orient="records")
    token = uuid.uuid4().hex[:8]
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    sent: dict[str, int] = {}

    async def worker(http: httpx.AsyncClient) -> None:
        while not queue.empty():
            i = queue.get_nowait()
            request_id = f"qs-{token}-{i}"
            response = await http.post(
                f"{url}/v1/deployments/{name}/predict",
                json={"inputs": [records[i % len(records)]]},
                headers={"x-request-id": request_id},
            )
            response.raise_for_status()
            sent[request_id] = i % len(records)

    async with httpx.AsyncClient(
        limits=httpx.Limits(max_connections=concurrency), headers=headers
    ) as http:
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
    return sent
