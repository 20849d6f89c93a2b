"""Triggers: alerts, schedules and new data start runs; cool-downs and the store's
guards make sure each signal starts at most one, however many schedulers run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.pipelines.runner import PipelineRunner
from shipyard.pipelines.scheduler import PipelineScheduler
from shipyard.pipelines.triggers import on_schedule
from shipyard.store.audit import now_ms
from tests.pipelines.helpers import (
    DATASET,
    MODEL,
    MONITOR,
    make_data,
    serve_champion,
    write_pipeline,
)

SCHEDULED = """
from shipyard.pipelines import Pipeline, StepContext, on_schedule

pipeline = Pipeline(triggers=[on_schedule("* * * * * */2")])


@pipeline.step
def tick(ctx: StepContext) -> dict:
    return {"at": ctx.trigger["scheduled_at"]}
"""


def _alert_flap(client: Client, *, times: int, scheduler: PipelineScheduler) -> None:
    """The monitor's rule breaches and clears ``times`` times; the scheduler ticks between."""
    for _ in range(times):
        for breached in (True, False):
            client.store.monitors.transition_alert(
                MONITOR,
                "accuracy",
                breached=breached,
                value=0.5,
                severity="warning",
                for_s=0,
                message="accuracy = 0.5 < 0.9",
                now=now_ms(),
                deployment=MODEL,
            )
            scheduler.tick()


def test_fifty_alerts_within_the_cool_down_start_exactly_one_run(
    client: Client, tmp_path: Path
) -> None:
    serve_champion(client)
    triggers = f'on_alert("{MONITOR}", cooldown="10m")'
    client.register_pipeline("retrain", str(write_pipeline(tmp_path, triggers=triggers)))
    scheduler = PipelineScheduler(client.store, "scheduler-1")
    _alert_flap(client, times=1, scheduler=scheduler)
    [run] = client.pipeline_runs("retrain")
    assert run.trigger["source"] == "alert" and run.trigger["monitor"] == MONITOR
    assert run.trigger["rule"] == "accuracy" and run.created_by == "trigger"
    PipelineRunner(client, "executor").run_next()  # it runs and waits on its rollout
    client.abort_rollout(MODEL)
    scheduler.tick()  # ... which ended: the run is over, only the cool-down holds now
    assert client.get_pipeline_run(run.id).status == "rolled_back"

    _alert_flap(client, times=49, scheduler=scheduler)
    assert len(client.alerts(MONITOR)) == 50
    assert [r.id for r in client.pipeline_runs("retrain")] == [run.id]
    [trigger] = client.pipeline_triggers("retrain")
    assert trigger.suppressed == 49

    # after the cool-down the next alert retrains again
    with client.store.db.write() as session:
        from sqlalchemy import update

        from shipyard.store.schema import PipelineTrigger

        session.execute(update(PipelineTrigger).values(last_fired_at=now_ms() - 601_000))
    _alert_flap(client, times=1, scheduler=scheduler)
    assert len(client.pipeline_runs("retrain")) == 2


def test_an_alert_during_an_active_run_is_absorbed(client: Client, tmp_path: Path) -> None:
    serve_champion(client)
    triggers = f'on_alert("{MONITOR}", cooldown=0)'
    client.register_pipeline("retrain", str(write_pipeline(tmp_path, triggers=triggers)))
    scheduler = PipelineScheduler(client.store, "scheduler-1")
    _alert_flap(client, times=5, scheduler=scheduler)  # the first run is still queued
    assert len(client.pipeline_runs("retrain")) == 1


def test_a_new_dataset_version_starts_a_run(client: Client, tmp_path: Path) -> None:
    serve_champion(client)
    client.register_pipeline(
        "retrain", str(write_pipeline(tmp_path, triggers=f'on_dataset("{DATASET}")'))
    )
    scheduler = PipelineScheduler(client.store, "scheduler-1")
    scheduler.tick()
    assert client.pipeline_runs("retrain") == []  # versions from before registration: no
    client.add_dataset(DATASET, make_data(seed=2))
    client.add_dataset("other-data", make_data(seed=3))
    scheduler.tick()
    [run] = client.pipeline_runs("retrain")
    assert run.trigger["dataset"] == f"{DATASET}/2"
    # a restarted scheduler reads its cursor from the store: nothing starts twice
    PipelineScheduler(client.store, "scheduler-2").tick()
    assert len(client.pipeline_runs("retrain")) == 1


