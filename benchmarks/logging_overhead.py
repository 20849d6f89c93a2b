"""Serving throughput with the prediction log at 100% sampling versus off.

Starts ``shipyard serve`` on one workspace twice per repeat, alternating
``SHIPYARD_PREDICTION_LOG=false`` and ``true``, drives each with wrk
(single-row requests of 30 columns, concurrency 64 by default) in both body
forms of the native protocol, records (``{"inputs": [{...}]}``) and columns
(``{"columns": [...], "data": [[...]]}``), and prints medians and the ratio
on/off per form. The target: at least 0.9 for both.

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
from dataclasses import dataclass
from pathlib import Path

import httpx

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.monitoring.predlog import read_predictions
from shipyard.server.background import free_port

sys.path.insert(0, str(Path(__file__).resolve().parent / "serving"))
from loadgen import tree_cpu_seconds


def _prepare(home: Path) -> tuple[str, dict]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    client = Client(settings=StoreSettings(home=home))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    client.register_model(model, name="m", sample_input=X[:50])
    client.create_deployment("d", "m/1")
    token = client.create_token("bench", "predictor").token  # the server requires one
    return token, {
        "records": {"inputs": X[:1].to_dict(orient="records")},
        "columns": {"columns": list(X.columns), "data": X[:1].to_numpy().tolist()},
    }


@dataclass(frozen=True)
class Measured:
    rate: float
    cpu_us: float


def _run(
    home: Path,
    bodies: dict[str, dict],
    logging_on: bool,
    duration: int,
    concurrency: int,
    token: str,
) -> dict[str, Measured]:
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
        return {
            form: _drive(
                f"{url}/v1/deployments/d/predict", process.pid, body, duration, concurrency, token
            )
            for form, body in bodies.items()
        }
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def _drive(url: str, pid: int, body: dict, duration: int, concurrency: int, token: str) -> Measured:
    """Requests per second from wrk (2 s warm-up, then ``duration`` s measured) and the
    server's CPU per request (less noisy than throughput on a shared 2-core machine)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = '
            f'"application/json"\nwrk.headers["Authorization"] = "Bearer {token}"\n'
            f"wrk.body = {json.dumps(json.dumps(body))}\n"
        )
    command = ["wrk", "-t1", f"-c{concurrency}", "-s", script.name, url]
    try:
        subprocess.run([*command[:3], "-d2s", *command[3:]], capture_output=True, check=True)
        cpu_before = tree_cpu_seconds(pid)
        out = subprocess.run(
            [*command[:3], f"-d{duration}s", *command[3:]],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        cpu = tree_cpu_seconds(pid) - cpu_before
    finally:
        os.unlink(script.name)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"{errors.group(1)} failed requests")
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return Measured(rate, cpu * 1e6 / requests)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    rates: dict[tuple[str, bool], list[float]] = {}
    cpus: dict[tuple[str, bool], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        token, bodies = _prepare(home)
        for _ in range(args.repeats):
            for logging_on in (False, True):
                measured = _run(home, bodies, logging_on, args.duration, args.concurrency, token)
                for form, m in measured.items():
                    rates.setdefault((form, logging_on), []).append(m.rate)
                    cpus.setdefault((form, logging_on), []).append(m.cpu_us)
        logged = read_predictions(Client(settings=StoreSettings(home=home)).store.artifacts, "d")
    print(
        f"\nprediction log overhead, 30 columns, concurrency {args.concurrency}, median of "
        f"{args.repeats} x {args.duration} s"
    )
    for form in bodies:
        off = statistics.median(rates[(form, False)])
        on = statistics.median(rates[(form, True)])
        cpu_off = statistics.median(cpus[(form, False)])
        cpu_on = statistics.median(cpus[(form, True)])
        for label, rate, cpu, key in (("off", off, cpu_off, False), ("on", on, cpu_on, True)):
            runs = [round(r) for r in rates[(form, key)]]
            print(f"{form:>8} {label:>3}: {rate:7,.0f} req/s {runs}  {cpu:5.0f} us CPU/req")
        print(
            f"{'':>8} ratio on/off {on / off:.3f} (target >= 0.9); "
            f"CPU/request on/off {cpu_on / cpu_off:.3f} (+{cpu_on - cpu_off:.0f} us)"
        )
    print(f"rows logged: {logged.num_rows:,}")


if __name__ == "__main__":
    main()
