"""``shipyard users`` and ``shipyard tokens``; ``serve --no-auth`` only on loopback."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.main import app
from shipyard.security import tokens

runner = CliRunner()


def _run(home: Path, *args: str):
    return runner.invoke(app, ["--home", str(home), *args])


def _error(result) -> str:
    """What the console script would print: the command's output or its Shipyard error."""
    return result.output + (str(result.exception) if result.exception else "")


def test_token_is_shown_once_and_stored_as_a_hash(tmp_path: Path, caplog) -> None:
    home = tmp_path / "ws"
    caplog.set_level(logging.DEBUG)
    created = _run(
        home, "tokens", "create", "--name", "ci", "--role", "deployer", "--expires", "30d", "--json"
    )
    assert created.exit_code == 0, created.output
    shown = json.loads(created.output)
    assert set(shown) == {"token", "name", "role"} and shown["role"] == "deployer"
    secret = shown["token"]
    assert secret.startswith("shp_") and tokens.well_formed(secret)
    listed = _run(home, "tokens", "list", "--json")
    assert listed.exit_code == 0 and secret not in listed.output
    [entry] = json.loads(listed.output)
    assert entry["name"] == "ci" and entry["expires_at"] > entry["created_at"]
    assert entry["display"].startswith(secret[:8])
    with Client(home) as client:
        [record] = client.list_tokens()
        assert record.token_hash == tokens.token_hash(secret)
        audit = json.dumps(client.audit_events())
    db = (home / "shipyard.db").read_bytes()
    assert secret.encode() not in db  # only the hash is kept
    assert secret not in audit and secret not in caplog.text
    assert _run(home, "tokens", "revoke", "ci").exit_code == 0
    assert json.loads(_run(home, "tokens", "list", "--json").output)[0]["revoked_at"]


def test_users_add_list_disable_and_token_limits(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    assert _run(home, "users", "add", "alice", "--role", "scientist").exit_code == 0
    too_much = _run(
        home, "tokens", "create", "--name", "a", "--role", "deployer", "--user", "alice"
    )
    assert too_much.exit_code != 0 and "user's role is 'scientist'" in _error(too_much)
    ok = _run(home, "tokens", "create", "--name", "a", "--role", "viewer", "--user", "alice")
    assert ok.exit_code == 0
    assert _run(home, "users", "disable", "alice").exit_code == 0
    [alice] = json.loads(_run(home, "users", "list", "--json").output)
    assert alice["disabled"] is True
    bad_role = _run(home, "users", "add", "bob", "--role", "root")
    assert bad_role.exit_code != 0 and "roles: viewer, predictor" in _error(bad_role)
    again = _run(home, "users", "add", "alice", "--role", "viewer")
    assert again.exit_code != 0 and "already exists" in _error(again)


def test_scoped_token_lists_its_scope(tmp_path: Path) -> None:
    home = tmp_path / "ws"
    created = _run(
        home,
        "tokens",
        "create",
        "--name",
        "fraud-predict",
        "--role",
        "predictor",
        "--deployment",
        "fraud",
        "--json",
    )
    assert created.exit_code == 0, created.output
    [entry] = json.loads(_run(home, "tokens", "list", "--json").output)
    assert entry["deployments"] == ["fraud"] and entry["models"] is None


def test_serve_refuses_no_auth_off_loopback(tmp_path: Path) -> None:
    refused = _run(tmp_path / "ws", "serve", "--no-auth", "--host", "0.0.0.0")
    assert refused.exit_code != 0
    assert "--no-auth is refused with --host 0.0.0.0" in _error(refused)
