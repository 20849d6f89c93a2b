"""``shipyard stream produce|consume|status`` in-process: JSON output, no secrets shown."""

from __future__ import annotations

import json
from pathlib import Path

import redis
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.main import app
from shipyard.errors import DeploymentNotFound
from tests.stream.conftest import Keys

runner = CliRunner()


def invoke(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args])


def test_produce_consume_and_status(
    workspace: Client, keys: Keys, redis_url: str, tmp_path: Path, breast_cancer
) -> None:
    home = Path(workspace.settings.home)
    secret_url = redis_url.replace("redis://", "redis://:s3cret@")
    rows = tmp_path / "rows.csv"
    breast_cancer[0][:25].to_csv(rows, index=False)
    target = ["--redis", secret_url, "--stream", keys.stream]

    produced = invoke(home, "stream", "produce", str(rows), *target, "--json")
    assert produced.exit_code == 0, produced.output
    assert json.loads(produced.output)["added"] == 25

    consumed = invoke(
        home, "stream", "consume", "cancer", *target, "--group", "g", "--consumer", "cli",
        "--max-messages", "25", "--json",
    )  # fmt: skip
    assert consumed.exit_code == 0, consumed.output
    summary = json.loads(consumed.output)
    assert (summary["scored"], summary["dead_lettered"], summary["consumer"]) == (25, 0, "cli")
    assert "s3cret" not in consumed.output and summary["redis"].startswith("redis://***@")

    status = invoke(home, "stream", "status", *target, "--group", "g", "--json")
    assert status.exit_code == 0, status.output
    shown = json.loads(status.output)
    assert "s3cret" not in status.output
    assert (shown["length"], shown["out_length"], shown["dead_length"]) == (25, 25, 0)
    assert [(g["name"], g["lag"], g["pending"]) for g in shown["groups"]] == [("g", 0, 0)]
    table = invoke(home, "stream", "status", *target)
    assert table.exit_code == 0 and "cli" in table.output and "s3cret" not in table.output

    sync = redis.Redis.from_url(redis_url)
    first = sync.xrange(keys.out, count=1)[0][1]
    assert first[b"model"] == b"cancer" and json.loads(first[b"classes"]) == [0, 1]
    sync.close()


def test_consume_for_a_missing_deployment_fails_with_its_name(
    workspace: Client, keys: Keys, redis_url: str
) -> None:
    result = invoke(
        Path(workspace.settings.home), "stream", "consume", "nope", "--redis", redis_url,
        "--stream", keys.stream, "--group", "g",
    )  # fmt: skip
    assert isinstance(result.exception, DeploymentNotFound)
