"""The real server on a free port: alias flips under load, graceful shutdown, workers."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from shipyard import Client
from tests.server.processes import start_server as _start
from tests.server.processes import stop_server as _stop

pytestmark = pytest.mark.slow


@pytest.fixture
def served(workspace: Client) -> Iterator[tuple[Client, str]]:
    process, url = _start(workspace.settings.home)
    yield workspace, url
    _stop(process)


async def _load(
    url: str,
    body: dict,
    *,
    until: asyncio.Event,
    at_least: int,
    concurrency: int,
    statuses: Counter,
    versions: Counter,
) -> None:
    """Requests at ``concurrency`` until ``until`` is set and ``at_least`` were sent: the
    load lasts exactly as long as the scenario it is under, however fast the machine."""
    sent = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal sent
        while not until.is_set() or sent < at_least:
            sent += 1
            try:
                response = await client.post(f"{url}/v1/deployments/cancer/predict", json=body)
            except httpx.TransportError as exc:
                statuses[type(exc).__name__] += 1
                continue
            statuses[response.status_code] += 1
            if response.status_code == 200:
                versions[response.json()["version"]] += 1

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))


def test_zero_failed_requests_while_an_alias_flips_20_times(served, records) -> None:
    workspace, url = served
    statuses: Counter = Counter()
    versions: Counter = Counter()

    async def scenario() -> None:
        flipped = asyncio.Event()
        load = asyncio.create_task(
            _load(
                url,
                {"inputs": records[:1]},
                until=flipped,
                at_least=1000,
                concurrency=16,
                statuses=statuses,
                versions=versions,
            )
        )
        for flip in range(20):
            await asyncio.sleep(0.15)
            await asyncio.to_thread(workspace.set_alias, "cancer", "champion", 2 - flip % 2)
        await asyncio.sleep(1.0)  # the last flip is loaded, warmed and switched under load
        flipped.set()
        await load

    asyncio.run(scenario())
    assert sum(statuses.values()) >= 1000
    assert statuses == Counter({200: sum(statuses.values())}), statuses
    assert versions[1] > 0 and versions[2] > 0


def test_graceful_shutdown_answers_requests_in_flight(workspace: Client) -> None:
    """Requests the server has accepted are answered after SIGTERM, not dropped."""
    import pandas as pd

    from tests.server.models import Threshold

    workspace.register_model(
        Threshold(1.0, delay_s=0.4), name="slow", sample_input=pd.DataFrame({"x": [0.5, 2.0]})
    )
    workspace.create_deployment("slow", "slow/1")
    process, url = _start(workspace.settings.home)
    statuses: Counter = Counter()

    async def scenario() -> None:
        async with httpx.AsyncClient(timeout=30) as client:

            async def one(x: float) -> None:
                response = await client.post(
                    f"{url}/v1/deployments/slow/predict", json={"inputs": [{"x": x}]}
                )
                statuses[response.status_code] += 1

            tasks = [asyncio.create_task(one(float(i))) for i in range(12)]
            await asyncio.sleep(0.25)  # all accepted and waiting on the (slow) model
            process.send_signal(signal.SIGTERM)
            await asyncio.gather(*tasks)

    asyncio.run(scenario())
    process.wait(timeout=30)
    assert statuses == Counter({200: 12}), statuses
    assert process.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal


def test_two_workers_serve_and_report_metrics(workspace: Client, records) -> None:
    process, url = _start(workspace.settings.home, "--workers", "2")
    try:
        for _ in range(20):
            assert (
                httpx.post(
                    f"{url}/v1/deployments/cancer/predict", json={"inputs": records[:1]}
                ).status_code
                == 200
            )
        metrics = httpx.get(f"{url}/metrics").text
        assert 'shipyard_requests_total{deployment="cancer"' in metrics
    finally:
        _stop(process)


@pytest.mark.timeout(480)
def test_rollouts_under_load_promote_then_roll_back_with_no_failed_request(
    workspace: Client, records, breast_cancer
) -> None:
    """Requests at concurrency 32 through the real server for as long as a good version is
    rolled out and promoted and an inverted one is rolled back by the model checks."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from shipyard.deploy.analysis import Thresholds
    from shipyard.deploy.rollouts import RolloutSpec

    X, y = breast_cancer
    good = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X[:540], y[:540])
    bad = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, 1 - y)
    workspace.register_model(good, name="cancer", sample_input=X[:50])  # v3
    workspace.register_model(bad, name="cancer", sample_input=X[:50])  # v4
    # Sample minimums sized so that the 5% step gathers them in seconds on a quiet machine
    # and within the deadline on a busy CI machine.
    thresholds = Thresholds(
        min_requests=100, min_compared=100, min_divergence_samples=150, max_divergence=0.2
    )
    spec = {
        "steps": (5, 25, 50, 100),
        "interval_s": 1.5,
        "deadline_s": 180,
        "thresholds": thresholds,
    }
    rows = X.to_dict(orient="records")
    env = {"SHIPYARD_CONTROLLER_TICK_S": "0.2", "SHIPYARD_STATS_FLUSH_S": "0.2"}
    process, url = _start(workspace.settings.home, env=env)
    statuses: Counter = Counter()
    versions: Counter = Counter()
    outcomes: list[str] = []

    async def rollouts(done: asyncio.Event) -> None:
        for target in ("cancer/3", "cancer/4"):
            record = await asyncio.to_thread(
                workspace.start_rollout, "cancer", RolloutSpec(to=target, **spec)
            )
            while True:
                await asyncio.sleep(0.2)
                current = await asyncio.to_thread(workspace.store.rollouts.get, record.id)
                if current.status not in ("running", "paused"):
                    outcomes.append(current.status)
                    break
        done.set()

    async def load(done: asyncio.Event) -> None:
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:

            async def worker(offset: int) -> None:
                i = offset
                while not done.is_set() or sum(statuses.values()) < 3_000:
                    i += 13
                    response = await client.post(
                        f"{url}/v1/deployments/cancer/predict",
                        json={"inputs": [rows[i % len(rows)]]},
                    )
                    statuses[response.status_code] += 1
                    if response.status_code == 200:
                        versions[response.json()["version"]] += 1

            await asyncio.gather(*(worker(i) for i in range(32)))

    async def scenario() -> None:
        done = asyncio.Event()
        await asyncio.wait_for(asyncio.gather(rollouts(done), load(done)), timeout=420)

    try:
        asyncio.run(scenario())
    finally:
        _stop(process)
    assert outcomes == ["promoted", "rolled_back"]
    assert sum(statuses.values()) >= 3_000
    assert statuses == Counter({200: sum(statuses.values())}), statuses
    assert versions[3] > 0 and versions[4] > 0
    bad_rollout = workspace.rollout("cancer")
    last = workspace.rollout_events(bad_rollout.id)[-1]
    failed = {c["name"] for c in last.details["checks"] if c["status"] == "fail"}
    assert failed & {"agreement", "divergence"} and "error_rate" not in failed
    assert workspace.get_model_version_by_alias("cancer", "champion").version == 3


