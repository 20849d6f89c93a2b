"""A quick timing check of the dashboard's Runs pages (not a unit test).

Builds (once, then reuses) a workspace with 1,000 runs x 50 metrics x 100 points and
10 params each, logged through the store's batch API (``Client.log_batch``: one
transaction per run), then times the server side of ``/ui/runs`` (first page, sorted by a
metric, filtered, a later page) and ``/ui/runs/compare`` (5 runs) in-process::

    PYTHONPATH=src .venv/bin/python benchmarks/ui_runs.py [--home /tmp/ui-runs-bench]

Medians of ``--repeats`` requests, after one warm-up request per URL.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

RUNS = 1000
METRICS = 50
POINTS = 100
PARAMS = 10


def build(home: Path) -> None:
    from shipyard import Client
    from shipyard.config import StoreSettings
    from shipyard.entities import MetricPoint

    client = Client(settings=StoreSettings(home=home, user="bench"))
    rng = random.Random(0)
    started = time.perf_counter()
    now = int(time.time() * 1000)
    for index in range(RUNS):
        experiment = f"exp-{index % 4}"
        params = {
            f"p{k}": str(rng.choice(["a", "b", "c"]) if k else index % 7) for k in range(PARAMS)
        }
        created = client.create_run(experiment, name=f"run-{index}", params=params)
        points = [
            MetricPoint(f"m{m:02d}", rng.random(), step, now + step)
            for m in range(METRICS)
            for step in range(POINTS)
        ]
        client.log_batch(created.id, metrics=points)
        client.end_run(created.id)
        if index % 100 == 99:
            elapsed = time.perf_counter() - started
            print(f"  {index + 1} runs logged in {elapsed:.1f} s", flush=True)
    total = time.perf_counter() - started
    points_total = RUNS * METRICS * POINTS
    print(
        f"built {RUNS} runs x {METRICS} metrics x {POINTS} points ({points_total:,} points) "
        f"in {total:.1f} s ({points_total / total:,.0f} points/s)"
    )
    (home / "BUILT").write_text("ok")
    client.close()


def measure(home: Path, repeats: int) -> None:
    from fastapi.testclient import TestClient

    from shipyard import Client
    from shipyard.config import ServerSettings, StoreSettings
    from shipyard.server.app import create_app

    client = Client(settings=StoreSettings(home=home, user="bench"))
    app = create_app(ServerSettings(pipelines=False, auth=False), client=client)
    ids = [r.id for r in client.search_runs(None, None, None, 5)]
    urls = [
        "/ui/runs",
        "/ui/runs?order=metrics.m07&dir=desc",
        "/ui/runs?filter=metrics.m03+%3E+0.5+and+params.p1+%3D+%27a%27&order=metrics.m01",
        "/ui/runs?page=15",
        "/ui/runs?experiment=exp-2&order=params.p0&dir=asc&page=3",
        "/ui/runs?metric=m00&metric=m10&metric=m20&metric=m30&metric=m40&param=p0&param=p5",
        f"/ui/runs/{ids[0]}",
        "/ui/runs/compare?ids=" + ",".join(ids[:2]),
        "/ui/runs/compare?ids=" + ",".join(ids) + "&metric=m10",
    ]
    with TestClient(app) as http:
        print(f"{'median ms':>10} {'max ms':>8} {'KiB':>6}  url")
        for url in urls:
            first = http.get(url)
            assert first.status_code == 200, (url, first.status_code, first.text[:300])
            samples = []
            for _ in range(repeats):
                began = time.perf_counter()
                response = http.get(url)
                samples.append((time.perf_counter() - began) * 1000)
                assert response.status_code == 200
            print(
                f"{statistics.median(samples):10.1f} {max(samples):8.1f} "
                f"{len(first.content) / 1024:6.0f}  {url}"
            )
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, default=Path("/tmp/ui-runs-bench"))
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    if not (args.home / "BUILT").exists():
        build(args.home)
    if not args.build_only:
        measure(args.home, args.repeats)


if __name__ == "__main__":
    main()
