"""Serving throughput with the prediction log at 100% sampling versus off.

Starts ``shipyard serve`` on one workspace twice per repeat, alternating
``SHIPYARD_PREDICTION_LOG=false`` and ``true``, drives each with wrk
(single-row requests, concurrency 64 by default) and prints medians and the
ratio on/off. The issue's target: at least 0.9.

    python benchmarks/logging_overhead.py [--duration 10] [--repeats 3]
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
from shipyard.monitoring.predlog import read_predictions
from shipyard.server.background import free_port


def _prepare(home: Path) -> dict:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    client = Client(settings=StoreSettings(home=home))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    client.register_model(model, name="m", sample_input=X[:50])
    client.create_deployment("d", "m/1")
    return {"inputs": X[:1].to_dict(orient="records")}


def _run(home: Path, body: dict, logging_on: bool, duration: int, concurrency: int) -> float:
    port = free_port()
    env = {**os.environ, "SHIPYARD_PREDICTION_LOG": "true" if logging_on else "false"}
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "shipyard"),
            "--home",
            str(home),
            "serve",
            "--port",
            str(port),
        ],
        env=env,
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
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(
                'wrk.method = "POST"\nwrk.headers["Content-Type"] = '
                f'"application/json"\nwrk.body = {json.dumps(json.dumps(body))}\n'
            )
        command = [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            "-s",
            script.name,
            f"{url}/v1/deployments/d/predict",
        ]
        subprocess.run([*command[:3], "-d2s", *command[3:]], capture_output=True, check=True)
        out = subprocess.run(
            [*command[:3], f"-d{duration}s", *command[3:]],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        os.unlink(script.name)
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        if errors:
            raise RuntimeError(f"{errors.group(1)} failed requests")
        return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    rates: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        body = _prepare(home)
        for _ in range(args.repeats):
            for logging_on in (False, True):
                rates[logging_on].append(
                    _run(home, body, logging_on, args.duration, args.concurrency)
                )
        logged = read_predictions(Client(settings=StoreSettings(home=home)).store.artifacts, "d")
    off, on = statistics.median(rates[False]), statistics.median(rates[True])
    print(
        f"\nprediction log overhead, concurrency {args.concurrency}, median of "
        f"{args.repeats} x {args.duration} s"
    )
    print(f"logging off: {off:,.0f} req/s   runs {[round(r) for r in rates[False]]}")
    print(f"logging on:  {on:,.0f} req/s   runs {[round(r) for r in rates[True]]}")
    print(f"ratio on/off: {on / off:.3f} (target >= 0.9); rows logged: {logged.num_rows:,}")


if __name__ == "__main__":
    main()
