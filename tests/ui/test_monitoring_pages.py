"""The Monitoring pages: monitors and alerts, drift per feature after a monitor run, a
feature's reference against current distribution, quality beside its estimate."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from shipyard import Client
from tests.ui.conftest import sign_in, token_of, wait_until


def _chart(html: str, chart_id: str) -> dict:
    found = re.search(rf'<script type="application/json" id="{chart_id}">(.*?)</script>', html)
    assert found, f"no chart {chart_id!r} on the page"
    return json.loads(found.group(1))


def test_drift_per_feature_appears_after_a_monitor_run(
    http: TestClient, workspace: Client, breast_cancer
) -> None:
    X, y = breast_cancer
    workspace.set_reference("cancer", 1, X)
    admin = {"authorization": f"Bearer {token_of(workspace, 'admin', http)}"}
    shifted = X[:40].copy()
    shifted["mean radius"] = shifted["mean radius"] * 3  # a feature that drifted
    answer = http.post(
        "/v1/deployments/cancer/predict",
        json={"inputs": shifted.to_dict(orient="records")},
        headers=admin,
    )
    assert answer.status_code == 200, answer.text
    request_id = answer.json()["request_id"]
    workspace.add_feedback(
        "cancer", [{"request_id": request_id, "row": i, "label": int(y.iloc[i])} for i in range(40)]
    )
    workspace.create_monitor(
        "cancer-watch",
        {"deployment": "cancer", "window_s": 3600, "rules": ["drift_share >= 0.01"]},
    )
    wait_until(lambda: len(workspace.predictions("cancer")) >= 40, timeout_s=10)
    values = workspace.run_monitor("cancer-watch")
    assert values["drift_share"] is not None

    cookie = sign_in(http, token_of(workspace, "viewer", http))
    overview = http.get("/ui/monitoring", headers=cookie)
    assert overview.status_code == 200
    assert "cancer-watch" in overview.text and 'href="/ui/monitoring/cancer"' in overview.text
    assert "drift_share" in overview.text  # the alert the rule raised, with its status word
    assert "firing" in overview.text
    assert "shipyard monitor list" in overview.text

    page = http.get("/ui/monitoring/cancer", headers=cookie)
    assert page.status_code == 200, page.text
    html = page.text
    drift = _chart(html, "drift")
    labels = {s["label"] for s in drift["series"]}
    assert "mean radius" in labels and "score" in labels
    assert "drifted" in html and "stable" in html  # words, not only colours
    # The default feature is the most drifted one: its distributions are compared.
    assert "Reference against current: mean radius" in html
    dist = _chart(html, "distribution")
    assert [s["label"] for s in dist["series"]] == ["reference", "current"]
    quality = _chart(html, "quality")
    assert {"accuracy", "estimated accuracy (no labels)"} <= {s["label"] for s in quality["series"]}
    assert "shipyard monitor report cancer" in html
    assert 'data-live="5"' in html

    chosen = http.get("/ui/monitoring/cancer", params={"feature": "mean texture"}, headers=cookie)
    assert chosen.status_code == 200
    assert "Reference against current: mean texture" in chosen.text


def test_an_unknown_feature_or_deployment_is_a_clear_4xx_page(
    http: TestClient, workspace: Client
) -> None:
    cookie = sign_in(http, token_of(workspace, "viewer", http))
    bad = http.get("/ui/monitoring/cancer", params={"feature": "nope"}, headers=cookie)
    assert 400 <= bad.status_code < 500
    assert bad.headers["content-type"].startswith("text/html")
    assert "has no feature &#39;nope&#39;" in bad.text and "mean radius" in bad.text
    missing = http.get("/ui/monitoring/nope", headers=cookie)
    assert missing.status_code == 404 and "does not exist" in missing.text


def test_a_predictor_may_not_read_monitoring(http: TestClient, workspace: Client) -> None:
    predictor = {"authorization": f"Bearer {token_of(workspace, 'predictor', http)}"}
    assert http.get("/ui/monitoring/cancer", headers=predictor).status_code == 403
    assert http.get("/ui/monitoring", headers=predictor).status_code == 403
