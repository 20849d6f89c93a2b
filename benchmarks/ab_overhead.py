"""Predict throughput with an A/B experiment running versus without one, same server.

Starts ``shipyard serve`` as users do (no environment variables) on a workspace
with two versions of one model, and drives it with wrk: single-row requests,
each with a different ``X-Shipyard-Key`` (a user id), concurrency 64. Each
repeat measures the deployment on its single version, then with ``shipyard ab
start`` splitting it 50/50 by that key (order alternating between repeats, so a
drift of the machine's load does not favour one side), and stops the
experiment again. Prints medians of requests/s and server CPU per request and
the ratio with/without. The target: at least 0.97.

    python benchmarks/ab_overhead.py [--duration 10] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.server.background import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent / "serving"))
from loadgen import tree_cpu_seconds

SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
wrk.body = {body}
local counter = 0
request = function()
  counter = counter + 1
  wrk.headers["X-Shipyard-Key"] = "user-" .. counter
  return wrk.format(nil, "/v1/deployments/d/predict")
end
"""


def _prepare(home: Path) -> tuple[Client, str, dict]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    client = Client(settings=StoreSettings(home=home))
    for c in (1.0, 0.5):  # two versions that cost the same per call
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=1000)).fit(X, y)
        client.register_model(model, name="m", sample_input=X[:50])
    client.create_deployment("d", "m/1")
    token = client.create_token("bench", "predictor").token  # the server requires one
    return client, token, {"inputs": X[:1].to_dict(orient="records")}


def _drive(url: str, pid: int, script: str, duration: int, concurrency: int) -> tuple[float, float]:
    """Requests per second (2 s warm-up, then ``duration`` s) and server CPU per request."""
    command = ["wrk", "-t1", f"-c{concurrency}", "-s", script, url]
    subprocess.run([*command[:3], "-d2s", *command[3:]], capture_output=True, check=True)
    cpu_before = tree_cpu_seconds(pid)
    out = subprocess.run(
        [*command[:3], f"-d{duration}s", *command[3:]], capture_output=True, text=True, check=True
    ).stdout
    cpu = tree_cpu_seconds(pid) - cpu_before
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} failed requests")
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return rate, cpu * 1e6 / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    results: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        client, token, body = _prepare(home)
        script = home / "ab.lua"
        script.write_text(SCRIPT.format(token=token, body=json.dumps(json.dumps(body))))
        port = free_port()
        process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "shipyard"),
                "--home",
                str(home),
                "serve",
                "--port",
                str(port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            for repeat in range(args.repeats):
                order = (False, True) if repeat % 2 == 0 else (True, False)
                for running in order:
                    name = f"bench-{repeat}"
                    if running:
                        client.ab_start(
                            name, deployment="d", arms="m/1=50,m/2=50", metrics=["accuracy"]
                        )
                    time.sleep(1.5)  # the routing table polls the store every 0.5 s
                    results[running].append(
                        _drive(
                            f"{url}/v1/deployments/d/predict",
                            process.pid,
                            str(script),
                            args.duration,
                            args.concurrency,
                        )
                    )
                    if running:
                        client.ab_stop(name)
            arms = client.predictions("d")["arm"].value_counts().to_dict()
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
    print(
        f"\nA/B experiment overhead, one worker, concurrency {args.concurrency}, median of "
        f"{args.repeats} x {args.duration} s (a new X-Shipyard-Key per request)"
    )
    for running, label in ((False, "without"), (True, "with")):
        rates = [r for r, _ in results[running]]
        cpus = [c for _, c in results[running]]
        print(
            f"{label:>8} experiment: {statistics.median(rates):7,.0f} req/s "
            f"{[round(r) for r in rates]}  {statistics.median(cpus):5.0f} us CPU/req"
        )
    ratio = statistics.median(r for r, _ in results[True]) / statistics.median(
        r for r, _ in results[False]
    )
    cpu_ratio = statistics.median(c for _, c in results[True]) / statistics.median(
        c for _, c in results[False]
    )
    print(f"ratio with/without {ratio:.3f} (target >= 0.97); CPU/request {cpu_ratio:.3f}")
    print(f"rows logged by arm: {arms}")


if __name__ == "__main__":
    main()
