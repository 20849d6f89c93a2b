"""Save a joblib model as an MLflow model whose pyfunc returns ``predict_proba``.

Runs under the MLflow venv's interpreter (not Shipyard's)::

    python mlflow_save.py MODEL.joblib OUT_DIR

``mlflow.sklearn.save_model`` is what ``log_model`` calls to write the model
folder; saving straight to a folder needs no tracking store. The signature is
inferred from the breast-cancer frame, so the scoring server enforces a schema
as it does for any model logged with an input example.
"""

from __future__ import annotations

import sys

import joblib
import mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_breast_cancer


def main(model_path: str, out_dir: str) -> None:
    """Write the MLflow model folder ``out_dir``."""
    model = joblib.load(model_path)
    frame = load_breast_cancer(as_frame=True).data
    sample = frame.head(50)
    mlflow.sklearn.save_model(
        model,
        out_dir,
        signature=infer_signature(sample, model.predict_proba(sample)),
        pyfunc_predict_fn="predict_proba",
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
