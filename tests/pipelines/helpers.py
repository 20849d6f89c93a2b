"""A small retraining pipeline written to a file per test, and the world it runs in."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from shipyard import Client

MODEL = "clf"
DATASET = "clf-data"
MONITOR = "clf-health"

PIPELINE = """
from __future__ import annotations

from pathlib import Path

from shipyard.pipelines import (
    DatasetRecord, Pipeline, Run, StepContext, deploy, gate, on_alert, on_dataset,
    on_schedule, register_model,
)

pipeline = Pipeline(
    params={{"dataset": "clf-data", "fail_marker": "", "shuffle_labels": False, "seed": 0}},
    triggers=[{triggers}],
)


@pipeline.step
def ingest(ctx: StepContext) -> DatasetRecord:
    return ctx.client.get_dataset(ctx.params["dataset"])


@pipeline.step(cache=True)
def holdout(ctx: StepContext, ingest: DatasetRecord) -> DatasetRecord:
    data = ctx.client.load_dataset(ingest.uri)
    return ctx.client.add_dataset("clf-holdout", data.iloc[::3].reset_index(drop=True))


@pipeline.step(cache=True)
def train(ctx: StepContext, ingest: DatasetRecord) -> Run:
    from sklearn.linear_model import LogisticRegression

    data = ctx.client.load_dataset(ingest.uri)
    data = data.drop(index=data.index[::3])
    X, y = data[["f0", "f1", "f2", "f3"]], data["target"]
    if ctx.params["shuffle_labels"]:
        y = y.sample(frac=1.0, random_state=ctx.params["seed"]).to_numpy()
    with ctx.start_run("retrain") as run:
        model = LogisticRegression().fit(X, y)
        run.log_model(model, sample_input=X[:20])
        ctx.log.info("logged the model")
        marker = ctx.params["fail_marker"]
        if marker and Path(marker).exists():
            raise RuntimeError("training data check failed after logging the model")
    return run


pipeline.add_step(register_model(model="clf", candidate="train", reference="ingest"))
pipeline.add_step(
    gate(
        candidate="register",
        dataset="holdout",
        checks=["auc >= 0.8", "auc >= champion.auc - 0.02"],
        slices=[{{"column": "group", "min": {{"accuracy": 0.6}}}}],
        fairness={{"attribute": "group", "metric": "positive_rate", "max_difference": 0.5}},
    )
)
pipeline.add_step(
    deploy(
        deployment="clf",
        candidate="register",
        after=["gate"],
        approval={approval},
        rollout={{"steps": [50, 100], "interval_s": 0.5, "deadline_s": 30}},
    )
)
"""


def write_pipeline(
    folder: Path, *, triggers: str = "", approval: bool = False, name: str = "retrain.py"
) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(PIPELINE.format(triggers=triggers, approval=approval)))
    return path


def make_data(seed: int = 0, rows: int = 600) -> pd.DataFrame:
    X, y = make_classification(
        n_samples=rows,
        n_features=4,
        n_informative=3,
        n_redundant=0,
        class_sep=2.0,
        random_state=seed,
    )
    frame = pd.DataFrame(X, columns=["f0", "f1", "f2", "f3"])
    frame["group"] = np.where(np.arange(rows) % 2 == 0, "a", "b")
    frame["target"] = y
    return frame


def serve_champion(client: Client) -> None:
    """v1 trained on the first data, serving as champion, watched by a monitor."""
    data = make_data()
    client.add_dataset(DATASET, data)
    X = data[["f0", "f1", "f2", "f3"]]
    model = LogisticRegression().fit(X, data["target"])
    version = client.register_model(model, name=MODEL, sample_input=X[:20], reference_data=X)
    client.set_alias(MODEL, "champion", version.version)
    client.create_deployment(MODEL, f"{MODEL}@champion")
    client.create_monitor(MONITOR, {"deployment": MODEL, "rules": ["accuracy < 0.9"]})
