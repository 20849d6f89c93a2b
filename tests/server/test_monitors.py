"""Monitors: scheduled values, alert rules with for-duration, de-duplication, resolution,
gauges, and the HTML/JSON report."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from shipyard import Client, InvalidInput
from shipyard.config import ServerSettings
from shipyard.monitoring.report import render_html
from shipyard.server.app import create_app
from tests.conftest import bearer

FAST = ServerSettings(prediction_log_flush_s=0.05, controller_tick_s=0.1)


@pytest.fixture
def drifting(workspace: Client, fitted_pipeline, breast_cancer) -> Client:
    X, _ = breast_cancer
    version = workspace.register_model(
        fitted_pipeline, name="cancer", sample_input=X[:50], reference_data=X
    )
    workspace.set_alias("cancer", "champion", version.version)
    return workspace


def _serve(client: Client, frame, prefix: str) -> None:
    with TestClient(create_app(FAST, client=client), headers=bearer(client)) as server:
        deadline = time.monotonic() + 3
        target = client.get_model_version_by_alias("cancer", "champion").version
        while time.monotonic() < deadline:
            answer = server.post(
                "/v1/deployments/cancer/predict",
                json={"inputs": frame[:1].to_dict(orient="records")},
            )
            if answer.json()["version"] == target:
                break
        records = frame.to_dict(orient="records")
        for start in range(0, len(records), 50):
            server.post(
                "/v1/deployments/cancer/predict",
                json={"inputs": records[start : start + 50]},
                headers={"x-request-id": f"{prefix}{start}"},
            )


def test_rules_fire_after_their_duration_dedupe_and_resolve(
    drifting: Client, breast_cancer
) -> None:
    X, _ = breast_cancer
    shifted = X.copy()
    for column in list(X.columns)[:12]:
        shifted[column] = shifted[column] * 1.8
    _serve(drifting, shifted, "shift")
    drifting.create_monitor(
        "cancer-drift",
        {
            "deployment": "cancer",
            "window_s": 3600,
            "interval_s": 60,
            "rules": [
                {"when": "drift_share >= 0.3", "severity": "critical", "for_s": 0.3},
                "rows < 10",
            ],
        },
    )
    values = drifting.run_monitor("cancer-drift")
    assert values["drift_share"] >= 0.3 and values["rows"] >= len(X)
    assert values["out_of_range_share"] > 0 and "estimated_accuracy" in values
    alert = drifting.alerts("cancer-drift", open_only=True)
    assert [(a.rule, a.status) for a in alert] == [("drift_share", "pending")]
    time.sleep(0.35)
    drifting.run_monitor("cancer-drift")
    drifting.run_monitor("cancer-drift")  # still breached: the same alert, not a new one
    alerts = drifting.alerts("cancer-drift")
    assert [(a.rule, a.status, a.severity) for a in alerts] == [
        ("drift_share", "firing", "critical")
    ]
    fired = [e for e in drifting.audit_events() if e["action"] == "alert.fire"]
    assert len(fired) == 1 and fired[0]["object_id"] == "cancer"
    # The condition clears: the open alert resolves (and says so once).
    series = drifting.monitor_results("cancer-drift", "drift_share")
    assert len(series) == 3 and all(r["value"] >= 0.3 for r in series)
    resolved = drifting.store.monitors.transition_alert(
        "cancer-drift",
        "drift_share",
        breached=False,
        value=0.0,
        severity="critical",
        for_s=0,
        message="clear",
        now=int(time.time() * 1000),
        deployment="cancer",
    )
    assert resolved == "resolve" and drifting.alerts("cancer-drift", open_only=True) == []


def test_server_runs_monitors_on_schedule_and_exports_gauges(
    drifting: Client, breast_cancer
) -> None:
    X, _ = breast_cancer
    _serve(drifting, X, "calm")
    drifting.create_monitor(
        "m",
        {
            "deployment": "cancer",
            "window_s": 3600,
            "interval_s": 0.2,
            "rules": ["drift_share >= 0.5"],
        },
    )
    with TestClient(create_app(FAST, client=drifting), headers=bearer(drifting)) as server:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(drifting.monitor_results("m", "rows")) < 2:
            time.sleep(0.1)
        text = server.get("/metrics").text
        listed = server.get("/api/monitors").json()
        api_results = server.get("/api/monitors/m/results", params={"metric": "rows"}).json()
    assert len(drifting.monitor_results("m", "rows")) >= 2  # ran repeatedly on its own
    assert 'shipyard_monitor_value{deployment="cancer",metric="drift_share",monitor="m"}' in text
    assert [m["name"] for m in listed] == ["m"] and api_results[0]["value"] >= len(X)
    assert drifting.alerts("m") == []  # undrifted traffic: nothing fired


def test_report_is_self_contained_html_and_json(drifting: Client, breast_cancer) -> None:
    X, y = breast_cancer
    _serve(drifting, X, "r")
    drifting.add_feedback("cancer", [{"request_id": "r0", "label": int(y.iloc[0])}])
    data = drifting.monitor_report("cancer", window_s=3600)
    assert data["rows"] >= len(X) and data["drift"]["columns"]
    assert "mean radius" in data["distributions"]
    assert data["quality"][0]["labelled"] == 1
    page = render_html(data)
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"window_s": 60}, "at least"),
        ({"deployment": "cancer", "rules": ["drift_share ~ 1"]}, "cannot read rule"),
        ({"deployment": "cancer", "rules": [{"when": "rows < 1", "severity": "loud"}]}, "severity"),
        ({"deployment": "cancer", "interval_s": 0}, "positive"),
        ({"deployment": "cancer", "cron": "* * *"}, "unknown monitor spec field"),
        ({"deployment": "cancer", "rules": ["rows < 1", "rows < 1"]}, "unique"),
    ],
)
def test_bad_monitor_specs(workspace: Client, spec, fragment) -> None:
    with pytest.raises(InvalidInput, match=fragment):
        workspace.create_monitor("bad", spec)
