"""``shipyard pipelines ...``: register, run, inspect, approve, retry; one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from tests.pipelines.helpers import DATASET, MONITOR, make_data, serve_champion, write_pipeline
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.main import app, run
from shipyard.config import StoreSettings

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "ws"
    with Client(settings=StoreSettings(home=home)) as client:
        serve_champion(client)
        client.add_dataset(DATASET, make_data(seed=1))
    return home


def invoke(home: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


def test_register_run_inspect_approve(home: Path, tmp_path: Path) -> None:
    path = write_pipeline(tmp_path, triggers=f'on_alert("{MONITOR}")', approval=True)
    out = invoke(home, "pipelines", "register", "retrain", str(path))
    assert "registered pipeline retrain v1" in out
    assert "ingest → holdout → train → register → gate → deploy" in out
    assert f"trigger alert:{MONITOR} (cool-down 600s)" in out
    assert "retrain" in invoke(home, "pipelines", "list")
    assert f"alert:{MONITOR}" in invoke(home, "pipelines", "triggers")

    out = invoke(home, "pipelines", "run", "retrain", "--param", "seed=2")
    assert "pipeline run 1 of retrain v1" in out and "awaiting_approval" in out
    assert "shipyard pipelines approve 1" in out
    shown = json.loads(
        runner.invoke(app, ["--home", str(home), "pipelines", "show", "1", "--json"]).output
    )
    assert shown["params"]["seed"] == 2 and shown["steps"][4]["status"] == "succeeded"
    out = invoke(home, "pipelines", "show", "1", "--logs")
    assert "gate passed" in out and "PASS auc >= 0.8" in out
    assert "approved by" in invoke(home, "pipelines", "approve", "1", "--comment", "ok")
    assert "1" in invoke(home, "pipelines", "runs", "retrain")
    paged = runner.invoke(
        app, ["--home", str(home), "pipelines", "runs", "--json", "--offset", "1"]
    )
    assert json.loads(paged.output) == []  # one run: nothing after it


def fails(home: Path, code: int, *args: str) -> None:
    """Through the console-script entry point: the error text and the exit code."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["shipyard", "--home", str(home), *args])
        with pytest.raises(SystemExit) as info:
            run()
    assert info.value.code == code


def test_failures_are_short_with_an_exit_code(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from shipyard.pipelines import Pipeline\npipeline = Pipeline(\n")
    fails(home, 2, "pipelines", "register", "p", str(bad))
    err = capsys.readouterr().err
    assert "bad.py:2: syntax error" in err and "Traceback" not in err
    fails(home, 3, "pipelines", "run", "nope")
    invoke(home, "pipelines", "register", "retrain", str(write_pipeline(tmp_path)))
    fails(home, 2, "pipelines", "run", "retrain", "--param", "seed")
    marker = tmp_path / "broken"
    marker.write_text("x")
    out = invoke(home, "pipelines", "run", "retrain", "-p", f"fail_marker={marker}")
    assert "failed" in out and "shipyard pipelines retry 1" in out
    marker.unlink()
    assert "deploying" in invoke(home, "pipelines", "retry", "1")
    fails(home, 2, "pipelines", "retry", "1")  # not failed any more: a conflict
    assert "only failed runs can be retried" in capsys.readouterr().err


def test_a_pipeline_can_be_registered_from_a_module(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "mlflows"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "steps.py").write_text("def double(x):\n    return 2 * x\n")
    (package / "flow.py").write_text(
        "from shipyard.pipelines import Pipeline\n"
        "from .steps import double\n"
        "pipeline = Pipeline(params={'x': 2})\n"
        "@pipeline.step\ndef only(ctx) -> dict:\n    return {'y': double(ctx.params['x'])}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "registered pipeline flow v1" in invoke(
        home, "pipelines", "register", "flow", "mlflows.flow"
    )
    with Client(settings=StoreSettings(home=home)) as client:
        run = client.run_pipeline("flow", {"x": "5"})
        assert run.status == "succeeded", run.error
        assert run.step("only").outputs["value"] == {"y": 10}
        assert client.get_pipeline("flow").source == "module:mlflows.flow"
