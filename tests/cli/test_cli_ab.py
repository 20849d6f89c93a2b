"""``shipyard ab``: start, status, report (table and JSON), stop, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.main import app
from shipyard.config import StoreSettings
from shipyard.monitoring.predlog import PredictionLogger

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, fitted_pipeline, breast_cancer) -> Path:
    X, _ = breast_cancer
    home = tmp_path / "ws"
    with Client(settings=StoreSettings(home=home)) as client:
        for _ in range(2):
            client.register_model(fitted_pipeline, name="m", sample_input=X[:20])
        client.create_deployment("d", "m/1")
    return home


def invoke(home: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


def test_start_report_and_stop_an_experiment(home: Path, tmp_path: Path) -> None:
    started = invoke(
        home, "ab", "start", "exp", "-d", "d", "--arms", "m/1=50,m/2=50", "--key",
        "header:X-User", "--metric", "outcome.clicked", "--guardrail", "error_rate<=0.01",
        "--min-samples", "50", "--sequential", "--min-effect", "0.5",
    )  # fmt: skip
    assert "experiment exp on d: A/B by header:X-User, m/1=50%, m/2=50%" in started
    with Client(settings=StoreSettings(home=home)) as client:
        logger = PredictionLogger(client.store.artifacts)
        rng = np.random.default_rng(0)
        for user in range(600):
            arm = "m/1" if user % 2 else "m/2"
            logger.log("d", int(arm[2:]), arm, f"r{user}", 0.001, ("x",), np.array([[0.0]]),
                       np.array([1]), None, unit=f"u{user}")  # fmt: skip
        logger.flush()
    outcomes = tmp_path / "outcomes.csv"
    clicks = [int(rng.random() < (0.1 if user % 2 else 0.5)) for user in range(600)]
    outcomes.write_text(
        "request_id,clicks\n" + "".join(f"r{u},{c}\n" for u, c in enumerate(clicks))
    )
    assert "600 feedback row(s) stored for d" in invoke(
        home, "feedback", "upload", str(outcomes), "-d", "d", "--outcome", "clicks"
    )
    # The outcome was uploaded as "clicks", the experiment decides on "clicked": no data.
    assert "KEEP_RUNNING" in invoke(home, "ab", "report", "exp")
    renamed = tmp_path / "renamed.csv"
    renamed.write_text(outcomes.read_text().replace("clicks", "outcome.clicked"))
    invoke(home, "feedback", "upload", str(renamed), "-d", "d")
    table = invoke(home, "ab", "report", "exp")
    assert "sample ratio check: ok" in table and "WINNER: m/2 beats m/1 on outcome.clicked" in table
    data = json.loads(invoke(home, "ab", "report", "exp", "--json"))
    assert data["decision"]["winner"] == "m/2" and data["assigned"] == {"m/1": 300, "m/2": 300}
    assert data["metrics"][0]["comparisons"]["m/2"]["sequential"] is True
    listed = json.loads(invoke(home, "ab", "status", "--json"))
    assert [(e["name"], e["status"]) for e in listed] == [("exp", "running")]
    assert "back on its earlier policy" in invoke(home, "ab", "stop", "exp", "--reason", "seen")
    assert json.loads(invoke(home, "ab", "status", "exp", "--json"))["outcome"]["reason"] == "seen"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["start", "x", "-d", "d", "--arms", "m/1,m/2", "--metric", "ctr"], 2,
         "unknown metric 'ctr'"),
        (["start", "x", "-d", "d", "--arms", "m/1", "--metric", "accuracy"], 2,
         "at least two arms"),
        (["start", "x", "-d", "d", "--arms", "m/1,m/2", "--metric", "accuracy", "--pre", "x"], 2,
         "--pre must be METRIC=COLUMN"),
        (["report", "x", "--steps", "50,100"], 2, "--steps and --interval go with --promote"),
        (["status", "nope"], 3, "A/B experiment 'nope' not found"),
        (["stop", "nope"], 3, "not found"),
    ],
)  # fmt: skip
def test_errors_are_one_line(home: Path, args, code, message, monkeypatch, capsys) -> None:
    import sys

    from shipyard.cli.main import run

    monkeypatch.setattr(sys, "argv", ["shipyard", "--home", str(home), "ab", *args])
    with pytest.raises(SystemExit) as info:
        run()
    err = " ".join(capsys.readouterr().err.split())
    assert info.value.code == code and message in err and "Traceback" not in err
