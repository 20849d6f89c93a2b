"""A one-worker ``shipyard serve`` runs its models with ``--model-threads`` threads.

The server is started the way users start it; the probe model reports the
OpenMP and BLAS pool sizes of whichever thread runs it (the event loop for a
lone request, the batch thread under concurrency), so the limit is checked
where the model really runs, whatever thread variables the caller exported.
"""

from __future__ import annotations

import asyncio
import os

import httpx
import pandas as pd
import pytest

from shipyard import Client
from shipyard.config import StoreSettings
from tests.server.models import ThreadProbe
from tests.server.processes import start_server, stop_server

pytestmark = pytest.mark.slow

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _pools_seen(url: str) -> set[str]:
    seen: set[str] = set()
    body = {"inputs": [{"x": 1.0}]}
    for _ in range(5):  # one at a time: these run inline on the event loop
        seen.update(
            httpx.post(f"{url}/v1/deployments/probe/predict", json=body).json()["predictions"]
        )

    async def together() -> None:  # concurrent: these run in the batch thread
        async with httpx.AsyncClient(timeout=30) as client:
            responses = await asyncio.gather(
                *(client.post(f"{url}/v1/deployments/probe/predict", json=body) for _ in range(32))
            )
        for response in responses:
            seen.update(response.json()["predictions"])

    asyncio.run(together())
    return seen


@pytest.mark.parametrize(
    ("exported", "flag", "expected"),
    [
        ("4", "1", "1"),  # the default limit holds against the caller's environment
        (None, "3", "3"),  # and the flag is what sets it, not the number of cores
    ],
)
def test_one_worker_server_runs_models_with_the_configured_threads(
    tmp_path, exported: str | None, flag: str, expected: str
) -> None:
    with Client(settings=StoreSettings(home=tmp_path / "ws", user="tester")) as client:
        client.register_model(
            ThreadProbe(), name="probe", sample_input=pd.DataFrame({"x": [0.5, 2.0]})
        )
        client.create_deployment("probe", "probe/1")
    environment = {k: v for k, v in os.environ.items() if k not in THREAD_VARIABLES}
    if exported is not None:
        environment.update(dict.fromkeys(THREAD_VARIABLES, exported))
    process, url = start_server(tmp_path / "ws", "--model-threads", flag, base_env=environment)
    try:
        seen = _pools_seen(url)
    finally:
        stop_server(process)
    assert seen == {f"openmp={expected},blas={expected}"}, seen
