"""Recorded pipeline execution: Shipyard side by side with Prefect 3 (local, SQLite).

What a retraining pipeline pays for being recorded step by step (status,
inputs, outputs, timings, in a database) and for its step cache, with the
steps themselves doing nothing, so the orchestration is all that is timed::

    .venv/bin/python benchmarks/pipelines.py            # ~2-3 minutes after the first setup
    .venv/bin/python benchmarks/pipelines.py --quick

(a) a 10-step linear pipeline, each step passing a small dict on: one run,
    end to end (Shipyard: ``client.run_pipeline``; Prefect: a ``@flow``
    calling ten ``@task``s, each task run recorded by its local API);
(b) the same with every step answered from the cache (Shipyard
    ``cache=True``; Prefect ``cache_policy=INPUTS + TASK_SOURCE``);
(c) Shipyard only: from a monitor's ``alert.fire`` to the run being claimed
    by an executor, with the scheduler ticking every 0.1 s (info).

Prefect is not a dependency of Shipyard: the first run creates
``.bench/prefect-venv`` (git-ignored) and installs ``prefect>=3,<4`` there
(with a FastAPI its server still runs on).
Each side runs in its own fresh process with a fresh temporary home; medians
of repeated runs after an untimed warm-up. This file imports only the standard
library at the top, because the Prefect side runs it under the other venv.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PREFECT_VENV = ROOT / ".bench" / "prefect-venv"
MARKER = "@@result "
STEPS = 10


def shipyard_pipeline(cache: bool) -> str:
    """Ten steps, each taking the previous one's output (the same work as the Prefect flow)."""
    lines = [
        "from shipyard.pipelines import Pipeline, StepContext",
        "pipeline = Pipeline(params={'salt': 0})",
        f"@pipeline.step(cache={cache})",
        "def s0(ctx: StepContext) -> dict:",
        "    return {'i': 1, 'salt': ctx.params['salt']}",
    ]
    for i in range(1, STEPS):
        lines += [
            f"@pipeline.step(cache={cache})",
            f"def s{i}(ctx: StepContext, s{i - 1}: dict) -> dict:",
            f"    return {{'i': s{i - 1}['i'] + 1, 'salt': ctx.params['salt']}}",
        ]
    return "\n".join(lines) + "\n"


def shipyard_side(repeats: int) -> dict[str, Any]:
    from shipyard import Client
    from shipyard.store.audit import now_ms

    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as home, Client(home) as client:
        for cache in (False, True):
            path = Path(home) / f"pipe_{cache}.py"
            path.write_text(shipyard_pipeline(cache))
            name = f"bench-{'cached' if cache else 'plain'}"
            client.register_pipeline(name, str(path))
            client.run_pipeline(name)  # warm-up (and, cached, fills the cache)
            samples = []
            for i in range(repeats):
                params = {} if cache else {"salt": i + 1}
                started = time.perf_counter()
                run = client.run_pipeline(name, params)
                samples.append(time.perf_counter() - started)
                assert run.status == "succeeded", run.error
                statuses = {s.status for s in run.steps}
                assert statuses == ({"cached"} if cache else {"succeeded"}), statuses
            results["b_cached" if cache else "a_run"] = samples
        results["c_trigger"] = _trigger_latency(client, home, repeats, now_ms)
    return results


def _trigger_latency(client: Any, home: str, repeats: int, now_ms: Any) -> list[float]:
    """From the alert's audit event to the run being claimed (scheduler tick 0.1 s)."""
    import threading

    from sklearn.linear_model import LogisticRegression

    from shipyard.pipelines.runner import PipelineRunner
    from shipyard.pipelines.scheduler import PipelineScheduler

    X = [[0.0], [1.0], [0.0], [1.0]]
    model = LogisticRegression().fit(X, [0, 1, 0, 1])
    client.register_model(
        model, name="m", sample_input=__import__("pandas").DataFrame(X, columns=["x"])
    )
    client.create_deployment("m", "m/1")
    client.create_monitor("health", {"deployment": "m", "rules": ["accuracy < 0.9"]})
    path = Path(home) / "triggered.py"
    path.write_text(
        "from shipyard.pipelines import Pipeline, on_alert\n"
        "pipeline = Pipeline(triggers=[on_alert('health', cooldown=0)])\n"
        "@pipeline.step\ndef only(ctx) -> dict:\n    return {}\n"
    )
    client.register_pipeline("triggered", str(path))
    scheduler = PipelineScheduler(client.store, "bench", tick_s=0.1)
    runner = PipelineRunner(client, "bench")
    samples = []
    for _ in range(repeats):
        stop = threading.Event()
        thread = threading.Thread(target=_tick_until, args=(scheduler, stop))
        thread.start()
        for breached in (False, True):
            client.store.monitors.transition_alert(
                "health",
                "accuracy",
                breached=breached,
                value=0.5,
                severity="warning",
                for_s=0,
                message="bench",
                now=now_ms(),
                deployment="m",
            )
        fired = time.time()
        claimed = None
        while claimed is None:
            claimed = runner.run_next()
            if claimed is None:
                time.sleep(0.005)
        samples.append(time.time() - fired)
        stop.set()
        thread.join()
    return samples