def test_missed_schedule_slots_collapse_into_one_run() -> None:
    spec = on_schedule("*/5 * * * *")
    now = 1_800_000_000_000
    assert spec.due(now - 3_600_000, now) == now - now % 300_000  # 12 slots missed: the last
    assert spec.due(now, now + 1000) is None


def test_two_schedulers_that_both_think_they_lead_start_each_slot_once(
    client: Client, tmp_path: Path
) -> None:
    path = tmp_path / "ticker.py"
    path.write_text(SCHEDULED)
    client.register_pipeline("ticker", str(path))
    schedulers = [PipelineScheduler(client.store, f"s{i}") for i in range(2)]
    stop = time.monotonic() + 5
    errors: list[BaseException] = []

    def loop(scheduler: PipelineScheduler) -> None:
        executor = PipelineRunner(client, scheduler.holder)
        try:
            while time.monotonic() < stop:
                scheduler.work()  # no lease: the split-brain case
                executor.run_next()
                time.sleep(0.05)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    runs = [client.get_pipeline_run(r.id) for r in client.pipeline_runs("ticker", limit=100)]
    slots = [r.trigger["scheduled_at"] for r in runs]
    assert len(slots) == len(set(slots)) and 2 <= len(slots) <= 3
    assert sum(len(s.started) for s in schedulers) == len(runs)
    assert all(r.status == "succeeded" and r.step("tick").attempt == 1 for r in runs)


@pytest.mark.slow
def test_two_worker_processes_run_a_scheduled_pipeline_once(
    settings: StoreSettings, tmp_path: Path
) -> None:
    path = tmp_path / "ticker.py"
    path.write_text(SCHEDULED)
    with Client(settings=settings) as client:
        client.register_pipeline("ticker", str(path))
    env = {**os.environ, "SHIPYARD_HOME": str(settings.home)}
    if settings.db_url:
        env["SHIPYARD_DB_URL"] = settings.db_url
    command = [str(Path(sys.executable).parent / "shipyard"), "worker", "--tick", "0.2"]
    workers = [subprocess.Popen(command, env=env, stderr=subprocess.PIPE) for _ in range(2)]
    try:
        # Wait for the schedule to have run a few slots, however long the two workers take
        # to start on a busy machine (a fixed sleep failed when imports alone took 6 s).
        deadline = time.monotonic() + 90
        with Client(settings=settings) as watcher:
            while time.monotonic() < deadline and all(w.poll() is None for w in workers):
                finished = watcher.pipeline_runs("ticker", status="succeeded", limit=100)
                if len(finished) >= 3:
                    break
                time.sleep(0.5)
    finally:
        # Ctrl+C for one, a pod's SIGTERM for the other: both stop cleanly after their step.
        workers[0].send_signal(signal.SIGINT)
        workers[1].send_signal(signal.SIGTERM)
        outputs = [w.communicate(timeout=30)[1].decode() for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    with Client(settings=settings) as client:
        runs = [client.get_pipeline_run(r.id) for r in client.pipeline_runs("ticker", limit=100)]
        slots = [r.trigger["scheduled_at"] for r in runs]
        assert len(slots) == len(set(slots)), outputs  # no slot started twice
        assert len(slots) >= 2, outputs  # the workers did run the schedule
        executed = [r for r in runs if r.status == "succeeded"]
        assert len(executed) >= len(runs) - 1  # each once (the last may still be queued)
        assert all(r.step("tick").attempt == 1 for r in executed)
        assert all(
            r.step("tick").outputs["value"] == {"at": r.trigger["scheduled_at"]} for r in executed
        )
