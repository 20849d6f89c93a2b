"""Dataset versions: dedup, immutability, loading, diff, validation, lineage, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from tests.conftest import bearer

from shipyard import Client, IntegrityError, InvalidInput, NotFound
from shipyard.errors import InvalidURI


@pytest.fixture
def transactions() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 2000
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "amount": rng.gamma(2.0, 50.0, n),
            "country": rng.choice(["DE", "FR", "NL"], n),
            "fraud": rng.integers(0, 2, n),
        }
    )


def test_same_content_is_stored_once_and_returns_the_same_version(
    client: Client, transactions: pd.DataFrame, tmp_path
) -> None:
    path = tmp_path / "tx.parquet"
    transactions.to_parquet(path)
    first = client.add_dataset("transactions", path)
    again = client.add_dataset("transactions", path)
    assert (first.version, again.version) == (1, 1) and first.sha256 == again.sha256
    objects = list((client.settings.home / "artifacts" / "objects").rglob("*"))
    before = len(objects)
    copy = tmp_path / "copy.parquet"
    copy.write_bytes(path.read_bytes())
    assert client.add_dataset("transactions", copy).version == 1
    assert len(list((client.settings.home / "artifacts" / "objects").rglob("*"))) == before
    changed = transactions.assign(amount=transactions["amount"] * 1.1)
    second = client.add_dataset("transactions", changed)
    assert second.version == 2 and second.kind == "frame"
    assert first.rows == 2000 and [c["name"] for c in first.schema["columns"]] == list(
        transactions.columns
    )
    country = next(c for c in first.schema["columns"] if c["name"] == "country")
    assert country["categories"] == ["DE", "FR", "NL"] and not country["nullable"]


def test_load_verifies_bytes_and_records_run_inputs(
    client: Client, transactions: pd.DataFrame
) -> None:
    record = client.add_dataset("transactions", transactions)
    with client.start_run("train") as run:
        loaded = client.load_dataset("datasets:/transactions@latest")
    pd.testing.assert_frame_equal(loaded, transactions)
    assert [(i.dataset, i.version) for i in client.get_run(run.id).inputs] == [
        ("transactions", "1")
    ]
    chunks = list(client.dataset_batches("datasets:/transactions/1", batch_size=500))
    assert [len(c) for c in chunks] == [500, 500, 500, 500]
    stored = client.store.artifacts.local_path(record.sha256)
    data = bytearray(stored.read_bytes())
    data[100] ^= 0xFF
    stored.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="hash mismatch"):
        client.load_dataset("datasets:/transactions/1")


def test_diff_reports_schema_rows_and_shift(client: Client, transactions: pd.DataFrame) -> None:
    client.add_dataset("transactions", transactions)
    shifted = transactions.assign(amount=transactions["amount"] + 200).drop(columns=["fraud"])
    shifted["channel"] = "web"
    client.add_dataset("transactions", shifted.head(1500))
    result = client.diff_datasets("transactions", 1, 2)
    assert result["rows"] == {"from": 2000, "to": 1500}
    assert result["added_columns"] == ["channel"] and result["removed_columns"] == ["fraud"]
    assert result["distribution_shift"]["amount"]["shifted"]
    assert not result["distribution_shift"]["country"]["shifted"]


def test_validation_catches_each_kind_of_problem_with_counts_and_examples(
    client: Client, transactions: pd.DataFrame
) -> None:
    client.add_dataset("transactions", transactions)
    spec = client.expectations("transactions", infer_from=1)
    spec["columns"]["amount"].update(min=0, max=2000)
    spec["columns"]["id"]["unique"] = True
    spec["rows"] = {"min": 100}
    client.set_expectations("transactions", spec)
    assert client.validate_dataset("transactions", transactions).ok
    bad = transactions.head(50).copy()
    bad.loc[3, "amount"] = None  # null in a non-nullable column
    bad.loc[[5, 6], "amount"] = [-1.0, 99999.0]  # out of range
    bad.loc[7, "country"] = "XX"  # unseen category
    bad.loc[8, "id"] = 9  # duplicate key
    bad["fraud"] = bad["fraud"].astype(str)  # wrong dtype
    report = client.validate_dataset("transactions", bad)
    failures = {(f.rule, f.column): f for f in report.failures}
    assert not report.ok
    assert failures[("not_nullable", "amount")].count == 1
    assert failures[("not_nullable", "amount")].examples[0]["row"] == 3
    assert failures[("min", "amount")].count == 1 and failures[("max", "amount")].count == 1
    assert failures[("allowed", "country")].examples[0]["country"] == "XX"
    assert failures[("unique", "id")].count == 2
    assert ("dtype", "fraud") in failures
    assert any(rule.startswith("rows >= 100") for rule, _ in failures)


def test_lineage_answers_both_directions(
    client: Client, transactions: pd.DataFrame, fitted_pipeline, breast_cancer
) -> None:
    from sklearn.linear_model import LogisticRegression

    client.add_dataset("transactions", transactions)
    client.add_dataset("transactions", transactions.head(1000))
    with client.start_run("train") as run:
        data = client.load_dataset("datasets:/transactions/2")
        model = LogisticRegression().fit(data[["amount"]], data["fraud"])
        version = run.register_model(model, name="fraud", sample_input=data[["amount"]][:20])
    client.set_alias("fraud", "champion", version.version)
    client.create_deployment("fraud", "fraud@champion")
    upstream = client.lineage("models:/fraud@champion").to_dict()
    run_node = next(c for c in upstream["children"] if c["kind"] == "run")
    assert run_node["children"][0]["id"] == "datasets:/transactions/2"
    assert any(c["kind"] == "deployment" and c["id"] == "fraud" for c in upstream["children"])
    downstream = client.lineage("datasets:/transactions/2").to_dict()
    model_node = downstream["children"][0]["children"][0]
    assert model_node["id"] == "models:/fraud/1"
    assert model_node["children"][0] == {
        "kind": "deployment",
        "id": "fraud",
        "detail": "single policy, serves now",
        "children": [],
    }
    assert client.lineage("datasets:/transactions/1").to_dict()["children"] == []


def test_bad_input_is_refused_and_nothing_half_written(
    client: Client, tmp_path, transactions: pd.DataFrame
) -> None:
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InvalidInput, match="empty"):
        client.add_dataset("d", tmp_path / "empty.csv")
    (tmp_path / "garbage.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(InvalidInput, match=r"cannot read garbage\.parquet"):
        client.add_dataset("d", tmp_path / "garbage.parquet")
    folder = tmp_path / "mixed"
    folder.mkdir()
    transactions.head(5).to_csv(folder / "a.csv", index=False)
    transactions.head(5).drop(columns=["fraud"]).to_csv(folder / "b.csv", index=False)
    with pytest.raises(InvalidInput, match="mixed schemas"):
        client.add_dataset("d", folder)
    with pytest.raises(InvalidInput, match="invalid dataset name"):
        client.add_dataset("../x", transactions)
    with pytest.raises(InvalidInput, match="does not exist"):
        client.add_dataset("d", tmp_path / "nope.csv")
    assert client.list_datasets() == []
    with pytest.raises(NotFound, match="dataset 'd' does not exist"):
        client.get_dataset("d")
    with pytest.raises(InvalidURI):
        client.load_dataset("datasets:/")


def test_a_folder_of_files_is_one_version(
    client: Client, tmp_path, transactions: pd.DataFrame
) -> None:
    folder = tmp_path / "parts"
    folder.mkdir()
    transactions.head(700).to_parquet(folder / "part-0.parquet")
    transactions.iloc[700:].to_parquet(folder / "part-1.parquet")
    record = client.add_dataset("parts", folder)
    assert record.kind == "folder" and record.rows == 2000
    assert client.add_dataset("parts", folder).version == 1
    assert len(client.load_dataset("datasets:/parts/1")) == 2000


def test_cleaning_is_recorded_and_replayed_identically(
    client: Client, transactions: pd.DataFrame
) -> None:
    from shipyard.datasets.cleaning import apply_cleaning

    raw = transactions.copy()
    raw.loc[[1, 2], "amount"] = None
    raw.loc[3, "country"] = None
    client.add_dataset("tx", raw)
    cleaned = client.clean_dataset("tx", 1, {"amount": "median", "country": "mode"})
    assert cleaned.version == 2 and cleaned.derived["from"] == 1
    median = raw["amount"].median()
    assert cleaned.derived["fill_values"]["amount"] == pytest.approx(median)
    data = client.load_dataset("datasets:/tx/2")
    assert data["amount"].isna().sum() == 0 and data.loc[1, "amount"] == pytest.approx(median)
    serving_rows = pd.DataFrame({"id": [1], "amount": [None], "country": [None], "fraud": [0]})
    replayed = apply_cleaning(serving_rows, cleaned.derived)
    assert replayed.loc[0, "amount"] == pytest.approx(median)
    assert replayed.loc[0, "country"] == cleaned.derived["fill_values"]["country"]
    with pytest.raises(InvalidInput, match="needs a numeric column"):
        client.clean_dataset("tx", 1, {"country": "mean"})


def test_dataset_expectations_also_validate_serving_input(
    client: Client, transactions: pd.DataFrame
) -> None:
    from fastapi.testclient import TestClient
    from sklearn.linear_model import LogisticRegression

    from shipyard.config import ServerSettings
    from shipyard.server.app import create_app

    client.add_dataset("transactions", transactions)
    spec = client.expectations("transactions", infer_from=1)
    spec["columns"]["amount"].update(min=0, max=2000)
    client.set_expectations("transactions", spec)
    features = transactions[["amount"]]
    model = LogisticRegression().fit(features, transactions["fraud"])
    client.register_model(model, name="fraud", sample_input=features[:50])
    client.create_deployment("fraud", "fraud/1")
    client.set_deployment_expectations("fraud", "transactions")
    with TestClient(create_app(ServerSettings(), client=client), headers=bearer(client)) as server:
        ok = server.post("/v1/deployments/fraud/predict", json={"inputs": [{"amount": 12.5}]})
        assert ok.status_code == 200
        bad = server.post(
            "/v1/deployments/fraud/predict", json={"inputs": [{"amount": 12.5}, {"amount": 9999.0}]}
        )
    assert bad.status_code == 422
    message = bad.json()["error"]["message"]
    assert "row 1, column 'amount'" in message and "expected maximum 2000" in message
    with pytest.raises(NotFound, match="no expectations"):
        client.set_deployment_expectations("fraud", "unknown")
