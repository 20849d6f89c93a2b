"""The Runs pages: the CLI's filter syntax (a bad filter is a 400 page), sorting by a metric,
pages of 50, one run, runs compared with server-downsampled curves, and who may see them."""

from __future__ import annotations

import json
import re
from html import unescape

import numpy as np
import pytest
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.entities import MetricPoint
from shipyard.server.ui.charts import Chart
from shipyard.server.ui.runs_query import PAGE_SIZE
from shipyard.server.ui.shared_axis import add_together
from tests.ui.conftest import sign_in, token_of

EXPERIMENT = "ui-runs"
RUNS = 60  # more than one page


@pytest.fixture(scope="module")
def runs(workspace: Client, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """``RUNS`` runs (params C = index, gamma fixed; metric auc = index / 100) and a run
    ``long`` with a 5,000-point metric, an artifact, an input and a model registered from it.
    Names to ids."""
    ids = {}
    for index in range(RUNS):
        created = workspace.create_run(
            EXPERIMENT, name=f"r{index:02d}", params={"C": str(index), "gamma": "0.1"}
        )
        workspace.log_batch(created.id, metrics=[("auc", index / 100, 0), ("loss", 1.0, 0)])
        workspace.end_run(created.id)
        ids[created.name] = created.id
    notes = tmp_path_factory.mktemp("runs") / "notes.txt"
    notes.write_text("trained on a sample")
    with workspace.start_run("ui-long", name="long", params={"C": "7", "gamma": "0.5"}) as run:
        run.log_batch([MetricPoint("curve", float(step % 97), step, step) for step in range(5000)])
        run.log_metrics({"auc": 0.5})
        run.set_tag("team", "risk")
        run.log_artifact(notes, name="notes.txt")
        run.log_input("cancer-data", 3, "ab" * 32)
    ids["long"] = run.id
    return ids


@pytest.fixture(scope="module")
def viewer(workspace: Client, http: TestClient) -> dict[str, str]:
    return sign_in(http, token_of(workspace, "viewer", http))


def _names(html: str) -> list[str]:
    """Run names in the runs table, in order."""
    return re.findall(r'<td><a href="/ui/runs/[0-9a-f]{32}">([^<]+)</a>', html)


def _charts(html: str) -> dict[str, dict]:
    found = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, re.S)
    return {chart_id: json.loads(text) for chart_id, text in found}


def test_the_filter_is_the_clis_and_a_bad_one_is_a_400_page_that_says_why(
    http: TestClient, runs: dict[str, str], viewer: dict[str, str]
) -> None:
    page = http.get(
        "/ui/runs",
        params={"filter": "params.C = '7' and metrics.auc > 0.05", "experiment": EXPERIMENT},
        headers=viewer,
    )
    assert page.status_code == 200
    assert _names(page.text) == ["r07"]  # "long" has C = 7 too, in another experiment
    assert (
        "shipyard runs list -e ui-runs --filter &#34;params.C = &#39;7&#39; and metrics.auc"
        " &gt; 0.05&#34; --max 50" in page.text
    )
    both = http.get("/ui/runs", params={"filter": "params.C = '7'"}, headers=viewer)
    assert sorted(_names(both.text)) == ["long", "r07"]
    for params, words in [
        ({"filter": "metrics.auc > 'high'"}, "is numeric; compare it with a number"),
        ({"filter": "params.C = "}, "the expression ends too early"),
        ({"filter": "nope.C = '1'"}, "unknown prefix 'nope'"),
        ({"order": "metrics.auc sideways"}, "order takes one key, e.g. metrics.auc"),
        ({"order": "color"}, "unknown key 'color'"),
        ({"dir": "up"}, "dir must be asc or desc"),
        ({"page": "0"}, "page must be a whole number from 1"),
    ]:
        bad = http.get("/ui/runs", params=params, headers=viewer)
        assert bad.status_code == 400, params
        assert words in unescape(bad.text), (params, bad.text[-800:])
        assert 'role="alert"' in bad.text and "<table" not in bad.text
    typed = http.get("/ui/runs", params={"filter": "metrics.auc >", "dir": "up"}, headers=viewer)
    assert 'value="metrics.auc &gt;"' in typed.text  # what was typed stays in the box
    unknown = http.get("/ui/runs", params={"experiment": "nope"}, headers=viewer)
    assert unknown.status_code == 404 and "nope" in unknown.text


