"""Searching and comparing runs with metric/param/tag expressions."""

from __future__ import annotations

import pytest

from shipyard import Client
from shipyard.errors import ExperimentNotFound, InvalidFilter, InvalidInput


@pytest.fixture
def runs(client: Client) -> dict[str, str]:
    ids = {}
    for name, c, auc, tag in [
        ("a", "1.0", 0.95, "x"),
        ("b", "0.1", 0.85, "y"),
        ("c", "1.0", 0.80, "x"),
        ("d", "10", 0.99, None),
    ]:
        tags = {"group": tag} if tag else {}
        with client.start_run("search", params={"C": c}, tags=tags, name=name) as run:
            run.log_metrics({"auc": auc, "loss": 1 - auc})
        ids[name] = run.id
    with client.start_run("other", params={"C": "1.0"}, name="elsewhere") as run:
        run.log_metric("auc", 0.97)
    return ids


def names(found) -> list[str]:
    return [run.name for run in found]


def test_filter_by_metric_and_param(client: Client, runs) -> None:
    found = client.search_runs("search", "metrics.auc > 0.9 and params.C = '1.0'")
    assert names(found) == ["a"]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("metrics.auc >= 0.85", {"a", "b", "d"}),
        ("metrics.auc < 0.85 or params.C = '10'", {"c", "d"}),
        ("(params.C = '1.0' or params.C = '0.1') and metrics.loss <= 0.16", {"b", "a"}),
        ("tags.group = 'x'", {"a", "c"}),
        ("tags.group != 'x'", {"b", "d"}),
        ("params.C IN ('0.1', '10')", {"b", "d"}),
        ("params.C NOT IN ('0.1', '10')", {"a", "c"}),
        ("name LIKE 'a%' or attributes.run_name = 'c'", {"a", "c"}),
        ("status = 'FINISHED' and metrics.auc > 0.98", {"d"}),
        ("metrics.`auc` == 0.95", {"a"}),
        ("metrics.missing > 0", set()),
    ],
)
def test_expressions(client: Client, runs, expression: str, expected: set[str]) -> None:
    assert set(names(client.search_runs("search", expression))) == expected


def test_order_and_limit(client: Client, runs) -> None:
    assert names(client.search_runs("search", order_by="metrics.auc DESC")) == ["d", "a", "b", "c"]
    assert names(
        client.search_runs("search", order_by=["params.C", "metrics.auc"], max_results=2)
    ) == ["b", "c"]
    assert len(client.search_runs(None)) == 5  # every experiment
    assert set(names(client.search_runs(["search", "other"], "metrics.auc > 0.96"))) == {
        "d",
        "elsewhere",
    }


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("metrics.auc > 'high'", "numeric"),
        ("params.C = 1.0", "quote the value"),
        ("metrics.auc >", "ends too early"),
        ("auc > 0.9", "unknown key"),
        ("foo.auc > 0.9", "unknown prefix"),
        ("metrics.auc > 0.9 and", "ends too early"),
        ("metrics.auc ~ 0.9", "cannot read"),
        ("(metrics.auc > 0.9", "ends too early"),
        ("metrics.auc LIKE '0.9'", "text key"),
        ("metrics.auc > 0.9 extra", "unexpected"),
    ],
)
def test_bad_filters_say_what_is_wrong(sqlite_client: Client, expression, message) -> None:
    with pytest.raises(InvalidFilter, match=message):
        sqlite_client.search_runs(None, expression)


def test_unknown_experiment_and_bad_limits(sqlite_client: Client) -> None:
    with pytest.raises(ExperimentNotFound, match="nope"):
        sqlite_client.search_runs("nope")
    with pytest.raises(InvalidInput, match="max_results"):
        sqlite_client.search_runs(None, max_results=0)
    with pytest.raises(InvalidFilter, match="direction"):
        sqlite_client.search_runs(None, order_by="metrics.auc SIDEWAYS")


def test_compare_lines_up_params_and_metrics(client: Client, runs) -> None:
    comparison = client.compare_runs([runs["a"], runs["b"]])
    assert comparison.params == {"C": ["1.0", "0.1"]}
    assert comparison.metrics["auc"] == [0.95, 0.85]
    assert comparison.to_dict()["runs"][0]["name"] == "a"
