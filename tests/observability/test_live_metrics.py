"""Every metric the dashboard and the rules name is exported by a real ``shipyard serve``.

A server on a temporary workspace serves a shadowed deployment and one in a
rollout, runs a monitor and a small batch job; then ``/metrics`` is parsed
with prometheus_client's parser. What cannot appear there is said plainly:
stream metrics come from ``shipyard stream consume`` (a separate process; the
catalogue test checks that ``StreamMetrics`` registers them), and a model load
failure needs a model that fails to load (the family is declared, without
samples).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shipyard import Client
from shipyard.config import StoreSettings
from shipyard.deploy.policy import ShadowPolicy
from shipyard.deploy.rollouts import RolloutSpec
from shipyard.packaging.alerts import build_rules
from shipyard.packaging.grafana import build_dashboard
from shipyard.registry.uri import ModelRef
from shipyard.serving.metric_catalogue import METRICS, SERIES
from tests.observability.promql_checks import metric_names
from tests.server.processes import start_server, stop_server

pytestmark = pytest.mark.slow

NOT_IN_SERVE = {m.name for m in METRICS if m.where == "stream"}
NO_SAMPLES_WITHOUT_A_FAILURE = {"shipyard_model_load_failures"}


@pytest.fixture
def served(tmp_path: Path, fitted_pipeline, breast_cancer) -> Iterator[tuple[str, Client]]:
    X, _ = breast_cancer
    client = Client(settings=StoreSettings(home=tmp_path / "ws", user="tester"))
    client.register_model(fitted_pipeline, name="cancer", sample_input=X[:50])
    client.register_model(fitted_pipeline, name="cancer", sample_input=X[:50])
    client.create_deployment("shadowed", "cancer/1")
    client.set_policy(
        "shadowed", ShadowPolicy(ModelRef("cancer", version=1), (ModelRef("cancer", version=2),))
    )
    client.create_deployment("rolling", "cancer/1")
    client.start_rollout(
        "rolling", RolloutSpec(to="cancer/2", steps=(50, 100), interval_s=3600, deadline_s=7200)
    )
    client.create_monitor("m", {"deployment": "shadowed", "window_s": 3600, "interval_s": 0.5})
    (client.settings.home / "batch").mkdir()
    X.to_csv(client.settings.home / "batch" / "in.csv", index=False)
    process, url = start_server(client.settings.home, env={"SHIPYARD_STATS_FLUSH_S": "0.2"})
    try:
        yield url, client
    finally:
        stop_server(process)
        client.close()


def _serve_traffic(url: str, client: Client, records: list[dict]) -> None:
    with httpx.Client(base_url=url, timeout=30) as http:
        for name in ("shadowed", "rolling"):
            for start in range(0, 40, 4):
                answer = http.post(
                    f"/v1/deployments/{name}/predict", json={"inputs": records[start : start + 4]}
                )
                assert answer.status_code == 200, answer.text
        invalid = http.post("/v1/deployments/shadowed/predict", json={"inputs": [{"nope": 1}]})
        assert 400 <= invalid.status_code < 500
        home = client.settings.home / "batch"
        job = {"target": "shadowed", "input": str(home / "in.csv"), "output": str(home / "out")}
        assert http.post("/api/batch-jobs", json={**job, "job": "b1"}).status_code == 202
        deadline = time.monotonic() + 60
        while True:  # the job's record appears once its thread has started
            job = http.get("/api/batch-jobs/b1")
            if job.status_code == 200 and job.json()["status"] != "running":
                break
            assert time.monotonic() < deadline, "the batch job did not end"
            time.sleep(0.1)
        assert job.json()["status"] == "succeeded", job.json()


def _scrape(url: str) -> dict[str, set[str]]:
    """Family name -> the sample names it has (empty: declared, no samples yet)."""
    text = httpx.get(f"{url}/metrics", timeout=10).text
    return {
        family.name: {s.name for s in family.samples}
        for family in text_string_to_metric_families(text)
    }


def test_every_metric_the_dashboard_and_rules_name_is_exported(
    served: tuple[str, Client], breast_cancer
) -> None:
    url, client = served
    X, _ = breast_cancer
    _serve_traffic(url, client, X[:40].to_dict(orient="records"))
    # mirrored comparisons and monitor runs finish in the background
    deadline = time.monotonic() + 20
    while True:
        families = _scrape(url)
        if (
            families.get("shipyard_mirror_comparisons") and families.get("shipyard_monitor_value")
        ) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    samples = {name for names in families.values() for name in names}

    named = set()
    for panel in build_dashboard()["panels"]:
        for target in panel.get("targets", []):
            named.update(metric_names(target["expr"]))
    for rule in build_rules()["groups"][0]["rules"]:
        named.update(metric_names(rule["expr"]))

    for series in sorted(named):
        metric = SERIES[series]
        if metric.name in NOT_IN_SERVE:
            continue
        assert metric.name in families, f"{metric.name} is not on /metrics"
        if metric.name in NO_SAMPLES_WITHOUT_A_FAILURE:
            continue
        assert series in samples, f"{series} has no samples after traffic"
    # and the other way: the server exports nothing the catalogue does not know
    exported = {n for n in families if not n.endswith("_created")}
    assert exported <= {m.name for m in METRICS}, exported - {m.name for m in METRICS}
    assert exported >= {m.name for m in METRICS} - NOT_IN_SERVE