def test_sorting_by_a_metric_either_way_with_links_that_work_without_javascript(
    http: TestClient, runs: dict[str, str], viewer: dict[str, str]
) -> None:
    query = {"experiment": EXPERIMENT, "order": "metrics.auc", "dir": "desc"}
    page = http.get("/ui/runs", params=query, headers=viewer)
    assert page.status_code == 200
    assert _names(page.text)[:3] == ["r59", "r58", "r57"]
    assert 'aria-sort="descending"' in page.text and "(descending)" in page.text  # a word
    # the header link sorts the other way; following it gives ascending order
    link = re.search(r'<a href="([^"]+)" aria-label="Sort by metrics.auc">', page.text)
    assert link and "dir=asc" in link.group(1)
    ascending = http.get(unescape(link.group(1)), headers=viewer)
    assert _names(ascending.text)[:3] == ["r00", "r01", "r02"]
    assert "--order-by &#34;metrics.auc ASC&#34;" in ascending.text
    by_param = http.get("/ui/runs", params={**query, "order": "params.C"}, headers=viewer)
    assert _names(by_param.text)[:5] == ["r09", "r08", "r07", "r06", "r59"]  # text: '6' > '59'


def test_pages_of_50_with_previous_and_next_links(
    http: TestClient, runs: dict[str, str], viewer: dict[str, str]
) -> None:
    query = {"experiment": EXPERIMENT, "order": "metrics.auc", "dir": "asc"}
    first = http.get("/ui/runs", params=query, headers=viewer)
    names = _names(first.text)
    assert len(names) == PAGE_SIZE and names[0] == "r00" and names[-1] == "r49"
    assert "Next page" in first.text and "Previous page" not in first.text
    second = http.get("/ui/runs", params={**query, "page": "2"}, headers=viewer)
    assert _names(second.text) == [f"r{i}" for i in range(50, RUNS)]
    assert "Previous page" in second.text and "Next page" not in second.text
    assert "--max 100" in second.text  # the CLI twin lists up to this page
    past = http.get("/ui/runs", params={**query, "page": "9"}, headers=viewer)
    assert past.status_code == 200 and "No runs on page 9" in past.text


def test_choosing_columns(http: TestClient, runs: dict[str, str], viewer: dict[str, str]) -> None:
    default = http.get("/ui/runs", params={"experiment": EXPERIMENT}, headers=viewer)
    assert 'aria-label="Sort by metrics.auc"' in default.text
    chosen = http.get(
        "/ui/runs",
        params={"experiment": EXPERIMENT, "cols": "1", "metric": "loss", "param": "gamma"},
        headers=viewer,
    )
    assert 'aria-label="Sort by metrics.loss"' in chosen.text
    assert 'aria-label="Sort by params.gamma"' in chosen.text
    assert 'aria-label="Sort by metrics.auc"' not in chosen.text
    assert 'aria-label="Sort by params.C"' not in chosen.text


def test_compare_marks_the_params_that_differ_and_downsamples_the_curves(
    http: TestClient, runs: dict[str, str], viewer: dict[str, str]
) -> None:
    ids = [runs["long"], runs["r07"], runs["r08"]]
    page = http.get(f"/ui/runs/compare?ids={','.join(ids)}&metric=curve", headers=viewer)
    assert page.status_code == 200, page.text
    assert f"shipyard runs compare {' '.join(ids)}" in page.text
    rows = dict(re.findall(r'<th scope="row">(\w+)</th>\s*<td>(.*?)</td>', page.text))
    assert rows["C"] == "<strong>differs</strong>" and rows["gamma"] == "<strong>differs</strong>"
    chart = _charts(page.text)["compare-chart"]
    assert [s["label"] for s in chart["series"]] == [f"long ({ids[0][:8]})"]  # only long has it
    values = [v for v in chart["series"][0]["values"] if v is not None]
    assert 900 <= len(values) <= 1000 and len(chart["x"]) <= 1000
    assert chart["x"][0] == 0 and chart["x"][-1] == 4999
    # the list page's checkboxes send ids=a&ids=b
    pair = http.get(
        "/ui/runs/compare", params=[("ids", runs["r07"]), ("ids", runs["r08"])], headers=viewer
    )
    assert pair.status_code == 200
    rows = dict(re.findall(r'<th scope="row">(\w+)</th>\s*<td>(.*?)</td>', pair.text))
    assert rows["C"] == "<strong>differs</strong>" and rows["gamma"] == "same"
    only = http.get(
        "/ui/runs/compare",
        params={"ids": f"{runs['r07']},{runs['r08']}", "only": "diff"},
        headers=viewer,
    )
    assert '<th scope="row">gamma</th>' not in only.text and '<th scope="row">C</th>' in only.text
    auc = _charts(pair.text)["compare-chart"]
    assert len(auc["series"]) == 2 and auc["title"] == "auc per run"
    for query, status, words in [
        ("ids=", 400, "choose at least one run"),
        ("ids=" + ",".join(["x"] * 3 + [f"r{i}" for i in range(30)]), 400, "at most 20"),
        (f"ids={runs['r07']},{'0' * 32}", 404, "does not exist"),
        (f"ids={runs['r07']}&metric=nope", 400, "none of these runs logged the metric 'nope'"),
    ]:
        bad = http.get(f"/ui/runs/compare?{query}", headers=viewer)
        assert bad.status_code == status and words in unescape(bad.text), query


