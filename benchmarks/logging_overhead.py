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
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.monitoring.predlog import read_predictions

sys.path.insert(0, str(Path(__file__).resolve().parent / "serving"))
from loadgen import shipyard_serve, wrk_rate_and_cpu


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
    env = {**os.environ, "SHIPYARD_PREDICTION_LOG": "true" if logging_on else "false"}
    with shipyard_serve(home, env) as (url, pid):
        return {
            form: _drive(f"{url}/v1/deployments/d/predict", pid, body, duration, concurrency, token)
            for form, body in bodies.items()
        }


def _drive(url: str, pid: int, body: dict, duration: int, concurrency: int, token: str) -> Measured:
    """Requests per second from wrk (2 s warm-up, then ``duration`` s measured) and the
    server's CPU per request (less noisy than throughput on a shared 2-core machine)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = '
            f'"application/json"\nwrk.headers["Authorization"] = "Bearer {token}"\n'
            f"wrk.body = {json.dumps(json.dumps(body))}\n"
        )
    try:
        rate, cpu_us, _ = wrk_rate_and_cpu(url, pid, script.name, duration, concurrency)
    finally:
        os.unlink(script.name)
    return Measured(rate, cpu_us)


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
