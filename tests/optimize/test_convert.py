"""Every listed estimator family converts, runs in onnxruntime and passes the parity gate.

This is also the version-skew guard: skl2onnx 1.20 under protobuf 7 cannot
convert HistGradientBoosting ("Expected an int, got a boolean"); the extra pins
``protobuf<7`` and these tests fail if that stops holding.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from shipyard import Client


def _classifiers() -> dict[str, Any]:
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {
        "hgb": HistGradientBoostingClassifier(max_iter=30, random_state=0),
        "rf": RandomForestClassifier(n_estimators=15, max_depth=6, random_state=0),
        "gb": make_pipeline(
            SimpleImputer(), GradientBoostingClassifier(n_estimators=15, random_state=0)
        ),
        "et": make_pipeline(
            SimpleImputer(), ExtraTreesClassifier(n_estimators=15, max_depth=6, random_state=0)
        ),
        "logreg": make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()),
        "mlp": make_pipeline(
            SimpleImputer(),
            StandardScaler(),
            MLPClassifier((16,), max_iter=300, random_state=0),
        ),
    }


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", list(_classifiers()))
def test_each_classifier_converts_and_matches(
    sqlite_client: Client, numeric_data, kind: str
) -> None:
    X, y = numeric_data
    estimator = _classifiers()[kind].fit(X, y)
    sqlite_client.register_model(estimator, name=kind, sample_input=X[:50], reference_data=X)

    result = sqlite_client.optimize(f"models:/{kind}/1")

    assert result.version.uri == f"models:/{kind}/2" and result.version.flavor == "onnx"
    parity = result.parity
    assert parity.passed and parity.max_diff <= 1e-5 and parity.label_flips == 0
    assert parity.rows >= 1_000
    # NaN rows are checked exactly where the source model itself takes NaN
    takes_nan = kind in ("hgb", "rf", "gb", "et", "logreg", "mlp")
    assert (parity.nan_rows > 0) == takes_nan
    expected_quantization = "not applicable" if kind != "mlp" else {"applied", "failed gate"}
    status = result.quantization["status"]
    assert status == expected_quantization or status in expected_quantization
    # the stored version runs in onnxruntime and answers like the estimator
    loaded = sqlite_client.load_model(result.version.uri)
    assert type(loaded.raw).__name__ == "InferenceSession"
    assert np.abs(loaded.predict_proba(X[:200]) - estimator.predict_proba(X[:200])).max() <= 1e-5
    assert result.latency.onnx_1_row_ms > 0 and result.latency.source_1_row_ms > 0


def test_column_transformer_pipeline_with_text_and_gaps(sqlite_client: Client, mixed_data) -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    X, y = mixed_data
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), ["amount", "age"]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["channel"]),
        ]
    )
    model = make_pipeline(prep, LogisticRegression()).fit(X, y)
    sqlite_client.register_model(model, name="mixed", sample_input=X[:50], reference_data=X)

    result = sqlite_client.optimize("models:/mixed/1")

    assert result.parity.passed and result.parity.nan_rows > 0
    version = result.version
    assert [c.name for c in version.signature.inputs] == ["amount", "age", "channel"]
    loaded = sqlite_client.load_model(version.uri)
    got = loaded.predict_proba(X[:100])
    assert np.abs(got - model.predict_proba(X[:100])).max() <= 1e-5


@pytest.mark.parametrize("kind", ["hgb", "ridge"])
def test_regressors_compare_predictions(sqlite_client: Client, numeric_data, kind: str) -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.linear_model import Ridge

    X, _ = numeric_data
    target = X["x0"] * 3 + X["x1"]
    model = (HistGradientBoostingRegressor(max_iter=20) if kind == "hgb" else Ridge()).fit(
        X, target
    )
    sqlite_client.register_model(model, name=kind, sample_input=X[:50], reference_data=X)
    result = sqlite_client.optimize(f"models:/{kind}/1")
    assert result.parity.compared == "prediction" and result.parity.passed
    predictions = sqlite_client.load_model(result.version.uri).predict(X[:50])
    assert np.allclose(predictions, model.predict(X[:50]), atol=1e-5)
