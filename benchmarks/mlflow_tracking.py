"""The stock MLflow client logging to ``shipyard serve`` vs ``mlflow server``.

One unmodified client (``.bench/mlflow-client-<version>``, made by
``benchmarks/serving/peers.py``) runs ``--runs`` runs of 10 ``log_param`` and
5 ``log_metric`` calls, one call at a time, against each server in turn
(alternating, ``--repeats`` times, to spread the noise of a shared machine):
Shipyard with a token (auth on, SQLite) and ``mlflow server`` (SQLite, one
worker), both on a fresh store. MLflow's telemetry is off. Prints the wall
time of each pass, the p50 of a ``log_metric`` call, and the ratio of medians.

    python benchmarks/mlflow_tracking.py [--runs 200] [--repeats 2] [--client 3.17.2]
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.server.background import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent / "serving"))
from loadgen import shipyard_serve
from peers import ensure_mlflow_client_venv

CLIENT = r"""
import json, sys, time
import mlflow
runs = int(sys.argv[1])
mlflow.set_experiment("bench")
metric_calls = []
start = time.perf_counter()
for _ in range(runs):
    with mlflow.start_run():
        for p in range(10):
            mlflow.log_param(f"p{p}", p)
        for m in range(5):
            t = time.perf_counter()
            mlflow.log_metric(f"m{m}", m / 10)
            metric_calls.append(time.perf_counter() - t)
metric_calls.sort()
print(json.dumps({"seconds": time.perf_counter() - start,
                  "metric_p50_ms": metric_calls[len(metric_calls) // 2] * 1000}))
"""


@contextmanager
def mlflow_server(venv: Path, folder: Path) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [str(venv / "bin" / "mlflow"), "server", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
         "--artifacts-destination", str(folder / "artifacts")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(1200):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=60)


def run_client(venv: Path, url: str, token: str | None, runs: int) -> dict[str, float]:
    env = {
        "PATH": f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": os.environ.get("HOME", "/tmp"),
        "MLFLOW_TRACKING_URI": url,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
    }
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    done = subprocess.run(
        [str(venv / "bin" / "python"), "-c", CLIENT, str(runs)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--client", default="3.17.2")
    args = parser.parse_args()
    venv = ensure_mlflow_client_venv(args.client, print)
    results: dict[str, list[dict[str, float]]] = {"shipyard": [], "mlflow": []}
    with tempfile.TemporaryDirectory(prefix="mlflow-tracking-bench-") as temp:
        home = Path(temp) / "shipyard"
        with Client(settings=StoreSettings(home=home, user="bench")) as client:
            token = client.create_token("bench", "scientist").token
        (Path(temp) / "mlflow").mkdir()
        with (
            shipyard_serve(home) as (shipyard_url, _),
            mlflow_server(venv, Path(temp) / "mlflow") as mlflow_url,
        ):
            time.sleep(1.0)  # the token reaches the server's access table
            for _ in range(args.repeats):
                results["shipyard"].append(run_client(venv, shipyard_url, token, args.runs))
                results["mlflow"].append(run_client(venv, mlflow_url, None, args.runs))
    calls = args.runs * 15
    for name, passes in results.items():
        seconds = [p["seconds"] for p in passes]
        p50 = [round(p["metric_p50_ms"], 2) for p in passes]
        print(f"{name:9s} {calls} calls: seconds {[round(s, 2) for s in seconds]}, "
              f"log_metric p50 ms {p50}")  # fmt: skip
    ratio = statistics.median(p["seconds"] for p in results["mlflow"]) / statistics.median(
        p["seconds"] for p in results["shipyard"]
    )
    print(f"shipyard is {ratio:.1f}x faster (median wall time, mlflow {args.client} client)")


if __name__ == "__main__":
    main()
