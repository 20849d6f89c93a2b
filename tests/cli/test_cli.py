"""The CLI: tables, --json, and one-line errors with non-zero exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.app import handle_error
from shipyard.cli.main import app, run
from shipyard.config import StoreSettings
from shipyard.errors import MissingDependency

runner = CliRunner()


@pytest.fixture
def home(tmp_path: Path, fitted_pipeline, breast_cancer) -> Path:
    X, _ = breast_cancer
    home = tmp_path / "ws"
    with Client(settings=StoreSettings(home=home)) as client:
        with client.start_run("cli", params={"C": 1.0}, name="first") as run:
            run.log_metrics({"auc": 0.91})
            run.register_model(fitted_pipeline, name="fraud", sample_input=X[:20])
        with client.start_run("cli", params={"C": 0.5}, name="second") as run:
            run.log_metrics({"auc": 0.95})
            run.register_model(fitted_pipeline, name="fraud", sample_input=X[:20])
    return home


def invoke(home: Path, *args: str):
    result = runner.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_models_list_and_show_json(home: Path) -> None:
    models = json.loads(invoke(home, "models", "list", "--json"))
    assert [(m["name"], m["latest_version"]) for m in models] == [("fraud", 2)]
    shown = json.loads(invoke(home, "models", "show", "fraud", "--version", "1", "--json"))
    assert shown["version"] == 1 and shown["uri"] == "models:/fraud/1"
    assert shown["signature"]["inputs"][0]["name"] == "mean radius"
    both = json.loads(invoke(home, "models", "show", "fraud", "--json"))
    assert [v["version"] for v in both["versions"]] == [1, 2]


def test_alias_set_move_delete_and_history(home: Path) -> None:
    assert "→ v1" in invoke(home, "models", "alias", "set", "fraud", "champion", "1")
    assert "(was v1)" in invoke(home, "models", "alias", "set", "fraud", "champion", "2")
    shown = json.loads(invoke(home, "models", "show", "fraud", "--alias", "champion", "--json"))
    assert shown["version"] == 2
    invoke(home, "models", "alias", "delete", "fraud", "champion")
    history = json.loads(invoke(home, "models", "alias", "history", "fraud", "--json"))
    assert [h["version"] for h in history] == [1, 2, None]


def test_runs_list_show_compare(home: Path) -> None:
    listed = json.loads(invoke(home, "runs", "list", "-f", "metrics.auc > 0.92", "--json"))
    assert [r["name"] for r in listed] == ["second"]
    table = invoke(home, "runs", "list", "-e", "cli", "-o", "metrics.auc DESC")
    assert table.index("second") < table.index("first")
    run_id = listed[0]["id"]
    assert json.loads(invoke(home, "runs", "show", run_id[:12], "--json"))["id"] == run_id
    every = json.loads(invoke(home, "runs", "list", "--json"))
    compared = json.loads(invoke(home, "runs", "compare", every[0]["id"], every[1]["id"], "--json"))
    assert set(compared["params"]["C"]) == {"1.0", "0.5"}
    assert "params.C *" in invoke(home, "runs", "compare", every[0]["id"], every[1]["id"])


def test_card_and_register_file(home: Path, tmp_path: Path, fitted_pipeline, breast_cancer) -> None:
    import skops.io as sio

    assert "# Model card: fraud v2" in invoke(home, "models", "card", "fraud")
    X, _ = breast_cancer
    model_file = tmp_path / "model.skops"
    sio.dump(fitted_pipeline, model_file)
    sample = tmp_path / "sample.csv"
    X[:20].to_csv(sample, index=False)
    out = json.loads(
        invoke(
            home,
            "models",
            "register",
            str(model_file),
            "--name",
            "from-file",
            "--sample-input",
            str(sample),
            "--json",
        )
    )
    assert out["version"] == 1 and out["flavor"] == "sklearn"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["models", "show", "nope"], 3, "model 'nope' does not exist"),
        (["models", "show", "fraud", "--version", "9"], 3, "has no version 9"),
        (["models", "show", "fraud", "--alias", "gold"], 3, "has no alias 'gold'"),
        (["models", "alias", "set", "fraud", "latest", "1"], 2, "reserved"),
        (["runs", "list", "-f", "metrics.auc >"], 2, "ends too early"),
        (["runs", "show", "0123abcd"], 3, "does not exist"),
        (["models", "register", "missing.onnx", "--name", "x"], 2, "does not exist"),
    ],
)
def test_errors_are_one_line_with_exit_codes(
    home: Path, args, code, message, monkeypatch, capsys
) -> None:
    monkeypatch.setattr(sys, "argv", ["shipyard", "--home", str(home), *args])
    with pytest.raises(SystemExit) as info:
        run()
    assert info.value.code == code
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err
    assert len(err.splitlines()) <= 2  # one message (Rich may wrap a long line once)


def test_console_script_exits_non_zero_without_traceback(home: Path) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "shipyard"),
            "--home",
            str(home),
            "models",
            "show",
            "fraud",
            "--version",
            "abc",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and "positive integer" in result.stderr


def test_missing_postgres_driver_names_the_extra(tmp_path: Path) -> None:
    """Rich read "[postgres]" in "shipyard[postgres]" as markup and printed "shipyard"."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(
        "import sys\nsys.modules['psycopg'] = None  # as if not installed\n"
    )
    result = subprocess.run(
        [str(Path(sys.executable).parent / "shipyard"), "models", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "PYTHONPATH": str(site),
            "SHIPYARD_HOME": str(tmp_path / "ws"),
            "SHIPYARD_DB_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
        },
    )
    assert result.returncode == 2, result.stderr
    assert "pip install 'shipyard[postgres]'" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "error",
    [MissingDependency("onnxruntime", "onnx"), MissingDependency("psycopg", "postgres")],
)
def test_every_missing_dependency_prints_its_extra(error, capsys) -> None:
    with pytest.raises(SystemExit):
        handle_error(error)
    assert f"pip install 'shipyard[{error.extra}]'" in capsys.readouterr().err


def test_root_help_describes_what_quickstart_does_now() -> None:
    result = runner.invoke(app, ["--help"])
    text = " ".join(result.output.replace("│", " ").split())
    described = text.split(" quickstart ", 1)[1].split(".", 1)[0]  # its one-line summary
    for phase in ("train", "register", "serve", "drift", "alert", "retrain", "canary"):
        assert phase in described, described
