"""The Model pages: models list, one model (versions, aliases, history, metrics across
versions, lineage) and one version (card, signature, run, reports, importance)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.config import ServerSettings, StoreSettings
from shipyard.registry.service import DERIVED_FROM_TAG, OPTIMIZE_TAG
from shipyard.server.app import create_app
from shipyard.server.ui.models_pages import IMPORTANCE_TAG, lineage_flow, render_card
from shipyard.store.registry_store import RegistryStore
from tests.ui.conftest import sign_in, wait_until

REPORT = {
    "version": "models:/fraud/3",
    "flavor": "onnx",
    "derived_from": "models:/fraud/2",
    "input_dtype": "float32",
    "fallback_reason": "",
    "parity": {
        "compared": "probability",
        "max_diff": 2.5e-7,
        "threshold": 1e-5,
        "label_flips": 0,
        "rows": 1000,
        "passed": True,
    },
    "latency": {
        "source_1_row_ms": 0.41,
        "onnx_1_row_ms": 0.05,
        "speedup_1_row": 8.2,
        "source_1000_rows_ms": 2.0,
        "onnx_1000_rows_ms": 0.5,
        "speedup_1000_rows": 4.0,
    },
    "quantization": {"status": "not applicable"},
}


@pytest.fixture(scope="module")
def models_ws(tmp_path_factory: pytest.TempPathFactory, fitted_pipeline, breast_cancer):
    """``fraud``: v1 and v2 from runs (auc 0.81, 0.86) on datasets:/transactions/1, v2 the
    champion after v1, v2 deployed; v3 an "optimized" v2 with its reports; v2's global
    importance stored. ``other``: one version, for narrowed tokens."""
    X, _ = breast_cancer
    home: Path = tmp_path_factory.mktemp("ui-models") / "ws"
    client = Client(settings=StoreSettings(home=home, user="tester"))
    client.add_dataset("transactions", X.head(100))
    for auc in (0.81, 0.86):
        with client.start_run("fraud-exp", name=f"auc-{auc}") as run:
            run.log_metrics({"auc": auc, "f1": auc - 0.1})
            run.log_input("transactions", 1, "abc123")
        client.register_model(fitted_pipeline, name="fraud", sample_input=X[:20], run_id=run.id)
    client.register_model(
        fitted_pipeline,
        name="fraud",
        sample_input=X[:20],
        tags={DERIVED_FROM_TAG: "models:/fraud/2", OPTIMIZE_TAG: json.dumps(REPORT)},
    )
    client.set_description("fraud", "Flags card fraud <b>before</b> it settles.")
    client.set_model_tag("fraud", "team", "risk")
    client.set_alias("fraud", "champion", 1)
    client.set_alias("fraud", "champion", 2)
    client.create_deployment("fraud-live", "fraud@champion")
    importance = {
        "model": "fraud",
        "version": 2,
        "deployment": "fraud-live",
        "values": {"mean radius": 0.5, "mean texture": 0.25},
        "rows": 400,
        "available_rows": 900,
        "method": "linear",
        "output_space": "log-odds",
        "computed_at": int(time.time() * 1000),
    }
    stored = client.store.artifacts.put_bytes(json.dumps(importance).encode())
    client.set_version_tag("fraud", 2, IMPORTANCE_TAG, stored.sha256)
    client.register_model(fitted_pipeline, name="other", sample_input=X[:20])
    yield client
    client.close()


@pytest.fixture(scope="module")
def web(models_ws: Client) -> Iterator[TestClient]:
    app = create_app(ServerSettings(pipelines=False, poll_interval_s=0.05), client=models_ws)
    with TestClient(app, follow_redirects=False) as test_client:
        yield test_client


def _bearer(
    client: Client, web: TestClient, role: str, probe: str = "/version", **scope: object
) -> dict[str, str]:
    """A new token's bearer header, once the server's token table knows it (``probe``: a
    route it may use; a narrowed token reaches only pages of its own models)."""
    made = client.create_token(f"ui-{role}-{time.monotonic_ns()}", role, **scope)  # type: ignore[arg-type]
    headers = {"authorization": f"Bearer {made.token}"}
    wait_until(lambda: web.get(probe, headers=headers).status_code == 200)
    return headers


@pytest.fixture(scope="module")
def viewer(models_ws: Client, web: TestClient) -> dict[str, str]:
    return _bearer(models_ws, web, "viewer")


def _text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_models_list_links_every_model_with_its_aliases(
    web: TestClient, viewer: dict[str, str]
) -> None:
    page = web.get("/ui/models", headers=viewer)
    assert page.status_code == 200
    assert '<a href="/ui/models/fraud">fraud</a>' in page.text
    assert '<a href="/ui/models/other">other</a>' in page.text
    text = _text(page.text)
    assert "champion → v2" in text and "v3" in text
    assert "shipyard models list" in text


def test_model_page_shows_versions_aliases_history_tags_and_the_champion(
    web: TestClient, viewer: dict[str, str], models_ws: Client
) -> None:
    page = web.get("/ui/models/fraud", headers=viewer)
    assert page.status_code == 200
    html, text = page.text, _text(page.text)
    assert "shipyard models show fraud" in text
    # the description is escaped, not markup
    assert "Flags card fraud &lt;b&gt;before&lt;/b&gt; it settles." in html
    assert "<b>before</b>" not in html
    assert "team" in text and "risk" in text
    # versions newest first, each linked, with its run linked to the runs page
    table = html.split('id="versions"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r'<a href="/ui/models/fraud/versions/(\d+)">v\d+</a>', table)
    assert rows[:3] == ["3", "2", "1"]
    run_id = models_ws.get_model_version("fraud", 2).run_id
    assert f'<a href="/ui/runs/{run_id}">' in html
    # alias history, newest first, as words
    assert text.index("v1 → v2") < text.index("set to v1")
    # metrics across versions: the chart's data and the table of the same numbers
    assert 'data-chart="metrics-by-version"' in html
    data = json.loads(re.search(r'id="metrics-by-version">(.*?)</script>', html).group(1))
    assert data["x"] == [1.0, 2.0] and {s["label"] for s in data["series"]} == {"auc", "f1"}
    assert [s["values"] for s in data["series"] if s["label"] == "auc"] == [[0.81, 0.86]]
    # the champion in detail: signature, importance, lineage, card
    assert "The champion: v2" in text
    assert "mean radius" in text and "Output: classification" in text
    assert '<meter min="0" max="1" value="1.0"' in html  # the most important column
    assert "Model card" in text and html.count("<h1>") == 1  # the card's headings sit below
    # optimized versions on the page: parity and latency, the verdict as a word
    assert "v3 optimized from models:/fraud/2" in text
    assert "parity passed" in text and "8.2\N{MULTIPLICATION SIGN}" in text


def test_lineage_runs_from_the_dataset_to_the_deployment(
    web: TestClient, viewer: dict[str, str], models_ws: Client
) -> None:
    # the deployment's prediction log, as partition folders (no segments a reader would
    # try to parse): the lineage counts hours by folder, never by listing every segment
    log = Path(models_ws.store.artifacts.root) / "predictions" / "deployment=fraud-live"
    for hour in ("07", "08"):
        (log / "date=2026-11-30" / f"hour={hour}").mkdir(parents=True)
    html = web.get("/ui/models/fraud/versions/2", headers=viewer).text
    assert "2 logged hour(s): date=2026-11-30/hour=07 … date=2026-11-30/hour=08" in html
    lineage = html.split('class="lineage"', 1)[1].split("</ol>", 1)[0]
    data = lineage.index('href="/ui/datasets/transactions?version=1"')
    run = lineage.index('href="/ui/runs/')
    version = lineage.index('href="/ui/models/fraud/versions/2"')
    deployment = lineage.index('href="/ui/deployments/fraud-live"')
    assert data < run < version < deployment
    # v3 was derived from v2: it appears beside v2, not its deployments or runs
    assert 'href="/ui/models/fraud/versions/3"' in lineage


def test_lineage_flow_puts_each_kind_in_its_stage() -> None:
    tree = {
        "kind": "model",
        "id": "models:/m/2",
        "detail": "",
        "children": [
            {
                "kind": "model",
                "id": "models:/m/1",
                "detail": "derived from",
                "children": [{"kind": "run", "id": "r-old", "detail": "", "children": []}],
            },
            {
                "kind": "run",
                "id": "r1",
                "detail": "",
                "children": [
                    {"kind": "dataset", "id": "datasets:/d/4", "detail": "", "children": []}
                ],
            },
            {"kind": "rollout", "id": "7", "detail": "candidate in live: running", "children": []},
        ],
    }
    flow = lineage_flow(tree)
    assert [n["id"] for n in flow["dataset"]] == ["datasets:/d/4"]
    assert [n["id"] for n in flow["run"]] == ["r1"]  # not the derived source's run
    assert [n["href"] for n in flow["model"]] == [
        "/ui/models/m/versions/2",
        "/ui/models/m/versions/1",
    ]
    assert flow["deployment"][0]["href"] == "/ui/rollouts/live"


def test_version_page_shows_one_version_in_full(web: TestClient, viewer: dict[str, str]) -> None:
    page = web.get("/ui/models/fraud/versions/3", headers=viewer)
    assert page.status_code == 200
    text = _text(page.text)
    assert "fraud v3" in text and "shipyard models show fraud --version 3" in text
    assert "Optimization: parity and latency" in text and "1,000 rows" in text
    assert "Derived from models:/fraud/2" in text
    assert "Not computed yet" in text  # no importance for v3
    assert OPTIMIZE_TAG not in text  # the report is its own section, not a raw tag
    latest = web.get("/ui/models/fraud/versions/latest", headers=viewer)
    assert latest.status_code == 200 and "fraud v3" in _text(latest.text)


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/ui/models/nope", 404, "model 'nope' does not exist"),
        ("/ui/models/nope/versions/1", 404, "model 'nope' does not exist"),
        ("/ui/models/fraud/versions/99", 404, "model 'fraud' has no version 99"),
        ("/ui/models/fraud/versions/first", 400, "version must be a positive integer"),
        ("/ui/models/fraud?page=0", 400, "page must be a whole number"),
        ("/ui/models?page=x", 400, "page must be a whole number"),
    ],
)
def test_unknown_models_and_bad_input_are_clear_pages(
    web: TestClient, viewer: dict[str, str], path: str, status: int, message: str
) -> None:
    page = web.get(path, headers=viewer)
    assert page.status_code == status
    assert page.headers["content-type"].startswith("text/html")
    assert message in page.text.replace("&#39;", "'")


def test_a_token_narrowed_to_another_model_is_refused(web: TestClient, models_ws: Client) -> None:
    narrowed = _bearer(models_ws, web, "viewer", "/ui/models/other", models=["other"])
    assert web.get("/ui/models/other/versions/1", headers=narrowed).status_code == 200
    assert web.get("/ui/models", headers=narrowed).status_code == 403  # lists are out of reach
    for path in ("/ui/models/fraud", "/ui/models/fraud/versions/2"):
        refused = web.get(path, headers=narrowed)
        assert refused.status_code == 403, path
        assert "Flags card fraud" not in refused.text and "champion" not in refused.text
    # signed in through a session cookie too
    made = models_ws.create_token(f"ui-narrow-{time.monotonic_ns()}", "viewer", models=["other"])
    wait_until(
        lambda: (
            web.get(
                "/ui/models/other", headers={"authorization": f"Bearer {made.token}"}
            ).status_code
            == 200
        )
    )
    cookie = sign_in(web, made.token)
    assert web.get("/ui/models/fraud", headers=cookie).status_code == 403
    assert web.get("/ui/models/other", headers=cookie).status_code == 200


def test_anonymous_browsers_are_sent_to_sign_in(web: TestClient) -> None:
    web.cookies.clear()
    answer = web.get("/ui/models/fraud")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/login")


def test_versions_are_paged_in_the_store_newest_first(
    tmp_path: Path, fitted_pipeline, breast_cancer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """45 versions: page 1 holds v45..v26, page 3 v5..v1 and no next link; no page loads
    every version in full (the cost of a page must not grow with the number of versions)."""
    X, _ = breast_cancer
    hydrated: list[int] = []
    hydrate = RegistryStore._hydrate

    def counting(self, session, name, model_id, rows):  # type: ignore[no-untyped-def]
        hydrated.append(len(rows))
        return hydrate(self, session, name, model_id, rows)

    monkeypatch.setattr(RegistryStore, "_hydrate", counting)
    with Client(settings=StoreSettings(home=tmp_path / "ws", user="t")) as client:
        first = client.register_model(fitted_pipeline, name="many", sample_input=X[:20])
        for _ in range(44):
            client.register_package(first.sha256, name="many")
        app = create_app(ServerSettings(pipelines=False, auth=False), client=client)
        with TestClient(app, follow_redirects=False) as local:
            pages = []
            for number in (1, 2, 3):
                html = local.get(f"/ui/models/many?page={number}").text
                pages.append(
                    [
                        int(v)
                        for v in re.findall(r'<a href="/ui/models/many/versions/(\d+)">v', html)
                    ]
                )
                if number == 1:
                    assert 'href="/ui/models/many?page=2" rel="next"' in html
                if number == 3:
                    assert 'rel="next"' not in html and 'href="/ui/models/many?page=2"' in html
            assert pages[0][:20] == list(range(45, 25, -1))
            assert pages[2][:5] == [5, 4, 3, 2, 1]
            assert "No versions on page 4" in local.get("/ui/models/many?page=4").text
            hydrated.clear()
            assert local.get("/ui/models/many").status_code == 200
            assert local.get("/ui/models/many/versions/7").status_code == 200
            assert hydrated and max(hydrated) <= 21


def test_a_model_card_keeps_the_page_outline_and_escapes_html() -> None:
    html = str(render_card("# Card\n\n## Data\n\n<script>x()</script> **bold**", under=3))
    assert "<h3>Card</h3>" in html and "<h4>Data</h4>" in html and "<h1>" not in html
    assert "<script>" not in html and "&lt;script&gt;" in html and "<strong>bold</strong>" in html
