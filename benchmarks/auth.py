"""What access control costs: Shipyard with a token vs ``--no-auth``, and MLflow's
``basic-auth`` app vs a plain ``mlflow server``, side by side in one run.

Every server is started the way its users start it: ``shipyard serve`` (tokens
required, the default) and ``shipyard serve --no-auth``; ``mlflow server
--app-name basic-auth`` with the admin password and Flask secret its docs
require, and plain ``mlflow server``, from the benchmark's MLflow venv
(``.bench/mlflow-serve-venv`` with ``mlflow[auth]``, made by
``benchmarks/serving``; skipped with a note when it is missing).

(a) predict throughput, one worker, single-row requests to a logistic pipeline,
    concurrency 64: Shipyard auth on / off (target >= 0.95);
(b) a control API GET (``/api/models/m``) at concurrency 1: Shipyard's p50 with
    a token minus without (target <= 1 ms);
(c) the same kind of registry GET on MLflow (``registered-models/get``) at
    concurrency 1: p50 with basic auth / without.

Medians over ``--repeats`` alternating runs; wrk shares the 2 cores.

    python benchmarks/auth.py [--duration 10] [--repeats 3]
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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.server.background import free_port

ROOT = Path(__file__).resolve().parent.parent
MLFLOW_VENV = ROOT / ".bench" / "mlflow-serve-venv"
UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _prepare(home: Path) -> tuple[str, dict]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    with Client(settings=StoreSettings(home=home)) as client:
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
        client.register_model(model, name="m", sample_input=X[:50])
        client.create_deployment("d", "m/1")
        token = client.create_token("bench", "deployer").token
    return token, {"inputs": X[:1].to_dict(orient="records")}


@contextmanager
def _process(argv: list[str], ready_url: str, env: dict[str, str] | None = None) -> Iterator[int]:
    process = subprocess.Popen(
        argv,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(ready_url, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} did not start: {' '.join(argv)}")
            time.sleep(0.2)
        yield process.pid
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def _wrk(
    url: str,
    *,
    method: str,
    headers: dict[str, str],
    body: dict | None,
    duration: int,
    concurrency: int,
) -> tuple[float, float]:
    """(requests per second, p50 ms) from wrk --latency; refuses runs with failed requests."""
    lines = [f'wrk.method = "{method}"']
    for name, value in {"Content-Type": "application/json", **headers}.items():
        lines.append(f"wrk.headers[{json.dumps(name)}] = {json.dumps(value)}")
    if body is not None:
        lines.append(f"wrk.body = {json.dumps(json.dumps(body))}")
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    command = ["wrk", "-t1", f"-c{concurrency}", "--latency", "-s", script.name, url]
    try:
        subprocess.run([*command[:3], "-d2s", *command[3:]], capture_output=True, check=True)
        out = subprocess.run(
            [*command[:3], f"-d{duration}s", *command[3:]],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    failed = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if failed:
        raise RuntimeError(f"{failed.group(1)} failed requests to {url}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = re.search(r"\s50%\s+([\d.]+)(us|ms|s)", out)
    assert p50 is not None, out
    return rate, float(p50.group(1)) * UNITS[p50.group(2)]


def _shipyard(home: Path, token: str, body: dict, auth: bool, duration: int) -> tuple[float, float]:
    port = free_port()
    argv = [str(Path(sys.executable).parent / "shipyard"), "--home", str(home), "serve"]
    argv += ["--port", str(port)] + ([] if auth else ["--no-auth"])
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"} if auth else {}
    with _process(argv, f"{url}/health"):
        rate, _ = _wrk(
            f"{url}/v1/deployments/d/predict",
            method="POST",
            headers=headers,
            body=body,
            duration=duration,
            concurrency=64,
        )
        _, p50 = _wrk(
            f"{url}/api/models/m",
            method="GET",
            headers=headers,
            body=None,
            duration=duration,
            concurrency=1,
        )
    return rate, p50


def _mlflow(folder: Path, auth: bool, duration: int) -> float:
    port = free_port()
    home = folder / ("mlflow-auth" if auth else "mlflow-plain")
    home.mkdir(exist_ok=True)
    argv = [str(MLFLOW_VENV / "bin" / "mlflow"), "server", "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--workers", "1"]
    argv += ["--backend-store-uri", f"sqlite:///{home / 'mlflow.db'}"]
    env = {"MLFLOW_DISABLE_TELEMETRY": "true"}
    headers: dict[str, str] = {}
    if auth:
        argv += ["--app-name", "basic-auth"]
        env |= {
            "MLFLOW_AUTH_ADMIN_PASSWORD": "bench-password-1234",
            "MLFLOW_FLASK_SERVER_SECRET_KEY": "bench-secret",
            "MLFLOW_AUTH_CONFIG_PATH": str(_auth_config(home)),
        }
        headers = {"Authorization": "Basic " + _basic("admin", "bench-password-1234")}
    url = f"http://127.0.0.1:{port}"
    with _process(argv, f"{url}/health", env):
        created = httpx.post(
            f"{url}/api/2.0/mlflow/registered-models/create",
            json={"name": "m"},
            headers=headers,
            timeout=30,
        )
        if "RESOURCE_ALREADY_EXISTS" not in created.text:  # made by an earlier repeat
            created.raise_for_status()
        _, p50 = _wrk(
            f"{url}/api/2.0/mlflow/registered-models/get?name=m",
            method="GET",
            headers=headers,
            body=None,
            duration=duration,
            concurrency=1,
        )
    return p50


def _auth_config(home: Path) -> Path:
    """MLflow's shipped basic_auth.ini with the user database inside this run's folder."""
    config = home / "basic_auth.ini"
    config.write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{home / 'basic_auth.db'}\n"
        "admin_username = admin\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        "grant_default_workspace_access = false\n"
    )
    return config


def _basic(user: str, password: str) -> str:
    import base64

    return base64.b64encode(f"{user}:{password}".encode()).decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    has_mlflow = (MLFLOW_VENV / "bin" / "mlflow").exists()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "shipyard"
        token, body = _prepare(home)
        for _ in range(args.repeats):
            for auth in (False, True):
                rate, p50 = _shipyard(home, token, body, auth, args.duration)
                results.setdefault(f"rate-{auth}", []).append(rate)
                results.setdefault(f"p50-{auth}", []).append(p50)
                if has_mlflow:
                    mlflow_p50 = _mlflow(Path(folder), auth, args.duration)
                    results.setdefault(f"mlflow-{auth}", []).append(mlflow_p50)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\naccess control cost, median of {args.repeats} x {args.duration} s")
    print(
        f"(a) predict c=64: auth off {med['rate-False']:,.0f} req/s, on {med['rate-True']:,.0f} "
        f"req/s: ratio {med['rate-True'] / med['rate-False']:.3f} (target >= 0.95)"
    )
    print(
        f"(b) GET /api/models/m c=1 p50: off {med['p50-False']:.3f} ms, on "
        f"{med['p50-True']:.3f} ms: +{med['p50-True'] - med['p50-False']:.3f} ms "
        "(target <= 1 ms)"
    )
    if has_mlflow:
        print(
            f"(c) MLflow registered-models/get c=1 p50: plain {med['mlflow-False']:.3f} ms, "
            f"basic-auth {med['mlflow-True']:.3f} ms: "
            f"{med['mlflow-True'] / med['mlflow-False']:.1f}x "
            f"(+{med['mlflow-True'] - med['mlflow-False']:.1f} ms); Shipyard's with auth is "
            f"{med['mlflow-True'] / med['p50-True']:.0f}x faster"
        )
    else:
        print(f"(c) skipped: no MLflow venv at {MLFLOW_VENV} (run benchmarks/serving/run.py)")
    for key, values in sorted(results.items()):
        print(f"    {key}: {[round(v, 3) for v in values]}")


if __name__ == "__main__":
    main()
