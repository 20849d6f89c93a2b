"""What optimize refuses: a converter that does not match, an estimator without one,
a version without rows to check; and what it records when it succeeds."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

from shipyard import Client
from shipyard.errors import InvalidInput, UnsupportedModel
from shipyard.optimize import MissingConverter, ParityGateFailed


class Clip(TransformerMixin, BaseEstimator):
    """Clips at zero; its planted converter below forgets to (Identity)."""

    def fit(self, X, y=None):
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X):
        return np.clip(np.asarray(X, dtype=np.float64), 0.0, None)


class Unknown(Clip):
    """The same transformer with no converter registered."""


@pytest.fixture(scope="module")
def planted_converter() -> None:
    from skl2onnx import update_registered_converter

    def shape(operator) -> None:
        operator.outputs[0].type = operator.inputs[0].type.__class__(operator.inputs[0].type.shape)

    def convert(scope, operator, container) -> None:  # forgets the clip: a planted bug
        container.add_node(
            "Identity",
            [operator.inputs[0].full_name],
            [operator.outputs[0].full_name],
            name=scope.get_unique_operator_name("PlantedIdentity"),
        )

    update_registered_converter(Clip, "ShipyardTestClip", shape, convert)


def _register(client: Client, step, numeric_data, name: str) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    X, y = numeric_data
    model = make_pipeline(step, LogisticRegression()).fit(X, y)
    client.register_model(model, name=name, sample_input=X[:50], reference_data=X)


def test_a_planted_converter_mismatch_is_refused_with_the_worst_rows(
    sqlite_client: Client, numeric_data, planted_converter
) -> None:
    _register(sqlite_client, Clip(), numeric_data, "clipped")
    with pytest.raises(ParityGateFailed) as caught:
        sqlite_client.optimize("models:/clipped/1")
    message = str(caught.value)
    assert "fails the parity gate" in message and "Worst rows: row " in message
    assert "source " in message and "onnx " in message
    assert caught.value.report.max_diff > 1e-5 and len(caught.value.report.worst) == 5
    assert [v.version for v in sqlite_client.list_model_versions("clipped")] == [1]


def test_an_estimator_without_a_converter_is_named_with_its_place(
    sqlite_client: Client, numeric_data
) -> None:
    _register(sqlite_client, Unknown(), numeric_data, "unknown")
    where = r"test_gate\.Unknown \(the model > step 'unknown'\)"
    with pytest.raises(MissingConverter, match=where):
        sqlite_client.optimize("models:/unknown/1")
    assert len(sqlite_client.list_model_versions("unknown")) == 1


def test_without_reference_data_the_sample_is_asked_for(
    sqlite_client: Client, numeric_data, tmp_path
) -> None:
    from sklearn.linear_model import LogisticRegression

    X, y = numeric_data
    sqlite_client.register_model(LogisticRegression().fit(X, y), name="plain", sample_input=X[:50])
    with pytest.raises(InvalidInput, match=r"no reference data.*sample="):
        sqlite_client.optimize("models:/plain/1")
    with pytest.raises(InvalidInput, match="cannot optimize to 'tflite'"):
        sqlite_client.optimize("models:/plain/1", sample=tmp_path / "x.csv", to="tflite")
    X.to_parquet(tmp_path / "x.parquet")
    assert sqlite_client.optimize("models:/plain/1", sample=tmp_path / "x.parquet").parity.passed
    record = sqlite_client.add_dataset("rows", X)
    assert sqlite_client.optimize("models:/plain/1", sample=record.uri).version.version == 3
    with pytest.raises(UnsupportedModel, match="is a onnx version"):
        sqlite_client.optimize("models:/plain/2", sample=record.uri)


def test_the_version_records_source_reports_and_lineage(
    sqlite_client: Client, numeric_data
) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = numeric_data
    model = HistGradientBoostingClassifier(max_iter=20).fit(X, y)
    source = sqlite_client.register_model(
        model, name="fraud", sample_input=X[:50], reference_data=X
    )
    sqlite_client.set_alias("fraud", "champion", 1)
    result = sqlite_client.optimize("models:/fraud@champion")

    version = sqlite_client.get_model_version("fraud", 2)
    assert version.signature == source.signature
    assert version.flavor_options["classes"] == [0, 1]
    assert version.tags["shipyard.derived_from"] == "models:/fraud/1"
    assert version.tags["shipyard.reference_profile"] == source.tags["shipyard.reference_profile"]
    stored = json.loads(version.tags["shipyard.optimize"])
    assert stored["parity"]["passed"] and stored["latency"] == result.latency.to_dict()
    assert stored["quantization"]["status"] == "not applicable"
    assert "## Derived from" in version.model_card and "models:/fraud/1" in version.model_card
    predictor = sqlite_client.load_model("models:/fraud/2").predictor
    assert predictor.accepts_matrix(version.signature.columns)  # the server's fast path
    options = predictor.raw.get_session_options()
    assert (options.intra_op_num_threads, options.inter_op_num_threads) == (1, 1)
    matrix = X[:5].to_numpy()
    assert np.abs(predictor.predict_proba_matrix(matrix) - model.predict_proba(X[:5])).max() < 1e-5
    tree = sqlite_client.lineage("models:/fraud/2").to_dict()
    assert tree["children"][0]["id"] == "models:/fraud/1"
    source_tree = sqlite_client.lineage("models:/fraud/1").to_dict()
    assert any(child["id"] == "models:/fraud/2" for child in source_tree["children"])
    events = [e for e in sqlite_client.audit_events(20) if "fraud" in json.dumps(e)]
    assert any("2" in json.dumps(e) and "version" in json.dumps(e) for e in events)
