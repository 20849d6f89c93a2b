"""Start-up: a fresh serving process to ready, Shipyard beside MLflow and MLServer.

Why it matters: a replica that starts fast is what makes scale-out (an HPA adding
pods, a rolling update, a pod rescheduled after a node loss) cheap. Each run
spawns one server process and stops the clock when it is ready *and* every model
it serves has answered one prediction (a readiness probe that says 200 while the
first request still loads a model is no readiness):

- ``shipyard``: ``shipyard --home H serve`` as users start it (no thread or
  tuning variables), two deployments (``lr``, ``hgb``); ready = ``/v2/health/ready``
  200, then one native prediction per deployment with a predictor token. The
  home's local artifact cache is emptied before each run, as in a new pod.
- ``mlserver``: MLServer 1.7.1 + mlserver-sklearn (``.bench/mlserver-venv``),
  ``mlserver start DIR`` over both models saved with joblib (``model-settings.json``
  each); ready = ``/v2/health/ready``, then one OIP prediction per model.
- ``mlflow``: ``mlflow models serve --env-manager local`` serves one model per
  process, so it is timed with one model (``lr``); ready = ``/ping``, then one
  ``/invocations``. Two models would take two such processes.

The servers' environments, model files and request formats are those of the
serving benchmark (``benchmarks/serving/peers.py``). One warm-up round (not
counted) fills the OS page cache and writes byte code; then ``--runs`` rounds,
each starting every server once in turn, so machine noise hits all of them alike.
Each run also records the CPU seconds of the server's process tree until the last
prediction answered (``/proc``): on idle cores wall time approaches it, and unlike
wall time it barely moves when other jobs share the machine. Medians and their
ratios are printed and written to ``.bench/startup-results.json``.

    .venv/bin/python benchmarks/startup.py --runs 7
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent / "serving"))

import peers
from loadgen import tree_cpu_seconds
from models import Models, train

SERVERS = ("shipyard", "mlserver", "mlflow")
MODELS = {"shipyard": ("lr", "hgb"), "mlserver": ("lr", "hgb"), "mlflow": ("lr",)}
READY = {"shipyard": "/v2/health/ready", "mlserver": "/v2/health/ready", "mlflow": "/ping"}
RESULTS = peers.BENCH_DIR / "startup-results.json"


def time_start(spec: peers.ServerSpec, models: Models, timeout_s: float = 180) -> dict[str, float]:
    """Seconds from spawn to ready, and to every model's first correct prediction."""
    row = models.pool[0]
    began = time.monotonic()
    spec.start()
    ready_s = 0.0
    answered: set[str] = set()
    with httpx.Client(base_url=spec.base_url, timeout=10) as client:
        while len(answered) < len(spec.models):
            if spec.process is None or spec.process.poll() is not None:
                raise RuntimeError(f"{spec.label} exited; see {spec.log}")
            if time.monotonic() - began > timeout_s:
                raise RuntimeError(f"{spec.label} not ready in {timeout_s} s; see {spec.log}")
            try:
                if not ready_s:
                    if client.get(READY[spec.key]).status_code == 200:
                        ready_s = time.monotonic() - began
                    else:
                        time.sleep(0.01)
                    continue
                for name in spec.models:
                    if name in answered:
                        continue
                    response = client.post(
                        spec.protocol.path(name),
                        content=spec.protocol.body(name, row, models.columns),
                        headers={"content-type": "application/json", **spec.protocol.headers},
                    )
                    if response.status_code == 200:
                        spec.protocol.probabilities(response.json())
                        answered.add(name)
            except httpx.TransportError:
                time.sleep(0.01)
    predicted_s = time.monotonic() - began
    # CPU of the server's process tree until then: what wall time would be on idle cores,
    # and steady when other jobs share the machine.
    return {"ready_s": ready_s, "predicted_s": predicted_s, "cpu_s": tree_cpu_seconds(spec.pid)}


def one_round(
    work: Path, models: Models, envs: peers.Environments, servers: list[str]
) -> dict[str, dict[str, float]]:
    timings = {}
    for key in servers:
        if key == "shipyard":
            shutil.rmtree(work / "shipyard-home" / "cache", ignore_errors=True)
        (spec,) = peers.specs_for(key, models, MODELS[key], work, envs, work / "logs")
        try:
            timings[key] = time_start(spec, models)
        finally:
            spec.stop()
    return timings


def summarize(rounds: list[dict[str, dict[str, float]]], servers: list[str]) -> dict[str, Any]:
    medians = {
        key: {
            metric: statistics.median(r[key][metric] for r in rounds)
            for metric in ("ready_s", "predicted_s", "cpu_s")
        }
        for key in servers
    }
    ratios = {
        f"{peer}/shipyard {metric}": medians[peer][metric] / medians["shipyard"][metric]
        for peer in servers
        for metric in ("predicted_s", "cpu_s")
        if peer != "shipyard" and "shipyard" in medians
    }
    return {"medians": medians, "ratios": ratios, "rounds": rounds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="counted rounds (>= 5 for medians)")
    parser.add_argument("--servers", default=",".join(SERVERS))
    args = parser.parse_args(argv)
    servers = args.servers.split(",")
    work = Path(tempfile.mkdtemp(prefix="shipyard-startup-"))
    try:
        models = train(work / "models")
        envs = peers.Environments()
        if "mlserver" in servers:
            envs.mlserver, envs.versions["mlserver"] = peers.ensure_mlserver_venv(print)
        if "mlflow" in servers:
            envs.mlflow, envs.versions["mlflow"] = peers.ensure_mlflow_venv(print)
        if "shipyard" in servers:
            peers.snapshot_shipyard(work / "shipyard-src", print)
            peers.prepare_shipyard(models, work / "shipyard-home")
        one_round(work, models, envs, servers)  # warm-up: page cache, byte code
        rounds = []
        for index in range(args.runs):
            rounds.append(one_round(work, models, envs, servers))
            done = [
                f"{k} {v['predicted_s']:.2f} s ({v['cpu_s']:.2f} s CPU)"
                for k, v in rounds[-1].items()
            ]
            print(f"round {index + 1}: " + ", ".join(done), flush=True)
        result = summarize(rounds, servers)
        result["versions"] = envs.versions
        print("\nspawn -> ready -> every model answered (median of", args.runs, "rounds)")
        for key in servers:
            m = result["medians"][key]
            print(
                f"  {key:9} {len(MODELS[key])} model(s)  ready {m['ready_s']:.2f} s"
                f"  predicted {m['predicted_s']:.2f} s  CPU {m['cpu_s']:.2f} s"
            )
        for name, ratio in result["ratios"].items():
            print(f"  {name}: {ratio:.2f}x")
        RESULTS.parent.mkdir(exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2))
        print(f"written to {RESULTS}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
