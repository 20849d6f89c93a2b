"""A quick timing check of the dashboard's Runs pages (not a unit test).

Builds (once, then reuses) a workspace with 1,000 runs x 50 metrics x 100 points and
10 params each, plus 20 runs with a 5,000-point metric (the compare worst case), logged
through the store's batch API (``Client.log_batch``: one transaction per run), then times
the server side of ``/ui/runs`` (first page, sorted, filtered, later pages, chosen
columns), a run's page and ``/ui/runs/compare`` (2, 5 and 20 runs) in-process::

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


def build_long(home: Path) -> None:
    """20 more runs (experiment ``long``) with a 5,000-point metric: the compare worst case."""
    from shipyard import Client
    from shipyard.config import StoreSettings
    from shipyard.entities import MetricPoint

    client = Client(settings=StoreSettings(home=home, user="bench"))
    rng = random.Random(1)
    for index in range(20):
        created = client.create_run("long", name=f"long-{index}", params={"seed": str(index)})
        points = [MetricPoint("loss", rng.random(), step, step) for step in range(5000)]
        client.log_batch(created.id, metrics=points)
        client.end_run(created.id)
    (home / "BUILT-LONG").write_text("ok")
    client.close()


def measure(home: Path, repeats: int) -> None:
    from fastapi.testclient import TestClient

    from shipyard import Client
    from shipyard.config import ServerSettings, StoreSettings
    from shipyard.server.app import create_app

    client = Client(settings=StoreSettings(home=home, user="bench"))
    app = create_app(ServerSettings(pipelines=False, auth=False), client=client)
    ids = [r.id for r in client.search_runs(["exp-0", "exp-1"], None, None, 5)]
    long_ids = [r.id for r in client.search_runs("long", None, None, 20)]
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
        f"/ui/runs/{long_ids[0]}",
        "/ui/runs/compare?ids=" + ",".join(long_ids[:5]),
        "/ui/runs/compare?ids=" + ",".join(long_ids),
    ]
    with TestClient(app) as http:
        print(f"{'median ms':>10} {'max ms':>8} {'KiB':>6}  url (ids shortened)")
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
                f"{len(first.content) / 1024:6.0f}  {_short(url)}"
            )
    client.close()


def _short(url: str) -> str:
    import re

    return re.sub(r"([0-9a-f]{6})[0-9a-f]{26}", r"\1…", url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, default=Path("/tmp/ui-runs-bench"))
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--build-only", action="store_true")
    args = parser.parse_args()
    if not (args.home / "BUILT").exists():
        build(args.home)
    if not (args.home / "BUILT-LONG").exists():
        build_long(args.home)
    if not args.build_only:
        measure(args.home, args.repeats)


if __name__ == "__main__":
    main()
