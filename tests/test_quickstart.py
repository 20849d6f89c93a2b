"""``shipyard quickstart`` runs the lifecycle on a fresh embedded workspace."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.main import app
from shipyard.config import StoreSettings


def test_quickstart_runs_the_lifecycle_and_can_run_again(tmp_path: Path) -> None:
    home = tmp_path / "qs"
    result = CliRunner().invoke(app, ["--home", str(home), "quickstart"])
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())  # Rich wraps long lines
    assert "models:/breast-cancer@champion → v1" in flat
    assert "native, OIP v2 and MLflow /invocations agree" in flat
    assert "canary rollout 1 v1 → v2" in flat
    with Client(settings=StoreSettings(home=home)) as client:
        run = client.get_run(client.get_model_version("breast-cancer", 1).run_id or "")
        assert run.status == "FINISHED" and run.metrics["auc"] > 0.95
        assert [a.path for a in run.artifacts] == ["classification_report.txt"]
        rollout = client.rollout("breast-cancer")
        assert rollout.status in ("promoted", "rolled_back")  # decided, on live traffic
        champion = client.get_model_version_by_alias("breast-cancer", "champion").version
        assert champion == (2 if rollout.status == "promoted" else 1)
        assert client.get_deployment("breast-cancer").policy["kind"] == "single"
    again = CliRunner().invoke(app, ["--home", str(home), "quickstart"])
    assert again.exit_code == 0, again.output
    assert "registered models:/breast-cancer/3" in " ".join(again.output.split())
