"""The generated alert rules: promtool checks them and runs their unit tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from shipyard.cli.main import app
from shipyard.packaging.alerts import AlertThresholds, build_rules, render_rules
from tests.observability.promql_checks import metric_names

HERE = Path(__file__).parent
RULE_TESTS = HERE / "rules_test.yaml"


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("promtool is missing; .ci/run installs it from Debian's prometheus")
        pytest.skip("promtool not installed (Debian: apt-get download prometheus, see .ci/run)")
    return found


def _rules() -> list[dict]:
    return build_rules()["groups"][0]["rules"]


def test_every_rule_parses_reads_counters_through_rate_and_says_what_broke() -> None:
    rules = _rules()
    assert {r["alert"] for r in rules} == {
        "ShipyardHighErrorRate",
        "ShipyardHighLatencyP99",
        "ShipyardInputDrift",
        "ShipyardEstimatedAccuracyLow",
        "ShipyardPredictionLogDrops",
        "ShipyardStreamLagGrowing",
        "ShipyardBatchJobFailed",
        "ShipyardRolloutStuck",
        "ShipyardModelLoadFailing",
    }
    for rule in rules:
        assert metric_names(rule["expr"]), rule["alert"]
        assert rule["for"].endswith("m")
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert "{{ $" in rule["annotations"]["description"]


def test_thresholds_are_options(tmp_path: Path) -> None:
    out = tmp_path / "rules.yaml"
    args = ["alerts", "--out", str(out), "--error-ratio", "0.2", "--rollout-stuck-minutes", "45"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rules = {r["alert"]: r for r in yaml.safe_load(out.read_text())["groups"][0]["rules"]}
    assert rules["ShipyardHighErrorRate"]["expr"].endswith("> 0.2")
    assert rules["ShipyardRolloutStuck"]["expr"].endswith("> 2700")
    assert "threshold 20%" in rules["ShipyardHighErrorRate"]["annotations"]["description"]
    assert CliRunner().invoke(app, ["alerts", "--out", str(out), "--error-ratio", "-1"]).exit_code


def test_promtool_accepts_the_rules(tmp_path: Path) -> None:
    promtool = _promtool()
    (tmp_path / "rules.yaml").write_text(render_rules())
    check = subprocess.run(
        [promtool, "check", "rules", str(tmp_path / "rules.yaml")], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert f"SUCCESS: {len(_rules())} rules found" in check.stdout


def test_each_alert_fires_on_a_breach_and_stays_silent_otherwise(tmp_path: Path) -> None:
    """rules_test.yaml has, per alert, a breaching series and normal ones; promtool
    compares the firing alerts (labels and rendered annotations) exactly."""
    promtool = _promtool()
    tests = yaml.safe_load(RULE_TESTS.read_text())
    tested = {case["alertname"] for test in tests["tests"] for case in test["alert_rule_test"]}
    assert tested == {r["alert"] for r in _rules()}
    for test in tests["tests"]:
        expected = [case["exp_alerts"] for case in test["alert_rule_test"]]
        assert [] in expected or test["name"].startswith("monitors"), test["name"]
        assert any(expected), test["name"]
    (tmp_path / "rules.yaml").write_text(render_rules(AlertThresholds()))
    shutil.copy(RULE_TESTS, tmp_path / "rules_test.yaml")
    run = subprocess.run(
        [promtool, "test", "rules", "rules_test.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "SUCCESS" in run.stdout
