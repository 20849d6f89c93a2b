"""Server time of the dashboard's Deployment and Monitoring pages over 1M logged predictions.

Builds a workspace (the breast-cancer model, two versions, a canary with a shadow-free
policy), writes ``--rows`` predictions spread over the last day through the prediction
log's writer directly (its own record shape, with chosen timestamps; no HTTP), six hours
of per-process serving counters in the store, ``--labels`` feedback labels and a monitor
with a few runs. Then times ``GET /ui/deployments/cancer`` and ``GET /ui/monitoring/cancer``
in-process (FastAPI TestClient, so the time is the server's plus a few ms of client):
the first view (the log summary reads every segment once) and the median of the next
views. ``--segment-rows`` sets how many rows each segment holds (a busy server flushing
every 0.25 s writes small ones).

    python benchmarks/ui_deployment_page.py [--rows 1000000] [--segment-rows 10000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings, StoreSettings
from shipyard.monitoring.predlog import PredictionLogger
from shipyard.server.app import create_app
from shipyard.store.feedback_store import FeedbackItem

DAY_MS = 24 * 3600 * 1000


def _workspace(home: Path) -> tuple[Client, list[str]]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    client = Client(settings=StoreSettings(home=home, user="bench"))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)
    client.register_model(model, name="cancer", sample_input=X[:20], reference_data=X)
    client.register_model(model, name="cancer", sample_input=X[:20], reference_data=X)
    client.create_deployment("cancer", "cancer/1")
    return client, list(X.columns)


def _log(
    client: Client, columns: list[str], rows: int, segment_rows: int, seed: int = 0
) -> list[str]:
    """``rows`` predictions over the last day, in segments of about ``segment_rows``."""
    rng = np.random.default_rng(seed)
    log = PredictionLogger(client.store.artifacts, batch_size=segment_rows)
    now = int(time.time() * 1000)
    sizes = rng.choice([1, 1, 1, 2, 4, 8], size=rows)
    ids: list[str] = []
    written = request = 0
    while written < rows:
        n = int(sizes[request])
        at = now - int(DAY_MS * (1 - written / rows))
        version = 1 if rng.random() < 0.9 else 2
        p = rng.random(size=(n, 1))
        log._queue.append(
            (
                "cancer",
                version,
                "primary" if version == 1 else "canary",
                f"r{request}",
                at,
                float(rng.lognormal(1.0, 0.5)),
                tuple(columns),
                rng.normal(10, 3, size=(n, len(columns))),
                (p[:, 0] > 0.5).astype(int),
                np.hstack([1 - p, p]),
                None,
            )
        )
        ids.append(f"r{request}")
        written += n
        request += 1
        if len(log._queue) >= segment_rows:
            log.flush()
    log.flush()
    return ids


def _counters(client: Client) -> None:
    """Six hours of 2-second buckets from two processes, two versions and their pair."""
    now = int(time.time()) // 2 * 2
    empty = {"latency": [0] * 26, "classes": {"0": 1, "1": 1}, "scores": [0] * 20}
    for process in ("p1", "p2"):
        rows = []
        for bucket in range(now - 6 * 3600, now, 2):
            rows.append(("cancer", "version", "1", bucket, {"requests": 20, "errors": 0, **empty}))
            rows.append(("cancer", "version", "2", bucket, {"requests": 2, "errors": 0, **empty}))
            pair = {"compared": 2, "agreed": 2, "abs_diff_sum": 0.0, "dropped": 0, "confusion": {}}
            rows.append(("cancer", "pair", "2~1", bucket, pair))
        for start in range(0, len(rows), 3000):
            client.store.stats.write(process, rows[start : start + 3000])


def _time(http: TestClient, path: str, headers: dict[str, str], views: int) -> tuple[float, float]:
    started = time.perf_counter()
    first = http.get(path, headers=headers)
    cold = time.perf_counter() - started
    assert first.status_code == 200, first.text[:500]
    times = []
    for _ in range(views):
        started = time.perf_counter()
        assert http.get(path, headers=headers).status_code == 200
        times.append(time.perf_counter() - started)
    return cold * 1000, statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--segment-rows", type=int, default=10_000)
    parser.add_argument("--labels", type=int, default=100_000)
    parser.add_argument("--views", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        client, columns = _workspace(Path(folder) / "ws")
        started = time.perf_counter()
        ids = _log(client, columns, args.rows, args.segment_rows)
        segments = len(client.store.artifacts.list_paths("predictions/deployment=cancer"))
        print(
            f"logged {args.rows} rows in {segments} segments: {time.perf_counter() - started:.1f} s"
        )
        _counters(client)
        items = [FeedbackItem(i, 0, int(k % 2)) for k, i in enumerate(ids[: args.labels])]
        client.store.feedback.add("cancer", items)
        client.create_monitor(
            "watch", {"deployment": "cancer", "window_s": 3600, "rules": ["drift_share >= 0.3"]}
        )
        for _ in range(3):
            client.run_monitor("watch")
        app = create_app(ServerSettings(pipelines=False), client=client)
        with TestClient(app) as http:
            token = client.create_token("bench-admin", "admin").token
            headers = {"authorization": f"Bearer {token}"}
            time.sleep(1.5)  # the server's token table picks the new token up
            deadline = time.monotonic() + 60
            while http.get("/health").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.1)  # models loaded: the first view is not racing the start
            time.sleep(2)
            for path in ("/ui/deployments/cancer", "/ui/monitoring/cancer", "/ui/monitoring"):
                cold, warm = _time(http, path, headers, args.views)
                print(f"{path}: first view {cold:.0f} ms, then median {warm:.1f} ms")
        client.close()


if __name__ == "__main__":
    main()