def test_one_run_shows_what_it_recorded_and_its_curves(
    http: TestClient,
    workspace: Client,
    runs: dict[str, str],
    viewer: dict[str, str],
    fitted_pipeline,
    breast_cancer,
) -> None:
    X, _ = breast_cancer
    run_id = runs["long"]
    version = workspace.register_model(
        fitted_pipeline, name="from-long", sample_input=X[:20], run_id=run_id
    )
    page = http.get(f"/ui/runs/{run_id}", headers=viewer)
    assert page.status_code == 200
    text = page.text
    assert f"shipyard runs show {run_id}" in text
    assert "<td>gamma</td><td><code>0.5</code></td>" in text
    assert "<td>team</td><td>risk</td>" in text
    assert "notes.txt" in text and '<a href="/ui/datasets/cancer-data">cancer-data</a>' in text
    assert f'<a href="/ui/models/from-long">from-long</a></td><td>v{version.version}' in text
    assert "finished" in text  # status as a word
    charts = _charts(text)
    assert len(charts) == 2  # auc and curve: every metric up to 6
    curve = next(c for c in charts.values() if c["title"] == "curve")
    assert len(curve["x"]) <= 1000 and curve["x"][-1] == 4999
    only = _charts(http.get(f"/ui/runs/{run_id}?metric=auc", headers=viewer).text)
    assert [c["title"] for c in only.values()] == ["auc"]
    assert http.get(f"/ui/runs/{run_id}?metric=nope", headers=viewer).status_code == 400
    missing = http.get(f"/ui/runs/{'0' * 32}", headers=viewer)
    assert missing.status_code == 404 and "does not exist" in missing.text
    assert 'data-live="5"' not in text  # finished: nothing changes any more
    running = workspace.create_run("ui-live", name="running")
    workspace.log_batch(running.id, metrics=[("val/loss", 0.5, 0), ("val loss", 0.4, 0)])
    live = http.get(f"/ui/runs/{running.id}", headers=viewer)
    assert 'id="run-metrics" data-live="5"' in live.text and "running" in live.text
    listed = http.get(
        "/ui/runs?experiment=ui-live&cols=1&metric=val/loss&metric=val+loss", headers=viewer
    )
    assert 'aria-label="Sort by metrics.val/loss"' in listed.text  # sortable, like --order-by
    assert '<th scope="col">val loss</th>' in listed.text  # not: --order-by cannot name it
    by_slash = http.get("/ui/runs?experiment=ui-live&order=metrics.val/loss", headers=viewer)
    assert by_slash.status_code == 200 and _names(by_slash.text) == ["running"]


def test_the_runs_pages_need_the_read_permission(
    http: TestClient, workspace: Client, runs: dict[str, str], viewer: dict[str, str]
) -> None:
    paths = ["/ui/runs", f"/ui/runs/{runs['r01']}", f"/ui/runs/compare?ids={runs['r01']}"]
    predictor = {"authorization": f"Bearer {token_of(workspace, 'predictor', http)}"}
    for path in paths:
        page = http.get(path, headers=viewer)
        assert page.status_code == 200, path
        # nothing to post from these pages: the only form that posts is signing out
        assert re.findall(r'<form method="post" action="([^"]+)"', page.text) == ["/ui/logout"]
        refused = http.get(path, headers=predictor)
        assert refused.status_code == 403 and "read" in refused.text
        anonymous = http.get(path)
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/ui/login?")


def test_curves_compared_share_at_most_1000_steps_and_keep_each_runs_extremes() -> None:
    rng = np.random.default_rng(0)
    curves = [(f"run {i}", list(range(5000)), rng.normal(size=5000).tolist()) for i in range(20)]
    curves.append(("short", [0, 10], [None, 1.0]))
    chart = add_together(Chart(id="c", title="t"), curves)
    assert len(chart.x) <= 1000 and chart.x[0] == 0 and chart.x[-1] == 4999
    data = json.loads(chart.json())
    assert all(len(s["values"]) == len(data["x"]) for s in data["series"])
    for (_, _, y), series in zip(curves[:-1], chart.series, strict=False):
        shown = [v for v in series.y if v is not None]
        assert max(shown) == max(y) and min(shown) == min(y)  # spikes survive
    assert [v for v in chart.series[-1].y if v is not None] == [1.0]
    few = add_together(Chart(id="d", title="t"), [("a", [1, 2], [3.0, 4.0]), ("b", [2], [5.0])])
    assert few.x == [1.0, 2.0] and few.aligned() == [[3.0, 4.0], [None, 5.0]]
