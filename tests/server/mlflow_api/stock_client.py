"""Run by an unmodified MLflow client in its own venv against ``shipyard serve``.

Only MLFLOW_TRACKING_URI and MLFLOW_TRACKING_TOKEN point it at Shipyard. It
prints one JSON line of what it saw, for the test to check. ``wrong-token``
mode makes one call and reports the error the client raised.
"""

import json
import sys
import tempfile
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

MODEL = "iris-stock"


def wrong_token() -> dict:
    try:
        mlflow.set_experiment("never")
    except MlflowException as exc:
        return {"error_code": exc.error_code, "message": str(exc)[:300]}
    return {"error_code": None}


def main() -> dict:
    major = int(mlflow.__version__.split(".")[0])
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = [c.replace(" (cm)", "").replace(" ", "_") for c in X.columns]
    model = LogisticRegression(max_iter=500).fit(X, y)
    mlflow.set_experiment("stock-client")
    with mlflow.start_run(run_name="stock") as run:
        mlflow.log_param("C", "1.0")
        mlflow.log_params({"solver": "lbfgs", "max_iter": 500})
        mlflow.log_metric("acc", 0.97)
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"f1": 0.96, "auc": 0.99})
        mlflow.set_tag("team", "fraud")
        mlflow.set_tags({"stage": "test"})
        dataset = mlflow.data.from_pandas(X.assign(target=y), name="iris", targets="target")
        mlflow.log_input(dataset, context="training")
        notes = Path(tempfile.mkdtemp()) / "notes.txt"
        notes.write_text("trained on iris\n")
        mlflow.log_artifact(str(notes))
        where = {"name": "model"} if major >= 3 else {"artifact_path": "model"}
        mlflow.sklearn.log_model(
            model, registered_model_name=MODEL, input_example=X.head(3), **where
        )
    client = MlflowClient()
    versions = client.search_model_versions(f"name = '{MODEL}'")
    version = max(int(v.version) for v in versions)
    client.set_registered_model_alias(MODEL, "challenger", version)
    by_alias = client.get_model_version_by_alias(MODEL, "challenger")
    loaded = mlflow.pyfunc.load_model(f"models:/{MODEL}@challenger")
    predicted = [int(p) for p in loaded.predict(X.head(10))]
    client.delete_registered_model_alias(MODEL, "challenger")
    try:
        client.get_model_version_by_alias(MODEL, "challenger")
        alias_gone = False
    except MlflowException as exc:
        alias_gone = exc.error_code == "RESOURCE_DOES_NOT_EXIST"
    native = None
    if major >= 3:  # a version registered with Shipyard's SDK (skops), loaded by MLflow
        native = [
            int(p) for p in mlflow.pyfunc.load_model("models:/iris-native/1").predict(X.head(10))
        ]
    runs = mlflow.search_runs(
        experiment_names=["stock-client"],
        filter_string="metrics.acc > 0.5 and params.C = '1.0' and tags.team = 'fraud'",
        output_format="list",
    )
    none = mlflow.search_runs(
        experiment_names=["stock-client"], filter_string="metrics.acc < 0.5", output_format="list"
    )
    fetched = client.get_run(run.info.run_id)
    downloaded = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="notes.txt"
    )
    return {
        "mlflow": mlflow.__version__,
        "run_id": run.info.run_id,
        "version": version,
        "alias_version": int(by_alias.version),
        "alias_gone": alias_gone,
        "predicted": predicted,
        "native_predicted": native,
        "expected": [int(p) for p in model.predict(X.head(10))],
        "rows": X.head(10).to_dict(orient="records"),
        "found_runs": [r.info.run_id for r in runs],
        "no_runs": len(none),
        "params": fetched.data.params,
        "metrics": fetched.data.metrics,
        "tags": {k: v for k, v in fetched.data.tags.items() if not k.startswith("mlflow.")},
        "status": fetched.info.status,
        "datasets": [d.dataset.name for d in fetched.inputs.dataset_inputs],
        "artifacts": sorted(a.path for a in client.list_artifacts(run.info.run_id)),
        "notes": Path(downloaded).read_text(),
        "models": [m.name for m in client.search_registered_models("name LIKE 'iris%'")],
        "history": [m.value for m in client.get_metric_history(run.info.run_id, "loss")],
    }


if __name__ == "__main__":
    result = wrong_token() if sys.argv[1:] == ["wrong-token"] else main()
    print("RESULT " + json.dumps(result))
