"""The quickstart's retraining pipeline (a pipeline file like any user's).

When the ``breast-cancer-health`` monitor fires, it takes the newest version
of the labelled data, holds out a stratified part of it as a dataset version
of its own, trains on the rest, registers the model, gates it against the
champion on the held-out rows, and canary-rolls it out.

    shipyard pipelines register retrain-breast-cancer path/to/this/file.py
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from shipyard.pipelines import (
    DatasetRecord,
    Pipeline,
    Run,
    StepContext,
    deploy,
    gate,
    on_alert,
    register_model,
)

MODEL = "breast-cancer"
MONITOR = "breast-cancer-health"

pipeline = Pipeline(
    params={"dataset": "breast-cancer-data", "C": 1.0, "seed": 7, "holdout": 0.3},
    triggers=[on_alert(MONITOR, cooldown="10m")],
    description="Retrain breast-cancer on the newest labelled data when its monitor fires.",
)


def _split(ctx: StepContext, data: pd.DataFrame) -> Any:
    from sklearn.model_selection import train_test_split

    return train_test_split(
        data,
        test_size=ctx.params["holdout"],
        random_state=ctx.params["seed"],
        stratify=data["target"],
    )


@pipeline.step
def ingest(ctx: StepContext) -> DatasetRecord:
    """The newest version of the labelled data."""
    latest = ctx.client.get_dataset(ctx.params["dataset"])
    ctx.log.info("training data %s: %d rows", latest.uri, latest.rows)
    return latest


@pipeline.step(cache=True)
def holdout(ctx: StepContext, ingest: DatasetRecord) -> DatasetRecord:
    """Held-out rows, stored as a dataset version so the gate's evidence is kept."""
    _, test = _split(ctx, ctx.client.load_dataset(ingest.uri))
    return ctx.client.add_dataset(f"{ingest.name}-holdout", test.reset_index(drop=True))


@pipeline.step(cache=True)
def train(ctx: StepContext, ingest: DatasetRecord) -> Run:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data, _ = _split(ctx, ctx.client.load_dataset(ingest.uri))
    X, y = data.drop(columns=["target"]), data["target"]
    params = {"model": "logistic_regression", "C": ctx.params["C"], "seed": ctx.params["seed"]}
    with ctx.start_run("retraining", params=params, name=f"retrain-{ingest.name}") as run:
        model = make_pipeline(StandardScaler(), LogisticRegression(C=params["C"], max_iter=2000))
        model.fit(X, y)
        run.log_metrics({"train_accuracy": float(model.score(X, y))})
        run.log_input(ingest.name, ingest.version, ingest.sha256)
        run.log_model(model, sample_input=X[:50])
    ctx.log.info("trained on %d rows", len(X))
    return run


pipeline.add_step(register_model(model=MODEL, candidate="train", reference="ingest"))
pipeline.add_step(
    gate(
        candidate="register",
        dataset="holdout",
        checks=["auc >= 0.9", "accuracy >= 0.85", "accuracy >= champion.accuracy + 0.02"],
    )
)
pipeline.add_step(
    deploy(
        deployment=MODEL,
        candidate="register",
        after=["gate"],
        rollout={
            "steps": [50, 100],
            "interval_s": 1.0,
            "deadline_s": 90,
            # A retrained model is expected to disagree with a champion that drift broke;
            # and on a laptop the whole loop shares one process and two cores, so only a
            # large latency regression (p99 over 2x and 50 ms above the champion) fails.
            "thresholds": {
                "max_p99_ratio": 2.0,
                "p99_margin_ms": 50,
                "min_requests": 100,
                "min_compared": 100,
                "min_divergence_samples": 200,
                "min_agreement": 0.6,
                "max_divergence": 0.5,
            },
        },
    )
)