def test_blue_green_switches_under_load_lose_no_request(served, records) -> None:
    from shipyard.deploy.policy import BlueGreenPolicy
    from shipyard.registry.uri import ModelRef

    workspace, url = served
    workspace.set_policy(
        "cancer", BlueGreenPolicy(ModelRef("cancer", version=1), ModelRef("cancer", version=2))
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # both colours loaded and warm, blue live
        body = httpx.post(
            f"{url}/v1/deployments/cancer/predict", json={"inputs": records[:1]}
        ).json()
        if body.get("arm") == "cancer/1":
            break
        time.sleep(0.1)
    statuses: Counter = Counter()
    versions: Counter = Counter()
    switch_times: list[float] = []

    async def scenario() -> None:
        switched = asyncio.Event()
        load = asyncio.create_task(
            _load(
                url,
                {"inputs": records[:1]},
                until=switched,
                at_least=1000,
                concurrency=16,
                statuses=statuses,
                versions=versions,
            )
        )
        async with httpx.AsyncClient() as client:
            for flip in range(6):
                await asyncio.sleep(0.2)
                target = 2 if flip % 2 == 0 else 1
                started = time.monotonic()
                await asyncio.to_thread(workspace.switch_deployment, "cancer")
                while True:  # how long until the switch is what answers
                    answer = await client.post(
                        f"{url}/v1/deployments/cancer/predict", json={"inputs": records[:1]}
                    )
                    if answer.json()["version"] == target:
                        switch_times.append(time.monotonic() - started)
                        break
        switched.set()
        await load

    asyncio.run(scenario())
    assert statuses == Counter({200: sum(statuses.values())}), statuses
    assert versions[1] > 0 and versions[2] > 0
    assert max(switch_times) < 1.0, switch_times
