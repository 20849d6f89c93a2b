"""Registry: numbered immutable versions, aliases with history, tags, URIs, errors."""

from __future__ import annotations

import pytest

from shipyard import Client, InvalidInput, InvalidURI, ModelNotFound, NotFound, UnsupportedModel
from shipyard.errors import SignatureError


@pytest.fixture
def three_versions(client: Client, fitted_pipeline, breast_cancer) -> Client:
    X, _ = breast_cancer
    for _ in range(3):
        client.register_model(fitted_pipeline, name="fraud", sample_input=X[:30])
    return client


def test_versions_are_numbered_and_carry_their_record(
    client: Client, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    with client.start_run("train", params={"C": 1.0}) as run:
        run.log_metrics({"auc": 0.97})
        first = run.register_model(
            fitted_pipeline, name="fraud", sample_input=X[:50], description="baseline"
        )
    second = client.register_model(fitted_pipeline, name="fraud", sample_input=X[:50])
    assert (first.name, first.version, second.version) == ("fraud", 1, 2)
    assert len(first.sha256) == 64 and first.sha256 == client.get_model_version("fraud", 1).sha256
    assert first.run_id == run.id and first.metrics == {"auc": 0.97}
    assert first.flavor == "sklearn" and first.size > 0
    assert any(r.startswith("scikit-learn==") for r in first.requirements)
    assert "# Model card: fraud v1" in first.model_card and "auc" in first.model_card
    assert "baseline" in first.model_card
    signature = client.get_model_version("fraud", 1).signature
    assert signature.columns == [str(c) for c in X.columns]
    assert signature.outputs is not None and signature.outputs.classes == (0, 1)
    assert [v.version for v in client.list_model_versions("fraud")] == [1, 2]
    assert client.get_model("fraud").latest_version == 2


def test_aliases_set_move_delete_with_history(three_versions: Client) -> None:
    client = three_versions
    assert client.set_alias("fraud", "champion", 1) is None
    assert client.set_alias("fraud", "champion", 3) == 1
    client.set_alias("fraud", "challenger", 2)
    assert client.get_model_version_by_alias("fraud", "champion").version == 3
    assert client.get_model("fraud").aliases == {"challenger": 2, "champion": 3}
    assert client.get_model_version("fraud", 3).aliases == ("champion",)
    assert client.delete_alias("fraud", "champion") == 3
    with pytest.raises(ModelNotFound, match="no alias 'champion'"):
        client.get_model_version_by_alias("fraud", "champion")
    history = [(c.alias, c.previous_version, c.version) for c in client.alias_history("fraud")]
    assert history == [
        ("champion", None, 1),
        ("champion", 1, 3),
        ("challenger", None, 2),
        ("champion", 3, None),
    ]
    assert all(c.actor == "tester" for c in client.alias_history("fraud"))
    actions = [e["action"] for e in client.audit_events()]
    assert actions.count("alias.set") == 3 and "alias.delete" in actions


def test_uris_resolve_versions_aliases_and_latest(three_versions: Client) -> None:
    client = three_versions
    client.set_alias("fraud", "champion", 2)
    assert client.resolve_model_uri("models:/fraud/1").version == 1
    assert client.resolve_model_uri("models:/fraud@champion").version == 2
    assert client.resolve_model_uri("models:/fraud/latest").version == 3


@pytest.mark.parametrize(
    "uri",
    [
        "fraud",
        "models:/",
        "models:/fraud",
        "models:/fraud/0",
        "models:/fraud/x",
        "models:/fraud/1/2",
        "runs:/abc/model",
        "models:/fraud@",
        "models:/fraud@a@b",
    ],
)
def test_malformed_uris_are_refused(sqlite_client: Client, uri: str) -> None:
    with pytest.raises(InvalidURI, match="invalid model URI"):
        sqlite_client.load_model(uri)


def test_unknown_model_version_and_alias(three_versions: Client) -> None:
    client = three_versions
    with pytest.raises(ModelNotFound, match="model 'nope' does not exist"):
        client.load_model("models:/nope/1")
    with pytest.raises(ModelNotFound, match="has no version 9"):
        client.load_model("models:/fraud/9")
    with pytest.raises(ModelNotFound, match="has no alias 'gold'"):
        client.load_model("models:/fraud@gold")
    with pytest.raises(ModelNotFound, match="has no version 7"):
        client.set_alias("fraud", "champion", 7)
    with pytest.raises(ModelNotFound, match="has no alias"):
        client.delete_alias("fraud", "gold")


@pytest.mark.parametrize("alias", ["latest", "1abc", "with space", "a/b", ""])
def test_bad_alias_names(three_versions: Client, alias: str) -> None:
    with pytest.raises(InvalidInput, match="alias"):
        three_versions.set_alias("fraud", alias, 1)


@pytest.mark.parametrize("name", ["../x", "a/b", "", "x@y", "-lead"])
def test_bad_model_names(sqlite_client: Client, fitted_pipeline, breast_cancer, name) -> None:
    X, _ = breast_cancer
    with pytest.raises(InvalidInput, match="invalid model name"):
        sqlite_client.register_model(fitted_pipeline, name=name, sample_input=X[:5])


def test_unsupported_object_and_unusable_sample(sqlite_client: Client, fitted_pipeline) -> None:
    with pytest.raises(UnsupportedModel, match=r"builtins\.dict"):
        sqlite_client.register_model({"weights": [1, 2]}, name="m", sample_input=[{"a": 1}])
    with pytest.raises(SignatureError, match="no rows"):
        import pandas as pd

        sqlite_client.register_model(
            fitted_pipeline, name="m", sample_input=pd.DataFrame({"a": []})
        )
    with pytest.raises(SignatureError, match="needs a sample input"):
        sqlite_client.register_model(fitted_pipeline, name="m")
    assert sqlite_client.list_models() == []  # nothing half-registered


def test_loaded_model_matches_the_estimator(
    three_versions: Client, fitted_pipeline, breast_cancer
) -> None:
    import numpy as np

    X, _ = breast_cancer
    loaded = three_versions.load_model("models:/fraud/2")
    assert np.array_equal(loaded.predict(X), fitted_pipeline.predict(X))
    assert np.allclose(loaded.predict_proba(X[:7]), fitted_pipeline.predict_proba(X[:7]))
    reordered = X[list(reversed(X.columns))]
    assert np.array_equal(loaded.predict(reordered[:9]), fitted_pipeline.predict(X[:9]))
    with pytest.raises(SignatureError, match="missing column"):
        loaded.predict(X.drop(columns=["mean radius"]))
    assert loaded.classes == (0, 1)


def test_tags_and_descriptions(three_versions: Client) -> None:
    client = three_versions
    client.set_model_tag("fraud", "owner", "risk-team")
    client.set_version_tag("fraud", 2, "validated", "yes")
    client.set_description("fraud", "Card fraud scorer")
    client.set_description("fraud", "retrained on May data", version=2)
    assert client.get_model("fraud").tags == {"owner": "risk-team"}
    assert client.get_model("fraud").description == "Card fraud scorer"
    version = client.get_model_version("fraud", 2)
    assert version.tags == {"validated": "yes"} and version.description == "retrained on May data"


def test_tampered_model_artifact_is_refused(
    sqlite_client: Client, fitted_pipeline, breast_cancer
) -> None:
    from shipyard import IntegrityError

    X, _ = breast_cancer
    version = sqlite_client.register_model(fitted_pipeline, name="m", sample_input=X[:5])
    tree = sqlite_client.store.artifacts.open_tree(version.sha256)
    model_file = sqlite_client.store.artifacts.local_path(tree.files["model.skops"]["sha256"])
    data = bytearray(model_file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model_file.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="hash mismatch"):
        sqlite_client.load_model("models:/m/1")


def test_log_model_then_register_without_saving_again(
    client: Client, fitted_pipeline, breast_cancer
) -> None:
    import numpy as np

    X, _ = breast_cancer
    with client.start_run("train") as run:
        run.log_metrics({"auc": 0.99})
        uri = run.log_model(fitted_pipeline, "classifier", sample_input=X[:20])
    assert uri == f"runs:/{run.id}/classifier"
    first = client.register_model(uri, name="from-run")
    second = client.register_model(uri, name="from-run")
    assert (first.version, second.version) == (1, 2) and first.sha256 == second.sha256
    assert first.run_id == run.id and first.metrics == {"auc": 0.99}
    assert first.signature.outputs is not None and first.signature.outputs.classes == (0, 1)
    loaded = client.load_model("models:/from-run/2")
    assert np.allclose(loaded.predict_proba(X[:3]), fitted_pipeline.predict_proba(X[:3]))
    with pytest.raises(InvalidURI, match="runs:/RUN_ID/ARTIFACT"):
        client.register_model("runs:/nope", name="x")
    with pytest.raises(NotFound, match="no logged model 'other'"):
        client.register_model(f"runs:/{run.id}/other", name="x")
