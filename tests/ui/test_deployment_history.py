"""The Deployment page's history: served predictions show up in its charts, its latest
predictions (with the labels that arrived) and its feedback coverage; the summary of the
prediction log reads each segment once."""

from __future__ import annotations

import json
import re
import time

import numpy as np
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.monitoring.predlog import PredictionLogger
from shipyard.monitoring.predlog_summary import PredlogSummaries, latency_quantile
from shipyard.store.artifacts import ArtifactStore
from tests.ui.conftest import sign_in, token_of, wait_until


def _chart(html: str, chart_id: str) -> dict:
    found = re.search(rf'<script type="application/json" id="{chart_id}">(.*?)</script>', html)
    assert found, f"no chart {chart_id!r} on the page"
    return json.loads(found.group(1))


def test_served_predictions_appear_in_the_history(
    http: TestClient, workspace: Client, breast_cancer
) -> None:
    X, _ = breast_cancer
    admin = {"authorization": f"Bearer {token_of(workspace, 'admin', http)}"}
    ids = []
    for size in (1, 3, 2):
        answer = http.post(
            "/v1/deployments/cancer/predict",
            json={"inputs": X[:size].to_dict(orient="records")},
            headers=admin,
        )
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["request_id"])
    workspace.add_feedback("cancer", [{"request_id": ids[1], "row": 0, "label": 1}])

    def shown() -> bool:
        return ids[-1] in http.get("/ui/deployments/cancer", headers=admin).text

    wait_until(shown, timeout_s=10)  # the prediction log's writer flushed
    page = http.get("/ui/deployments/cancer", headers=admin)
    assert page.status_code == 200
    html = page.text
    traffic = _chart(html, "traffic")
    assert traffic["time"] is True
    v1 = next(s for s in traffic["series"] if s["label"] == "v1")
    assert sum(v or 0 for v in v1["values"]) >= 3  # three requests, per minute
    latency = _chart(html, "latency")
    assert [s["label"] for s in latency["series"]] == ["p50", "p90", "p99"]
    assert any(v for v in latency["series"][2]["values"])
    sizes = _chart(html, "sizes")
    assert sizes["series"][0]["values"]
    assert "Rows per request" in html and "<td>3-4</td>" in html
    for request_id in ids:
        assert f"<code>{request_id}</code>" in html  # the latest predictions
    labelled = html.split(f"<code>{ids[1]}</code></td><td>0</td>", 1)[1].split("</tr>", 1)[0]
    assert "<td>1</td>" in labelled  # its label arrived
    unlabelled = html.split(f"<code>{ids[0]}</code>", 1)[1].split("</tr>", 1)[0]
    assert "no label yet" in unlabelled
    assert re.search(r"1 with feedback of \d+ logged row", html)  # feedback coverage
    assert 'id="live-history" data-live="5"' in html  # refreshed while the tab is visible
    assert "Error rate" in html
    assert "Micro-batches" in html and "cancer/1" in html  # model calls, this process


def test_viewers_see_the_rows_and_predictors_not_the_page(
    http: TestClient, workspace: Client
) -> None:
    cookie = sign_in(http, token_of(workspace, "viewer", http))
    page = http.get("/ui/deployments/cancer", headers=cookie)
    assert page.status_code == 200  # viewers may read logged predictions
    assert "Latest predictions" in page.text
    assert "may not read logged predictions" not in page.text
    predictor = {"authorization": f"Bearer {token_of(workspace, 'predictor', http)}"}
    assert http.get("/ui/deployments/cancer", headers=predictor).status_code == 403


def test_the_summary_reads_only_new_segments_and_forgets_removed_ones(tmp_path) -> None:
    artifacts = ArtifactStore(str(tmp_path / "a"))
    log = PredictionLogger(artifacts)
    rng = np.random.default_rng(0)
    now = int(time.time() * 1000)

    def write(count: int, version: int, size: int, latency_ms: float, at: int) -> None:
        for i in range(count):
            rows = rng.normal(size=(size, 2))
            log._queue.append(  # the writer's own record shape, with a chosen time
                (
                    "d",
                    version,
                    "primary" if version == 1 else "shadow:d/2",
                    f"r{version}-{at}-{i}",
                    at,
                    latency_ms,
                    ("a", "b"),
                    rows,
                    np.zeros(size, int),
                    None,
                    None,
                )
            )
        log.flush()

    write(10, 1, 1, 2.0, now - 120_000)
    summaries = PredlogSummaries(artifacts)
    first = summaries.refresh("d")
    assert (first.rows, first.segments) == (10, 1)
    write(5, 1, 4, 20.0, now)
    write(3, 2, 1, 5.0, now)  # shadow calls: counted apart
    second = summaries.refresh("d")
    assert (second.rows, second.primary_rows, second.segments) == (33, 30, 3)
    arms = {(arm.version, arm.shadow): arm for arm in second.arms}
    assert arms[(1, False)].requests.sum() == 15 and arms[(1, False)].rows.sum() == 30
    assert arms[(2, True)].requests.sum() == 3
    p50 = latency_quantile(arms[(1, False)].latency, 0.5)
    assert p50 is not None and 1.5 < p50 < 2.6  # ten of fifteen requests took 2 ms
    assert second.steps[-1] - second.steps[0] >= 120  # minutes two minutes apart
    assert list(second.sizes()[:3]) == [10, 0, 5]  # ten single rows, five of 3-4
    latest = summaries.latest("d", 4)
    assert latest is not None and latest.num_rows == 4
    assert set(latest["at_ms"].to_pylist()) == {now}  # the newest rows, shadow left out
    assert latest["row"].to_pylist() == [0, 1, 2, 3]
    chosen = summaries.latest("d", 2, ("at_ms", "row", "arm", "in.a", "not.logged"))
    assert chosen is not None and chosen.column_names == ["at_ms", "row", "arm", "in.a"]
    oldest = min(artifacts.list_paths("predictions/deployment=d"))
    (tmp_path / "a" / oldest).unlink()  # retention removed a segment
    third = summaries.refresh("d")
    assert third.segments == 2 and third.rows == 23


def test_latency_quantiles_interpolate_within_a_bin() -> None:
    from shipyard.monitoring.predlog_summary import LATENCY_BINS, LATENCY_EDGES_MS

    histogram = np.zeros(LATENCY_BINS, np.int64)
    assert latency_quantile(histogram, 0.5) is None
    index = int(np.searchsorted(LATENCY_EDGES_MS, 10.0))
    histogram[index] = 100
    value = latency_quantile(histogram, 0.99)
    assert value is not None
    assert LATENCY_EDGES_MS[index - 1] <= value <= LATENCY_EDGES_MS[index]


def test_per_step_quantiles_match_the_single_histogram_ones() -> None:
    from shipyard.monitoring.predlog_summary import LATENCY_BINS, TrafficSummary

    rng = np.random.default_rng(1)
    matrix = rng.integers(0, 5, size=(6, LATENCY_BINS))
    matrix[2] = 0  # a step without requests
    summary = TrafficSummary("d", np.arange(6), [], matrix, 1, 0, 0, None, None)
    for q in (0.5, 0.9, 0.99):
        expected = [latency_quantile(row, q) for row in matrix]
        got = summary.quantiles_ms(q)
        assert got[2] is None and expected[2] is None
        assert np.allclose([g for g in got if g], [e for e in expected if e])
