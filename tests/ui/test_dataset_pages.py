"""The Datasets pages: every dataset's newest version, and one dataset's versions, schema,
profile, diff between two versions, expectations and validation."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings, StoreSettings
from shipyard.server.app import create_app
from tests.ui.conftest import sign_in, wait_until


@pytest.fixture(scope="module")
def data_ws(tmp_path_factory: pytest.TempPathFactory, fitted_pipeline, breast_cancer):
    """``payments``: v1 (amount 0..99, country DE/FR), v2 (amounts times 10, a new column
    ``channel``), v3 (one negative amount); expectations: amount ≥ 0; a run read v2 and
    registered ``scorer`` v1, which the deployment ``scoring`` serves. ``users``: one
    version."""
    X, _ = breast_cancer
    home: Path = tmp_path_factory.mktemp("ui-datasets") / "ws"
    client = Client(settings=StoreSettings(home=home, user="tester"))
    first = pd.DataFrame({"amount": [float(i) for i in range(100)], "country": ["DE", "FR"] * 50})
    client.add_dataset("payments", first)
    second = first.assign(amount=first.amount * 10, channel=["web"] * 100)
    client.add_dataset("payments", second)
    client.add_dataset("payments", second.assign(amount=[-5.0, *second.amount[1:]]))
    spec = client.expectations("payments", infer_from=2)
    spec["columns"]["amount"]["min"] = 0
    client.set_expectations("payments", spec)
    client.add_dataset("users", pd.DataFrame({"age": [31, 42, 57]}))
    with client.start_run("scoring", name="reads-v2") as run:
        run.log_input("payments", 2, "digest")
        run.register_model(fitted_pipeline, name="scorer", sample_input=X[:20])
    client.create_deployment("scoring", "scorer/1")
    yield client
    client.close()


@pytest.fixture(scope="module")
def web(data_ws: Client) -> Iterator[TestClient]:
    app = create_app(ServerSettings(pipelines=False, poll_interval_s=0.05), client=data_ws)
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def viewer(data_ws: Client, web: TestClient) -> dict[str, str]:
    made = data_ws.create_token(f"ui-viewer-{time.monotonic_ns()}", "viewer")
    cookie = {"authorization": f"Bearer {made.token}"}
    wait_until(lambda: web.get("/version", headers=cookie).status_code == 200)
    return sign_in(web, made.token)


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_datasets_list_shows_each_newest_version(web: TestClient, viewer: dict[str, str]) -> None:
    page = web.get("/ui/datasets", headers=viewer)
    assert page.status_code == 200
    html, text = page.text, _text(page.text)
    assert '<a href="/ui/datasets/payments">payments</a>' in html
    assert '<a href="/ui/datasets/payments?version=3">v3</a>' in html
    assert '<a href="/ui/datasets/users?version=1">v1</a>' in html
    assert "shipyard datasets list" in text
    payments = text.split("payments", 1)[1]
    assert payments.split()[0] == "3"  # three versions


def test_dataset_page_shows_versions_schema_profile_and_changes_from_the_one_before(
    web: TestClient, viewer: dict[str, str]
) -> None:
    page = web.get("/ui/datasets/payments", headers=viewer)
    assert page.status_code == 200
    html, text = page.text, _text(page.text)
    assert "Dataset payments v3" in text
    assert "shipyard datasets show payments --version 3" in text
    versions = re.findall(r'href="/ui/datasets/payments\?version=(\d)"', html)
    assert versions[:3] == ["3", "2", "1"]  # newest first
    assert "v3 (shown)" in text
    # schema and profile of v3
    assert "channel string" in text and "amount float64" in text
    assert "Numeric columns" in text and "Categorical columns" in text
    assert "DE 50 (50.0%)" in text
    # the default diff: v2 → v3
    assert "Changes from v2 to v3" in text
    assert "Validate v3 against the expectations" in text


def test_diff_between_any_two_versions(web: TestClient, viewer: dict[str, str]) -> None:
    page = web.get("/ui/datasets/payments?diff=1..2", headers=viewer)
    assert page.status_code == 200
    text = _text(page.text)
    assert "Changes from v1 to v2" in text
    assert "Added columns channel" in text and "Removed columns none" in text
    shift = text.split("Distribution shift per column", 1)[1]
    assert "amount wasserstein" in shift and "shifted" in shift.split("country")[0]
    assert "country jensenshannon 0 stable" in shift
    assert "shipyard datasets diff payments 1 2" in text
    # the most shifted numeric column's percentiles in both versions, a chart and its table
    data = json.loads(re.search(r'id="quantiles">(.*?)</script>', page.text).group(1))
    assert data["title"].startswith("amount:") and [s["label"] for s in data["series"]] == [
        "v1",
        "v2",
    ]
    low, high = data["series"][0]["values"], data["series"][1]["values"]
    assert low[0] == 0.0 and low[-1] == 99.0 and high[-1] == 990.0
    assert data["x"][0] == 0.0 and data["x"][-1] == 100.0
    assert '<label for="quantile-column">' in page.text
    first = _text(web.get("/ui/datasets/payments?version=1", headers=viewer).text)
    assert "the first version: nothing to compare" in first


def test_validation_runs_on_request_and_names_the_failed_rule(
    web: TestClient, viewer: dict[str, str]
) -> None:
    failed = _text(web.get("/ui/datasets/payments?version=3&validate=1", headers=viewer).text)
    assert "invalid : 1 rule(s) failed on 100 rows" in failed
    assert "amount" in failed.split("Failing rows", 1)[1]
    passed = _text(web.get("/ui/datasets/payments?version=2&validate=1", headers=viewer).text)
    assert "valid : 100 rows meet every expectation" in passed
    assert "amount:" in passed and "min: 0" in passed  # the expectations, as YAML


def test_what_was_built_from_a_version_on_request(web: TestClient, viewer: dict[str, str]) -> None:
    page = web.get("/ui/datasets/payments?version=2", headers=viewer).text
    assert "Show the runs, versions and deployments built from v2" in page
    built = web.get("/ui/datasets/payments?version=2&lineage=1", headers=viewer).text
    flow = built.split('class="lineage"', 1)[1].split("</ol>", 1)[0]
    run = flow.index('href="/ui/runs/')
    version = flow.index('href="/ui/models/scorer/versions/1"')
    deployment = flow.index('href="/ui/deployments/scoring"')
    assert flow.index("datasets:/payments/2") < run < version < deployment
    assert "shipyard lineage datasets:/payments/2" in built
    nothing = web.get("/ui/datasets/payments?version=1&lineage=1", headers=viewer).text
    assert "No run recorded v1 as an input." in nothing


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/ui/datasets/nope", 404, "dataset 'nope' does not exist"),
        ("/ui/datasets/payments?version=9", 404, "dataset 'payments' has no version 9"),
        ("/ui/datasets/payments?version=two", 400, "version must be a positive whole number"),
        ("/ui/datasets/payments?diff=1-2", 400, "diff must look like 1..3"),
        ("/ui/datasets/payments?diff=1..7", 404, "dataset 'payments' has no version 7"),
        ("/ui/datasets?page=-1", 400, "page must be a whole number"),
        ("/ui/datasets/payments?column=country", 400, "'country' is not a numeric column"),
    ],
)
def test_unknown_datasets_and_bad_input_are_clear_pages(
    web: TestClient, viewer: dict[str, str], path: str, status: int, message: str
) -> None:
    page = web.get(path, headers=viewer)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert message in page.text.replace("&#39;", "'")


def test_versions_are_paged(tmp_path: Path) -> None:
    with Client(settings=StoreSettings(home=tmp_path / "ws", user="t")) as client:
        for i in range(25):
            client.add_dataset("ticks", pd.DataFrame({"x": [i, i + 1]}))
        app = create_app(ServerSettings(pipelines=False, auth=False), client=client)
        with TestClient(app, follow_redirects=False) as local:
            second = local.get("/ui/datasets/ticks?page=2").text
            table = second.split('id="versions"', 1)[1].split("</table>", 1)[0]
            shown = [int(v) for v in re.findall(r"\?version=(\d+)\"", table)]
            assert shown == [5, 4, 3, 2, 1]
            assert 'href="/ui/datasets/ticks?version=25&amp;page=1" rel="prev"' in second


def test_a_token_narrowed_to_a_model_cannot_list_datasets(web: TestClient, data_ws: Client) -> None:
    made = data_ws.create_token(f"ui-narrow-{time.monotonic_ns()}", "viewer", models=["fraud"])
    headers = {"authorization": f"Bearer {made.token}"}
    wait_until(lambda: web.get("/ui/datasets", headers=headers).status_code not in (303, 401))
    assert web.get("/ui/datasets", headers=headers).status_code == 403
    assert web.get("/ui/datasets/payments", headers=headers).status_code == 403
    web.cookies.clear()
    anonymous = web.get("/ui/datasets/payments")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/ui/login")
