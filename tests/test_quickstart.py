"""``shipyard quickstart`` runs the lifecycle on a fresh embedded workspace."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.main import app
from shipyard.config import StoreSettings


def test_quickstart_trains_registers_aliases_and_scores(tmp_path: Path) -> None:
    home = tmp_path / "qs"
    result = CliRunner().invoke(app, ["--home", str(home), "quickstart"])
    assert result.exit_code == 0, result.output
    assert "models:/breast-cancer@champion → v1" in result.output
    flat = " ".join(result.output.split())  # Rich wraps long lines
    assert "native, OIP v2 and MLflow /invocations agree" in flat
    with Client(settings=StoreSettings(home=home)) as client:
        version = client.get_model_version_by_alias("breast-cancer", "champion")
        run = client.get_run(version.run_id or "")
        assert run.status == "FINISHED" and run.metrics["auc"] > 0.95
        assert [a.path for a in run.artifacts] == ["classification_report.txt"]
        assert client.get_deployment("breast-cancer").policy["target"]["alias"] == "champion"
    again = CliRunner().invoke(app, ["--home", str(home), "quickstart"])
    assert again.exit_code == 0 and "→ v2" in again.output
