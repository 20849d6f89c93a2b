"""Two ``shipyard serve`` replicas on one PostgreSQL database behave as one service.

Each replica is its own process with its own home folder; they share only the
database URL and the artifact folder, as two pods would. Under continuous load
(round robin like a Service, >= 10,000 requests, none may fail) the test shows:

1. an alias move reaches both replicas (and how long it takes);
2. a canary step is judged from both replicas' traffic by the one lease holder:
   each replica alone serves fewer candidate requests than the step needs, so the
   step can only pass if the analysis adds them up;
3. SIGKILL of the controller's replica moves the lease to the survivor within
   the lease time, and the survivor finishes the rollout;
4. the monitor (run by whichever replica leads) counts both replicas' logs.

The killed replica is first taken out of rotation and drained, as a load
balancer does with a pod whose readiness fails: the point is the lease
failover, not connection resets of requests in flight at the kill.
"""

from __future__ import annotations

import asyncio
import resource
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.deploy.analysis import Thresholds
from shipyard.deploy.rollouts import LEASE, RolloutSpec
from tests.replicas.load import Load
from tests.replicas.replicas import FAST_CONTROLLERS, Replica, start_replicas

# ~50 s on 2 idle cores, ~3 min shared with four other jobs (load average 8): room for both.
pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.timeout(420)]

TOTAL = 10_000  # predictions across the whole test
STEP_QUOTA = 600  # alpha requests each replica serves during the first canary step
MIN_REQUESTS = 200  # candidate requests a step needs: more than one replica's ~150
LEASE_S = float(FAST_CONTROLLERS["SHIPYARD_CONTROLLER_LEASE_S"])
TICK_S = float(FAST_CONTROLLERS["SHIPYARD_CONTROLLER_TICK_S"])


@pytest.fixture
def shared(
    pg_schema_url: str, tmp_path: Path, fitted_pipeline: Any, breast_cancer: Any
) -> Iterator[tuple[Client, dict[str, str]]]:
    """The shared store (a fresh schema, dropped afterwards) with m v1-v3 and two deployments."""
    env = {"SHIPYARD_DB_URL": pg_schema_url, "SHIPYARD_ARTIFACTS_URL": str(tmp_path / "artifacts")}
    settings = StoreSettings(
        home=tmp_path / "operator",
        db_url=env["SHIPYARD_DB_URL"],
        artifacts_url=env["SHIPYARD_ARTIFACTS_URL"],
        user="operator",
    )
    X, _ = breast_cancer
    with Client(settings=settings) as client:
        for _ in range(3):  # same weights: the versions differ only in number
            client.register_model(fitted_pipeline, name="m", sample_input=X[:20])
        client.set_alias("m", "champion", 1)
        client.create_deployment("alpha", "m@champion")
        client.create_deployment("beta", "m/1")  # carries the load while alpha must stay idle
        client.create_monitor("alpha-rows", {"deployment": "alpha", "interval_s": 0.5})
        yield client, env