def _tick_until(scheduler: Any, stop: Any) -> None:
    while not stop.is_set():
        scheduler.tick()
        stop.wait(0.1)


PREFECT_FLOW = """
from prefect import flow, task
from prefect.cache_policies import INPUTS, TASK_SOURCE, NO_CACHE

def make(cache):
    policy = INPUTS + TASK_SOURCE if cache else NO_CACHE

    @task(cache_policy=policy, persist_result=cache)
    def step(value: dict, salt: int) -> dict:
        return {{"i": value["i"] + 1, "salt": salt}}

    @flow(persist_result=cache)
    def pipeline(salt: int) -> dict:
        value = {{"i": 0}}
        for _ in range({steps}):
            value = step(value, salt)
        return value

    return pipeline
"""


def prefect_side(repeats: int) -> dict[str, Any]:
    home = tempfile.mkdtemp(prefix="prefect-bench-")
    os.environ.update(
        {
            "PREFECT_HOME": home,
            "PREFECT_LOGGING_LEVEL": "ERROR",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "DO_NOT_TRACK": "true",
        }
    )
    namespace: dict[str, Any] = {}
    exec(PREFECT_FLOW.format(steps=STEPS), namespace)
    results: dict[str, Any] = {}
    for cache in (False, True):
        pipeline = namespace["make"](cache)
        pipeline(0)  # warm-up: starts the local API, fills the cache
        samples = []
        for i in range(repeats):
            salt = 0 if cache else i + 1
            started = time.perf_counter()
            assert pipeline(salt)["i"] == STEPS
            samples.append(time.perf_counter() - started)
        results["b_cached" if cache else "a_run"] = samples
    return results


def _ensure_prefect() -> Path | None:
    python = PREFECT_VENV / "bin" / "python"
    if python.exists():
        return python
    print("creating .bench/prefect-venv and installing prefect (first run only)...", flush=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(PREFECT_VENV)], check=True)
        # Prefect 3.8's server still passes Body(min_items=...), which FastAPI 0.155 dropped.
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "prefect>=3,<4", "fastapi>=0.139,<0.155"],
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        print(f"cannot set up Prefect ({exc}); reporting Shipyard alone", flush=True)
        return None
    return python


def _side(python: str, name: str, repeats: int) -> dict[str, Any] | None:
    result = subprocess.run(
        [python, __file__, "--side", name, "--repeats", str(repeats)],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=tempfile.gettempdir(),
    )
    for line in result.stdout.splitlines():
        if line.startswith(MARKER):
            return dict(json.loads(line[len(MARKER) :]))
    print(f"{name} side failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}", flush=True)
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--side", choices=["shipyard", "prefect"])
    parser.add_argument("--repeats", type=int, default=0)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    repeats = args.repeats or (5 if args.quick else 15)
    if args.side:
        run = shipyard_side if args.side == "shipyard" else prefect_side
        print(MARKER + json.dumps(run(repeats)), flush=True)
        return
    ours = _side(sys.executable, "shipyard", repeats)
    prefect_python = _ensure_prefect()
    theirs = _side(str(prefect_python), "prefect", repeats) if prefect_python else None
    if ours is None:
        raise SystemExit("the Shipyard side failed")
    print(f"\n{STEPS}-step pipeline, medians of {repeats} runs (2-core machine, SQLite on both)")
    print(f"{'measure':58} {'Prefect':>10} {'Shipyard':>10} {'ratio':>7}")
    labels = {
        "a_run": f"(a) one run of {STEPS} recorded steps",
        "b_cached": f"(b) one run, all {STEPS} steps from the cache",
    }
    for key, label in labels.items():
        mine = statistics.median(ours[key])
        other = statistics.median(theirs[key]) if theirs else None
        ratio = f"{other / mine:6.1f}x" if other else "     -"
        other_text = f"{other * 1e3:8.1f}ms" if other else "         -"
        print(f"{label:58} {other_text} {mine * 1e3:8.1f}ms {ratio}")
        print(f"{'    per step':58} {'':10} {mine / STEPS * 1e3:8.2f}ms")
    trigger = statistics.median(ours["c_trigger"])
    label = "(c) alert.fire -> run claimed (scheduler tick 0.1 s), info"
    print(f"{label:58} {'':10} {trigger * 1e3:8.1f}ms")


if __name__ == "__main__":
    main()
