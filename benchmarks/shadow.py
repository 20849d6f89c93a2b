"""Does a slow shadow add latency to the primary? Measured, not assumed.

Starts ``shipyard serve`` twice on the same workspace-built deployment: once
with a single policy, once with a shadow policy whose shadow sleeps 200 ms
per call, and drives both with wrk (single-row requests) at the same
concurrency. Prints req/s, p50 and p99 of the primary's answers and the
ratio, plus how many shadow comparisons were made or dropped.

    python benchmarks/shadow.py [--duration 10] [--concurrency 16]
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from shadow_models import SlowShadow  # noqa: E402
from shipyard import Client  # noqa: E402
from shipyard.config import StoreSettings  # noqa: E402
from shipyard.deploy.policy import ShadowPolicy  # noqa: E402
from shipyard.registry.uri import ModelRef  # noqa: E402
from shipyard.server.background import free_port  # noqa: E402
from shipyard.serving.stats import PairStats  # noqa: E402


def _prepare(home: Path) -> tuple[Client, dict]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    client = Client(settings=StoreSettings(home=home))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    client.register_model(model, name="primary", sample_input=X[:50])
    client.register_model(
        SlowShadow(model, delay_s=0.2),
        name="primary",
        sample_input=X[:50],
        flavor="pyfunc",
        code_paths=[str(ROOT / "benchmarks" / "shadow_models.py")],
    )
    client.create_deployment("d", "primary/1")
    return client, {"inputs": X[:1].to_dict(orient="records")}


def _serve(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    shipyard = str(Path(sys.executable).parent / "shipyard")
    process = subprocess.Popen(
        [shipyard, "--home", str(home), "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "SHIPYARD_STATS_FLUSH_S": "0.5"},
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def _wrk(url: str, body: dict, duration: int, concurrency: int) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(
            'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
            f"wrk.body = {json.dumps(json.dumps(body))}\n"
        )
    output = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{duration}s",
            "--latency",
            "-s",
            script.name,
            f"{url}/v1/deployments/d/predict",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    os.unlink(script.name)

    def millis(label: str) -> float:
        match = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", output)
        assert match, output
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": rate,
        "p50": millis("50"),
        "p99": millis("99"),
        "non2xx": float(errors.group(1)) if errors else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"single": [], "shadow (200 ms)": []}
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        client, body = _prepare(home)
        for _ in range(args.repeats):
            for name in results:
                policy = (
                    ShadowPolicy(
                        ModelRef("primary", version=1),
                        (ModelRef("primary", version=2),),
                        timeout_ms=1000,
                    )
                    if name.startswith("shadow")
                    else None
                )
                if policy is None:
                    client.update_deployment("d", model="primary/1")
                else:
                    client.set_policy("d", policy)
                process, url = _serve(home)
                try:
                    _wrk(url, body, 2, args.concurrency)  # warm-up
                    results[name].append(_wrk(url, body, args.duration, args.concurrency))
                finally:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=60)
        pair = PairStats.merged(client.store.stats.read("d", "pair", "2~1", 0))
    print(
        f"\nprimary latency with and without a 200 ms shadow, concurrency {args.concurrency}, "
        f"median of {args.repeats} x {args.duration} s"
    )
    print(f"{'policy':<18}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    medians = {}
    for name, runs in results.items():
        medians[name] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        m = medians[name]
        print(f"{name:<18}{m['rps']:>10.0f}{m['p50']:>10.2f}{m['p99']:>10.2f}{m['non2xx']:>10.0f}")
    ratio = medians["shadow (200 ms)"]["p99"] / medians["single"]["p99"]
    print(
        f"p99 ratio shadow/single: {ratio:.2f}; shadow comparisons made {pair.compared}, "
        f"dropped (slow/over limit) {pair.dropped}"
    )


if __name__ == "__main__":
    main()