async def until(
    check: Callable[[], Any], timeout_s: float, what: str, load: Load | None = None
) -> Any:
    """Poll ``check`` (run in a thread: it may query the store) until it is truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await asyncio.to_thread(check)
        if value:
            return value
        await asyncio.sleep(0.1)
    seen = ""
    if load is not None:
        recent = Counter(
            (o.replica, o.deployment, o.status, o.version) for o in load.outcomes[-2000:]
        )
        seen = f"; the last 2000 answers: {dict(recent)}"
    raise AssertionError(f"{what}: not within {timeout_s} s{seen}")


async def test_two_replicas_behave_as_one_service(
    shared: tuple[Client, dict[str, str]], tmp_path: Path, breast_cancer: Any
) -> None:
    client, env = shared
    began = time.monotonic()
    cpu_before, children_before = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    a, b = await asyncio.to_thread(start_replicas, tmp_path / "pods", ["a", "b"], env)
    timings: dict[str, float] = {"start_s": time.monotonic() - began}
    X, _ = breast_cancer
    load = Load(rows=X.to_dict("records"))
    runner = asyncio.create_task(load.run())
    phase = time.monotonic()

    def lap(name: str) -> None:
        nonlocal phase
        timings[f"{name}_s"] = time.monotonic() - phase
        timings[f"{name}_requests"] = len(load.outcomes)
        phase = time.monotonic()

    try:
        timings |= await _alias_move_reaches_both(client, load, a, b)
        lap("alias_phase")
        holder, survivor, rollout = await _canary_step_counts_both(client, load, a, b)
        lap("canary_phase")
        timings |= await _controller_fails_over(client, load, holder, survivor)
        await _promoted_by_survivor(client, load, survivor, rollout)
        lap("failover_phase")
        load.route("alpha", [survivor])
        await until(lambda: len(load.outcomes) >= TOTAL, 120, f"{TOTAL} requests sent")
        load.route("alpha", [])
        await load.drained()
        await _monitor_counts_both(client, load, tmp_path / "artifacts", holder, survivor)
        lap("monitor_phase")
    finally:
        load.stop()
        await runner
        for replica in (a, b):
            replica.stop()
    failed = [o for o in load.outcomes if o.status != 200]
    assert len(load.outcomes) >= TOTAL
    assert not failed, f"{len(failed)} failed requests, first: {failed[:3]}"
    timings["total_s"] = time.monotonic() - began
    # CPU spent by the load generator (this process) and by the replicas (reaped children):
    # on two idle cores the test needs about half their sum, whatever else shares them.
    timings["test_process_cpu_s"] = _cpu(resource.RUSAGE_SELF) - cpu_before
    timings["replicas_cpu_s"] = _cpu(resource.RUSAGE_CHILDREN) - children_before
    print(f"\ntwo replicas: {len(load.outcomes)} requests, 0 failed; {timings}")


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


async def _alias_move_reaches_both(
    client: Client, load: Load, a: Replica, b: Replica
) -> dict[str, float]:
    load.route("alpha", [a, b])
    await until(lambda: load.answered["alpha"] >= 1500, 60, "warm-up traffic")
    moved = time.monotonic()
    await asyncio.to_thread(client.set_alias, "m", "champion", 2)

    def first_v2(replica: Replica) -> float | None:
        return next(
            (
                o.at
                for o in load.outcomes
                if o.replica == replica.name and o.at > moved and o.version == 2
            ),
            None,
        )

    await until(lambda: first_v2(a) and first_v2(b), 10, "champion v2 on both replicas", load)
    reached = {r.name: (first_v2(r) or 0) - moved for r in (a, b)}
    await until(lambda: load.answered["alpha"] >= 3000, 60, "traffic after the move")
    for replica in (a, b):  # the swap is atomic: once v2 answered, v1 never again
        settled = moved + reached[replica.name] + 0.5  # requests already in flight may finish
        stale = [
            o
            for o in load.outcomes
            if o.replica == replica.name and o.at > settled and o.version == 1
        ]
        assert not stale, f"{replica.name} answered with v1 after it had switched to v2"
    return {f"alias_move_reached_{name}_s": delay for name, delay in reached.items()}


async def _canary_step_counts_both(
    client: Client, load: Load, a: Replica, b: Replica
) -> tuple[Replica, Replica, int]:
    """Step 1 (25%) needs MIN_REQUESTS candidate answers; each replica serves ~150."""
    thresholds = Thresholds(
        min_requests=MIN_REQUESTS,
        min_latency_samples=50,
        min_compared=20,
        min_divergence_samples=MIN_REQUESTS,  # judged on both replicas' answers too
        max_divergence=0.35,  # same weights; different rows go to each version
        max_p99_ratio=10,  # two loaded cores: latency is not what this test judges
        p99_margin_ms=250,
    )
    spec = RolloutSpec(
        to="m/3", steps=(25, 50, 100), interval_s=1, deadline_s=90, thresholds=thresholds
    )
    load.route("beta", [a, b])
    rollout = await asyncio.to_thread(client.start_rollout, "alpha", spec)
    await asyncio.sleep(1.2)  # replicas pick up the canary; its first full stats second
    for replica in (a, b):  # one replica at a time: their counts stay apart
        load.route("alpha", [replica], quota=STEP_QUOTA)
        await load.quota_done()
    load.route("beta", [a, b])

    def advanced() -> Any:
        events = client.rollout_events(rollout.id)
        return next((e for e in events if e.kind != "start"), None)

    event = await until(advanced, 30, "the first canary decision")
    assert event.kind == "advance", f"expected an advance, got {event.kind}: {event.details}"
    samples = {c["name"]: c["samples"] for c in event.details["checks"]}["error_rate"]
    before = event.at / 1000
    served = {
        r.name: sum(
            1
            for o in load.outcomes
            if o.replica == r.name
            and o.deployment == "alpha"
            and o.version == 3
            and o.sent < before
        )
        for r in (a, b)
    }
    # Counted >= MIN_REQUESTS, yet neither replica had served that many candidate
    # answers before the decision: the analysis added both replicas' statistics.
    assert samples >= MIN_REQUESTS
    assert max(served.values()) < MIN_REQUESTS <= sum(served.values()), served
    assert samples <= sum(served.values())
    holder = event.details["holder"]
    leader = next(r for r in (a, b) if r.holds(holder))
    assert not (a.holds(holder) and b.holds(holder))
    survivor = b if leader is a else a
    return leader, survivor, rollout.id


async def _controller_fails_over(
    client: Client, load: Load, holder: Replica, survivor: Replica
) -> dict[str, float]:
    """Out of rotation, drained, flushed - then SIGKILL; the survivor takes the lease."""
    assert survivor.ready()  # the load balancer's readiness check
    load.route("beta", [survivor])
    await load.drained(holder)
    answered = load.count(replica=holder.name, status=200)  # every one is logged
    await until(lambda: holder.logged_rows() >= answered, 10, f"{holder.name} log flushed")
    assert holder.holds(client.store.leases.holder(LEASE))
    holder.kill()
    killed = time.monotonic()
    load.route("alpha", [survivor])  # step 2 of the canary: only the survivor serves
    await until(
        lambda: survivor.holds(client.store.leases.holder(LEASE)), 3 * LEASE_S, "lease takeover"
    )
    takeover = time.monotonic() - killed
    assert takeover <= LEASE_S + 2 * TICK_S + 0.5, f"takeover took {takeover:.2f} s"
    return {"lease_takeover_s": takeover}


async def _promoted_by_survivor(
    client: Client, load: Load, survivor: Replica, rollout_id: int
) -> None:
    def ended() -> Any:
        events = client.rollout_events(rollout_id)
        return events[-1] if events[-1].kind in ("promote", "rollback", "fail") else None

    event = await until(ended, 30, "the rollout's end")
    assert event.kind == "promote", event.details
    assert survivor.holds(event.details["holder"])
    decided = [e for e in client.rollout_events(rollout_id) if e.kind != "start"]
    assert all("holder" in e.details for e in decided)
    assert client.get_model_version_by_alias("m", "champion").version == 3
    moved = time.monotonic()
    await until(
        lambda: (
            any(o.version == 3 and o.at > moved and o.deployment == "alpha" for o in load.outcomes)
            and not any(
                o.version != 3 and o.at > moved + 1 and o.deployment == "alpha"
                for o in load.outcomes
            )
        ),
        10,
        "champion v3 on the survivor",
    )


async def _monitor_counts_both(
    client: Client, load: Load, artifacts: Path, holder: Replica, survivor: Replica
) -> None:
    """The monitor, now run by the survivor, counts every alpha prediction of both."""
    served = load.count(deployment="alpha", status=200)
    writers = {
        r.name
        for r in (holder, survivor)
        for path in artifacts.rglob("*.parquet")
        if f"-{r.pid}-" in path.name
    }
    assert writers == {holder.name, survivor.name}, "each replica writes its own segments"

    def latest_rows() -> float | None:
        results = client.monitor_results("alpha-rows", "rows", limit=1)
        return results[0]["value"] if results else None

    try:
        # Each monitor run reads every segment both replicas wrote (hundreds of small files
        # after a minute of 0.25 s flushes) and computes drift and quality over them: on a
        # busy CI box (xdist's other worker) a run took well over 10 s, so allow a few.
        await until(lambda: latest_rows() == served, 60, f"monitor rows == {served}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the monitor's last count: {latest_rows()}") from None
