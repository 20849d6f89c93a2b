"""``shipyard quickstart`` runs the whole loop on a fresh embedded workspace.

This is the end-to-end test of continuous training with real components: a
uvicorn server running the monitor, the pipeline scheduler and executor and
the rollout controller; drifted traffic and late labels over HTTP; the
monitor's alert triggers the retraining pipeline, whose gate passes and whose
canary rollout promotes the new version.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.main import app
from shipyard.config import StoreSettings


def client_policy_versions(home: Path) -> set[str]:
    """What deployment breast-cancer routes to now (the versions the image must bake)."""
    from shipyard.packaging.container import served_versions

    with Client(settings=StoreSettings(home=home)) as client:
        return {v.uri for v in served_versions(client.store, "breast-cancer")}


@pytest.mark.timeout(400)  # the whole lifecycle, twice
def test_quickstart_runs_the_lifecycle_and_can_run_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "qs"
    result = CliRunner().invoke(app, ["--home", str(home), "quickstart"])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())  # Rich wraps long lines
    assert "models:/breast-cancer@champion → v1" in flat
    assert "native, OIP v2 and MLflow /invocations agree" in flat
    assert "the alert started pipeline run 1" in flat
    assert "scored 22,757 of 22,760 rows" in flat and "3 unreadable rows set aside" in flat
    assert "optimized models:/breast-cancer/2 to models:/breast-cancer/3 (onnx)" in flat
    assert "explained one prediction (linear_exact, log_odds)" in flat
    assert "A/B experiment quickstart-ab-" in flat and "400 users split by X-User" in flat
    assert "stream consumer scored 20 of 20 messages" in flat or (
        "stream scoring skipped: no Redis" in flat and not os.environ.get("CI")
    )
    assert "a remote job holding only a URL and a scientist token tracked run" in flat
    assert "registered models:/breast-cancer-remote/1 through the server" in flat
    assert "recorded as 'quickstart-trainer (token quickstart-remote-" in flat
    assert "moving champion was refused (403)" in flat
    assert "baked in by hash" in flat and "Kubernetes manifests in" in flat
    production = home / "production"
    context = json.loads((production / "image" / "manifest.json").read_text())
    served = client_policy_versions(home)
    assert {v["uri"] for v in context["versions"]} == served
    assert served and any((production / "image" / "models").rglob("*"))
    assert (production / "image" / "Dockerfile").read_text().count("USER 10001") == 1
    assert {p.name for p in (production / "k8s").glob("*.yaml")} >= {
        "deployment.yaml",
        "service.yaml",
    }
    assert json.loads((production / "dashboard.json").read_text())["panels"]
    assert "alert:" in (production / "rules.yaml").read_text()
    assert re.search(r"dashboard: signed in at /ui with a viewer token and opened 1\d pages", flat)
    assert "the viewer saw 0 rollout buttons" in flat
    with Client(settings=StoreSettings(home=home)) as client:
        remote = client.get_model_version("breast-cancer-remote", 1)
        assert remote.created_by.startswith("quickstart-trainer")
        assert client.get_run(remote.run_id or "").metrics["accuracy"] > 0.9
        run = client.get_run(client.get_model_version("breast-cancer", 1).run_id or "")
        assert run.status == "FINISHED" and run.metrics["auc"] > 0.95
        assert [a.path for a in run.artifacts] == ["classification_report.txt"]
        [run] = client.pipeline_runs("retrain-breast-cancer")
        run = client.get_pipeline_run(run.id)
        assert run.trigger["source"] == "alert" and run.trigger["monitor"] == "breast-cancer-health"
        alert = next(
            a for a in client.alerts("breast-cancer-health") if a.id == run.trigger["alert"]
        )
        assert alert.fired_at is not None and alert.fired_at <= run.created_at
        assert run.status == "succeeded", (run.error, run.outcome)
        assert [s.status for s in run.steps] == ["succeeded"] * 6
        assert "promoted" in run.outcome
        v2 = client.get_model_version("breast-cancer", 2)
        assert v2.tags["gate.status"] == "passed" and v2.tags["shipyard.pipeline_run"] == "1"
        gate = json.loads(v2.tags["gate.result"])
        assert gate["champion"] == "models:/breast-cancer/1"
        assert gate["metrics"]["accuracy"] > gate["champion_metrics"]["accuracy"] + 0.02
        rollout = client.rollout("breast-cancer")
        assert (rollout.status, rollout.baseline_version, rollout.candidate_version) == (
            "promoted",
            1,
            2,
        )
        assert client.get_model_version_by_alias("breast-cancer", "champion").version == 2
        assert client.get_deployment("breast-cancer").policy["kind"] == "single"
        assert client.get_run(v2.run_id or "").tags["shipyard.pipeline_run"] == "1"
        v3 = client.get_model_version("breast-cancer", 3)
        assert v3.flavor == "onnx" and v3.tags["shipyard.derived_from"] == "models:/breast-cancer/2"
        [job] = client.batch_jobs()
        assert (job.status, job.deployment, job.version) == ("succeeded", "breast-cancer", 2)
        [experiment] = client.ab_list()  # stopped: the deployment is back on its champion
        assert experiment.status == "stopped" and experiment.outcome is not None
        assert [a["version"] for a in experiment.spec["arms"]] == [None, 3]
        report = client.ab_report(experiment.name)
        assert sum(report.assigned.values()) == 400 and report.srm and not report.srm.flagged
        assert [m.metric for m in report.metrics] == ["latency_ms", "accuracy"]
        assert report.metrics[1].arms[0].n + report.metrics[1].arms[1].n == 400  # labelled
    # The second run as after a plain `pip install shipyard`: no onnx extra.
    monkeypatch.setitem(sys.modules, "skl2onnx", None)  # `import skl2onnx` raises ImportError
    again = CliRunner().invoke(app, ["--home", str(home), "quickstart"])
    assert again.exit_code == 0, again.output
    flat = " ".join(again.output.split())
    assert "registered models:/breast-cancer/4" in flat  # v3: the first run's ONNX version
    assert "ONNX compilation skipped: skl2onnx is not installed" in flat
    assert "pip install 'shipyard[onnx]'" in flat
    with Client(settings=StoreSettings(home=home)) as client:
        latest = client.pipeline_runs("retrain-breast-cancer")[0]
        assert latest.id == 2 and latest.status == "succeeded", latest.error
        assert client.get_pipeline_run(2).step("train").status == "cached"  # same data, same code
        # v4 is the second quickstart's own v1 (v3 the first one's ONNX version)
        assert client.get_model_version_by_alias("breast-cancer", "champion").version == 5
        assert len(client.list_model_versions("breast-cancer")) == 5  # no ONNX version this time
        second = client.ab_list()[0]  # the champion against the version it replaced (v4)
        assert [a["version"] for a in second.spec["arms"]] == [None, 4]
        assert sum(client.ab_report(second.name).assigned.values()) == 400
