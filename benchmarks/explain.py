"""Explanation latency of ``shipyard serve``: the 200-tree model and the logistic pipeline,
side by side in one run, against the same server's predict.

The two models of the serving benchmark (``benchmarks/serving/models.py``: HGB with
200 trees and StandardScaler + LogisticRegression on breast cancer) are registered
with their training data as reference, deployed, and served by ``shipyard --home H
serve`` as users start it (tokens required; a predictor token). One httpx client with
keep-alive sends requests one at a time (concurrency 1) to
``POST /v1/deployments/{name}/explain`` with 1 row and with 100 rows, and to
``/predict`` with the same bodies for reference. Per-row cost = p50 of the 100-row
request / 100. Targets (issue 14): explain p50 per row <= 5 ms for the 200-tree model
and <= 0.2 ms for the logistic pipeline. Every answer's residual is checked (<= 1e-6).

    python benchmarks/explain.py [--requests 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent / "serving"))

from models import MODEL_NAMES, MODEL_TITLES, build
from sklearn.datasets import load_breast_cancer

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.server.background import free_port

TARGET_PER_ROW_MS = {"hgb": 5.0, "lr": 0.2}
BATCH = 100


def _prepare(home: Path) -> tuple[str, dict[int, list[dict]]]:
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    with Client(settings=StoreSettings(home=home)) as client:
        for name in MODEL_NAMES:
            model = build(name).fit(X, y)
            client.register_model(model, name=name, sample_input=X[:50], reference_data=X)
            client.create_deployment(name, f"{name}/1")
        token = client.create_token("bench", "predictor").token
    records = X.to_dict(orient="records")
    return token, {1: records[:1], BATCH: records[:BATCH]}


def _serve(home: Path, port: int) -> subprocess.Popen[bytes]:
    shipyard = Path(sys.executable).with_name("shipyard")
    argv = [str(shipyard), "--home", str(home), "serve", "--port", str(port)]
    return subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _wait(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    raise RuntimeError("shipyard serve did not become ready")


def _p50_ms(http: httpx.Client, url: str, body: dict, requests: int, check: bool) -> float:
    for _ in range(10):  # warm-up (the explainer is built on the first explain)
        http.post(url, json=body)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = http.post(url, json=body)
        times.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
    if check:
        worst = max(r["residual"] for r in response.json()["explanations"])
        if worst > 1e-6:
            raise RuntimeError(f"{url}: residual {worst}")
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / "home"
        token, bodies = _prepare(home)
        port = free_port()
        process = _serve(home, port)
        base = f"http://127.0.0.1:{port}"
        results: dict[str, dict[str, list[float]]] = {n: {} for n in MODEL_NAMES}
        try:
            _wait(f"{base}/health", process)
            headers = {"authorization": f"Bearer {token}"}
            with httpx.Client(headers=headers, timeout=60) as http:
                for _ in range(args.repeats):  # alternate models and verbs within each repeat
                    for name in MODEL_NAMES:
                        for rows, records in bodies.items():
                            body = {"inputs": records}
                            for verb in ("explain", "predict"):
                                url = f"{base}/v1/deployments/{name}/{verb}"
                                p50 = _p50_ms(http, url, body, args.requests, verb == "explain")
                                results[name].setdefault(f"{verb} {rows}", []).append(p50)
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
    summary = {}
    print(f"\nconcurrency 1, {args.requests} requests x {args.repeats} repeats, medians of p50")
    print(f"{'model':<6} {'request':<14} {'p50 ms':>9} {'per row ms':>11}")
    for name in MODEL_NAMES:
        medians = {k: statistics.median(v) for k, v in results[name].items()}
        for key, value in medians.items():
            rows = int(key.split()[1])
            print(f"{name:<6} {key:<14} {value:>9.3f} {value / rows:>11.4f}")
        per_row = medians[f"explain {BATCH}"] / BATCH
        ok = per_row <= TARGET_PER_ROW_MS[name]
        summary[name] = {"per_row_ms": per_row, **medians, "target_ms": TARGET_PER_ROW_MS[name]}
        print(
            f"  {MODEL_TITLES[name]}: explain {per_row:.4f} ms/row "
            f"(target <= {TARGET_PER_ROW_MS[name]} ms) {'PASS' if ok else 'FAIL'}; "
            f"1-row request {medians['explain 1']:.3f} ms vs predict {medians['predict 1']:.3f} ms"
        )
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
