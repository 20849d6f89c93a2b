"""``shipyard audit log | verify | head``: output, filters, exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.audit import EXIT_TAMPERED
from shipyard.cli.main import app
from shipyard.cli.main import run as main
from shipyard.config import StoreSettings

runner = CliRunner(env={"COLUMNS": "200"})  # a wide table: no words wrapped
SECRET = "T0KEN-s3cr3t-xyz"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "ws"
    with Client(settings=StoreSettings(home=home, user="ops")) as client:
        client.add_webhook(f"https://hooks.example.com/services/{SECRET}")
        client.add_webhook("https://example.com/b")
        client.remove_webhook(2)
    return home


def run(home: Path, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["--home", str(home), *args])
    assert result.exit_code == code, result.output
    return result.output


def fails(home: Path, code: int, *args: str) -> None:
    """Through the console-script entry point, where errors become a line and a code."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["shipyard", "--home", str(home), *args])
        with pytest.raises(SystemExit) as info:
            main()
    assert info.value.code == code


def tamper(home: Path, statement: str) -> None:
    with (
        Client(settings=StoreSettings(home=home)) as client,
        client.store.db.engine.begin() as conn,
    ):
        conn.execute(text("DROP TRIGGER audit_events_no_delete"))
        conn.execute(text(statement))


def test_log_prints_a_table_and_json_without_secrets(home: Path) -> None:
    table = run(home, "audit", "log")
    assert "webhook.remove" in table and "ops" in table and SECRET not in table
    entries = json.loads(run(home, "audit", "log", "--json"))
    assert [e["action"] for e in entries] == ["webhook.remove", "webhook.add", "webhook.add"]
    assert entries[0].keys() >= {"id", "at", "actor", "details", "request_id", "client_address"}
    assert SECRET not in json.dumps(entries)


def test_log_filters(home: Path) -> None:
    def ids(*args: str) -> list[int]:
        return [e["id"] for e in json.loads(run(home, "audit", "log", "--json", *args))]

    assert ids("--action", "webhook.add") == [2, 1]
    assert ids("--limit", "1") == [3]
    assert ids("--actor", "ops", "--since", "1h") == [3, 2, 1]
    assert ids("--actor", "nobody") == []
    assert ids("--since", "0s") == []


def test_log_refuses_a_bad_duration_in_one_line(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fails(home, 2, "audit", "log", "--since", "yesterday")
    err = capsys.readouterr().err
    assert "cannot read duration 'yesterday'" in err and "Traceback" not in err


def test_verify_exits_0_when_intact_and_3_naming_the_first_bad_row(home: Path) -> None:
    assert "audit chain intact: 3 rows verified" in run(home, "audit", "verify")
    assert json.loads(run(home, "audit", "verify", "--json"))["ok"] is True
    tamper(home, "DELETE FROM audit_events WHERE id = 2")
    output = " ".join(run(home, "audit", "verify", code=EXIT_TAMPERED).split())
    assert "audit chain broken at row 3 (deleted)" in output
    result = json.loads(run(home, "audit", "verify", "--json", code=EXIT_TAMPERED))
    assert result == {
        "ok": False,
        "rows_checked": 1,
        "bad_row_id": 3,
        "problem": "deleted",
        "message": "rows were deleted between row 1 and row 3",
    }


def test_head_is_a_checkpoint_that_verify_checks_against(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = run(home, "audit", "head").strip()
    head = json.loads(run(home, "audit", "head", "--json"))
    assert token == head["checkpoint"] == f"{head['hash']}@3"
    run(home, "audit", "verify", "--against", token)
    tamper(home, "DELETE FROM audit_events WHERE id = 3")
    run(home, "audit", "verify")  # the chain alone cannot see a removed tail
    output = " ".join(run(home, "audit", "verify", "--against", token, code=EXIT_TAMPERED).split())
    assert "checkpoint row 3 is gone" in output
    fails(home, 2, "audit", "verify", "--against", "nope")
    assert "expected HASH@ID" in capsys.readouterr().err


def test_head_of_an_empty_trail(tmp_path: Path) -> None:
    home = tmp_path / "empty"
    assert "the audit trail is empty" in run(home, "audit", "head")
    assert json.loads(run(home, "audit", "head", "--json")) is None


def test_log_filters_by_target_time_range_and_offset(home: Path) -> None:
    """The flags behind the dashboard's Audit filters (``/ui/audit``)."""
    every = json.loads(run(home, "audit", "log", "--json"))
    by_target = json.loads(run(home, "audit", "log", "--json", "--target", "webhook 2"))
    assert by_target and all(
        e["object_type"] == "webhook" and e["object_id"] == "2" for e in by_target
    )
    assert [e["id"] for e in json.loads(run(home, "audit", "log", "--json", "--offset", "1"))] == [
        e["id"] for e in every[1:]
    ]
    assert json.loads(run(home, "audit", "log", "--json", "--until", "2000-01-01")) == []
    assert len(json.loads(run(home, "audit", "log", "--json", "--since", "2000-01-01 00:00"))) == (
        len(every)
    )
    fails(home, 2, "audit", "log", "--until", "2000-13-40")
