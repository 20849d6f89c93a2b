"""A quick timing check of the dashboard's Model and Datasets pages (not a unit test).

Builds (once, then reuses) a workspace with one model of 100 versions, each registered
from its own run (20 metrics, the training dataset recorded as its input), the champion
moved 10 times, a deployment serving it, global importance on the champion, optimization
reports on 10 versions, 30 more models of one version (a second page of models), and a
dataset of 50,000 rows x 30 columns in 30 versions. Then times the server side of the pages
in-process::

    PYTHONPATH=src .venv/bin/python benchmarks/ui_models.py [--home /tmp/ui-models-bench]

Medians of ``--repeats`` requests, after one warm-up request per URL. (The prediction log
is not simulated here: the lineage counts its hours by partition folder, one listing per
day, whatever the number of segments.)
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

VERSIONS = 100
DATASET_VERSIONS = 30


def build(home: Path) -> None:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from shipyard import Client
    from shipyard.config import StoreSettings
    from shipyard.registry.service import DERIVED_FROM_TAG, OPTIMIZE_TAG

    client = Client(settings=StoreSettings(home=home, user="bench"))
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(50_000, 30)), columns=[f"f{i:02d}" for i in range(30)])
    frame["label"] = (frame["f00"] > 0).astype(int)
    for version in range(DATASET_VERSIONS):
        client.add_dataset("training", frame.assign(f01=frame["f01"] + version / 10))
    X, y = frame.drop(columns="label").head(2000), frame["label"].head(2000)
    model = LogisticRegression(max_iter=200).fit(X, y)
    report = {
        "derived_from": "models:/scorer/1",
        "input_dtype": "float32",
        "parity": {"compared": "probability", "max_diff": 1e-7, "threshold": 1e-5,
                   "label_flips": 0, "rows": 1000, "passed": True},
        "latency": {"source_1_row_ms": 0.4, "onnx_1_row_ms": 0.05, "speedup_1_row": 8.0,
                    "source_1000_rows_ms": 2.0, "onnx_1000_rows_ms": 0.5,
                    "speedup_1000_rows": 4.0},
        "quantization": {"status": "not applicable"},
    }  # fmt: skip
    sha = None
    for index in range(VERSIONS):
        with client.start_run("scorer", name=f"train-{index}") as run:
            run.log_metrics({f"m{k:02d}": float(rng.random()) for k in range(20)})
            run.log_input("training", index % DATASET_VERSIONS + 1, "bench")
        tags = (
            {DERIVED_FROM_TAG: f"models:/scorer/{index}", OPTIMIZE_TAG: json.dumps(report)}
            if index % 10 == 9
            else {}
        )
        if sha is None:
            sha = client.register_model(
                model, name="scorer", sample_input=X.head(20), run_id=run.id
            ).sha256
        else:
            client.register_package(sha, name="scorer", run_id=run.id, tags=tags)
        if index % 10 == 0:
            client.set_alias("scorer", "champion", index + 1)
    client.create_deployment("scoring", "scorer@champion")
    champion = client.get_model_version_by_alias("scorer", "champion")
    importance = {
        "model": "scorer",
        "version": champion.version,
        "deployment": "scoring",
        "values": {c: float(rng.random()) for c in X.columns},
        "rows": 2000,
        "available_rows": 100_000,
        "method": "linear",
        "output_space": "log-odds",
        "computed_at": int(time.time() * 1000),
    }
    stored = client.store.artifacts.put_bytes(json.dumps(importance).encode())
    client.set_version_tag("scorer", champion.version, "shipyard.importance", stored.sha256)
    for index in range(30):
        client.register_package(sha, name=f"other-{index:02d}")
    (home / "BUILT").write_text("ok")
    client.close()


def measure(home: Path, repeats: int) -> None:
    from fastapi.testclient import TestClient

    from shipyard import Client
    from shipyard.config import ServerSettings, StoreSettings
    from shipyard.server.app import create_app

    client = Client(settings=StoreSettings(home=home, user="bench"))
    app = create_app(ServerSettings(pipelines=False, auth=False), client=client)
    urls = [
        "/ui/models",
        "/ui/models/scorer",
        "/ui/models/scorer?page=5",
        "/ui/models/scorer/versions/91",
        "/ui/models/scorer/versions/50",
        "/ui/datasets",
        "/ui/datasets/training",
        "/ui/datasets/training?version=10&diff=1..30",
        "/ui/datasets/training?version=1&lineage=1",
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
    parser.add_argument("--home", type=Path, default=Path("/tmp/ui-models-bench"))
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    if not (args.home / "BUILT").exists():
        build(args.home)
    measure(args.home, args.repeats)


if __name__ == "__main__":
    main()
