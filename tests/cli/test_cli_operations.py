"""CLI for deployments, policies, rollouts, monitors and feedback (one line errors too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.main import app
from shipyard.config import StoreSettings

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, fitted_pipeline, breast_cancer) -> Path:
    X, _ = breast_cancer
    home = tmp_path / "ws"
    with Client(settings=StoreSettings(home=home)) as client:
        for _ in range(2):
            client.register_model(fitted_pipeline, name="m", sample_input=X[:20])
        client.set_alias("m", "champion", 1)
    return home


def invoke(home: Path, *args: str) -> str:
    result = runner.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_deployments_policies_and_rollouts(home: Path, tmp_path: Path) -> None:
    assert "deployment d → m@champion" in invoke(
        home, "deployments", "create", "d", "-m", "m@champion"
    )
    assert "canary m/1=90%, m/2=10%" in invoke(
        home, "deployments", "policy", "d", "--canary", "m/1=90,m/2=10"
    )
    assert "blue m/1 / green m/2, blue live" in invoke(
        home, "deployments", "policy", "d", "--blue", "m/1", "--green", "m/2"
    )
    assert "green live" in invoke(home, "deployments", "switch", "d")
    invoke(home, "deployments", "policy", "d", "--single", "m@champion")
    spec = tmp_path / "rollout.yaml"
    spec.write_text("to: m/2\nsteps: [10, 100]\ninterval_s: 30\n")
    assert "rollout 1 of d: v1 → v2" in invoke(home, "rollout", "start", "d", "--spec", str(spec))
    status = json.loads(
        runner.invoke(app, ["--home", str(home), "rollout", "status", "d", "--json"]).output
    )
    assert status["rollout"]["status"] == "running" and status["events"][0]["kind"] == "start"
    assert "paused" in invoke(home, "rollout", "pause", "d")
    assert "aborted" in invoke(home, "rollout", "abort", "d")
    assert "start" in invoke(home, "rollout", "status", "d")


def test_monitors_and_feedback(home: Path, tmp_path: Path) -> None:
    invoke(home, "deployments", "create", "d", "-m", "m@champion")
    spec = tmp_path / "monitor.json"
    spec.write_text(
        json.dumps({"deployment": "d", "window_s": 60, "interval_s": 60, "rules": ["rows < 1"]})
    )
    assert "monitor watch on d" in invoke(home, "monitor", "create", "watch", "--spec", str(spec))
    assert "rows" in invoke(home, "monitor", "run", "watch")
    alerts = json.loads(
        runner.invoke(app, ["--home", str(home), "monitor", "alerts", "--json"]).output
    )
    assert [(a["rule"], a["status"]) for a in alerts] == [("rows", "firing")]
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,label\nr1,1\n")
    assert "1 feedback row(s) stored for d" in invoke(
        home, "feedback", "upload", str(labels), "-d", "d"
    )


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["deployments", "policy", "d", "--canary", "m/1=90,m/2=20"], 2, "sum to 100"),
        (["rollout", "start", "d", "--to", "m@champion"], 2, "already serves"),
        (["rollout", "start", "d", "--to", "m/2", "--steps", "50,20"], 2, "increase"),
        (["rollout", "status", "nope"], 3, "does not exist"),
        (["monitor", "create", "x", "-d", "d", "--rule", "rows ~ 3"], 2, "cannot read rule"),
        (["monitor", "run", "nope"], 3, "does not exist"),
    ],
)
def test_errors_are_one_line(home: Path, args, code, message, monkeypatch, capsys) -> None:
    import sys

    from shipyard.cli.main import run

    invoke(home, "deployments", "create", "d", "-m", "m@champion")
    monkeypatch.setattr(sys, "argv", ["shipyard", "--home", str(home), *args])
    with pytest.raises(SystemExit) as info:
        run()
    err = " ".join(capsys.readouterr().err.split())
    assert info.value.code == code and message in err and "Traceback" not in err


def test_monitor_report_writes_html_and_prints_json_together(home: Path, tmp_path: Path) -> None:
    invoke(home, "deployments", "create", "d", "-m", "m@champion")
    out = tmp_path / "report.html"
    result = runner.invoke(
        app, ["--home", str(home), "monitor", "report", "d", "--out", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["rows"] == 0  # stdout is only the JSON
    assert out.read_text().lstrip().lower().startswith("<!doctype html")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["rollout", "start", "d", "--spec", "SPEC", "--steps", "10,100"], "--steps cannot be"),
        (
            ["monitor", "create", "x", "--spec", "SPEC", "--rule", "rows < 1", "--every", "1m"],
            "--every, --rule cannot be",
        ),
        (["monitor", "create", "x", "-d", "d", "--severity", "critical"], "--severity cannot"),
        (["deployments", "policy", "d", "--canary", "m/1=90,m/2=10", "--key", "field:a"], "--key"),
        (["deployments", "policy", "d", "--single", "m/1", "--primary", "m/2"], "--primary"),
        (
            ["deployments", "policy", "d", "--canary", "m/1=90,m/2=10", "--active", "green"],
            "--active",
        ),
        (
            ["deployments", "create", "e", "-m", "m/1", "--no-batching", "--max-wait-ms", "5"],
            "--max-wait-ms",
        ),
        (["models", "show", "m", "--alias", "champion", "--version", "2"], "--version cannot"),
        (["datasets", "expectations", "x", "--set", "SPEC", "--infer-from", "1"], "--infer-from"),
    ],
)
def test_options_that_would_be_ignored_are_refused(
    home: Path, tmp_path: Path, args, message, monkeypatch, capsys
) -> None:
    import sys

    from shipyard.cli.main import run

    invoke(home, "deployments", "create", "d", "-m", "m@champion")
    spec = tmp_path / "spec.yaml"
    spec.write_text("to: m/2\ndeployment: d\n")
    args = [str(spec) if a == "SPEC" else a for a in args]
    monkeypatch.setattr(sys, "argv", ["shipyard", "--home", str(home), *args])
    with pytest.raises(SystemExit) as info:
        run()
    err = " ".join(capsys.readouterr().err.split())
    assert info.value.code == 2 and message in err and "cannot be combined" in err
