"""``models import-mlflow`` from the command line: signatures, --trust, and CLI-worded errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from tests.flavors.mlflow_dirs import write_loader_model, write_sklearn_model
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.main import app, run
from shipyard.config import StoreSettings

runner = CliRunner()


def _fails(home: Path, monkeypatch, capsys, *args: str) -> str:
    monkeypatch.setattr(sys, "argv", ["shipyard", "--home", str(home), *args])
    with pytest.raises(SystemExit) as info:
        run()
    assert info.value.code == 2
    return " ".join(capsys.readouterr().err.split())


def test_plain_save_model_imports_without_a_sample(tmp_path: Path, fitted_pipeline, breast_cancer):
    """``mlflow.sklearn.save_model(model, path)``: no signature, no example, skops format."""
    X, _ = breast_cancer
    folder = tmp_path / "plain"
    write_sklearn_model(
        folder, fitted_pipeline, X, with_signature=False, serialization_format="skops"
    )
    home = tmp_path / "ws"
    result = runner.invoke(
        app, ["--home", str(home), "models", "import-mlflow", str(folder), "-n", "m"]
    )
    assert result.exit_code == 0, result.output
    with Client(settings=StoreSettings(home=home)) as client:
        assert client.get_model_version("m", 1).signature.columns == list(X.columns)


@pytest.mark.parametrize("serialization_format", ["cloudpickle", "pickle"])
def test_pickled_model_names_the_trust_flag_and_imports_with_it(
    tmp_path: Path, fitted_pipeline, breast_cancer, monkeypatch, capsys, serialization_format
):
    X, _ = breast_cancer
    folder = tmp_path / "pickled"
    write_sklearn_model(
        folder, fitted_pipeline, X, with_signature=False, serialization_format=serialization_format
    )
    home = tmp_path / "ws"
    err = _fails(home, monkeypatch, capsys, "models", "import-mlflow", str(folder), "-n", "m")
    assert "runs code when loaded" in err and "--trust" in err and "trust=True" not in err
    result = runner.invoke(
        app, ["--home", str(home), "models", "import-mlflow", str(folder), "-n", "m", "--trust"]
    )
    assert result.exit_code == 0, result.output
    assert "registered models:/m/1" in result.output


def test_model_naming_no_inputs_names_the_sample_input_option(
    tmp_path: Path, breast_cancer, monkeypatch, capsys
):
    X, _ = breast_cancer
    folder = tmp_path / "loader"
    write_loader_model(folder, X, column="mean radius", threshold=14.0)
    spec = yaml.safe_load((folder / "MLmodel").read_text())
    del spec["signature"]
    (folder / "MLmodel").write_text(yaml.safe_dump(spec))
    home = tmp_path / "ws"
    args = ("models", "import-mlflow", str(folder), "-n", "m", "--trust")
    err = _fails(home, monkeypatch, capsys, *args)
    assert "needs a sample input" in err and "--sample-input FILE" in err
    assert "sample_input=" not in err
    sample = tmp_path / "sample.csv"
    X[:20].to_csv(sample, index=False)
    result = runner.invoke(app, ["--home", str(home), *args, "--sample-input", str(sample)])
    assert result.exit_code == 0, result.output


def test_register_without_a_sample_names_the_option(
    tmp_path: Path, fitted_pipeline, monkeypatch, capsys
):
    import skops.io as sio

    model_file = tmp_path / "model.skops"
    sio.dump(fitted_pipeline, model_file)
    err = _fails(
        tmp_path / "ws", monkeypatch, capsys, "models", "register", str(model_file), "-n", "m"
    )
    assert "--sample-input FILE" in err and "sample_input=" not in err
