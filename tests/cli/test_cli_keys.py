"""``shipyard keys``: create, status, rotate, encrypt-existing, and their errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from shipyard import Client
from shipyard.cli.main import app, run
from shipyard.config import StoreSettings

runner = CliRunner()
ENV = "SHIPYARD_ENCRYPTION_KEY_FILE"


def _run(home: Path, key: Path | None, *args: str, code: int = 0) -> str:
    env = {ENV: str(key)} if key else {}
    result = runner.invoke(app, ["--home", str(home), *args], env=env)
    assert result.exit_code == code, result.output
    return result.output


def _error(home: Path, key: Path | None, *args: str, code: int, monkeypatch, capsys) -> str:
    """What the console script prints for a failing command: one line, an exit code."""
    if key is not None:
        monkeypatch.setenv(ENV, str(key))
    monkeypatch.setattr(sys, "argv", ["shipyard", "--home", str(home), *args])
    with pytest.raises(SystemExit) as info:
        run()
    assert info.value.code == code
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) <= 2
    return " ".join(err.split())


def _create(home: Path, path: Path) -> str:
    return str(
        json.loads(_run(home, None, "keys", "create", "--out", str(path), "--json"))["key_id"]
    )


def _fill(home: Path, key: Path | None) -> None:
    with Client(settings=StoreSettings(home=home, encryption_key_file=key)) as client:
        client.add_dataset("sales", pd.DataFrame({"amount": [1.0, 2.5, 4.0]}))


def test_create_writes_a_private_key_and_never_prints_it(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    home, path = tmp_path / "ws", tmp_path / "a.key"
    result = runner.invoke(app, ["--home", str(home), "keys", "create", "--out", str(path)])
    assert result.exit_code == 0, result.output
    assert oct(path.stat().st_mode)[-3:] == "600"
    assert path.read_text().strip() not in result.output
    assert "SHIPYARD_ENCRYPTION_KEY_FILE" in result.output
    again = _error(
        home,
        None,
        "keys",
        "create",
        "--out",
        str(path),
        code=2,
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert "refusing to overwrite" in again


def test_rotate_rewraps_everything_and_status_shows_the_new_key(tmp_path: Path) -> None:
    home, old, new = tmp_path / "ws", tmp_path / "old.key", tmp_path / "new.key"
    old_id, new_id = _create(home, old), _create(home, new)
    _fill(home, old)
    before = json.loads(_run(home, old, "keys", "status", "--json"))
    assert list(before) == [old_id]
    report = json.loads(_run(home, old, "keys", "rotate", "--new-key-file", str(new), "--json"))
    assert report == {"key_id": new_id, "rewrapped": before[old_id], "current": 0, "plaintext": 0}
    assert json.loads(_run(home, new, "keys", "status", "--json")) == {new_id: before[old_id]}
    assert "0 file(s) re-wrapped" in _run(home, old, "keys", "rotate", "--new-key-file", str(new))
    for key in (old, new):
        assert key.read_text().strip() not in _run(home, new, "keys", "status")
    with Client(settings=StoreSettings(home=home, encryption_key_file=new)) as client:
        assert client.load_dataset("datasets:/sales/1")["amount"].tolist() == [1.0, 2.5, 4.0]


def test_rotating_with_the_wrong_current_key_is_a_clear_one_line_error(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    home, right, wrong, new = (tmp_path / n for n in ("ws", "right.key", "wrong.key", "new.key"))
    right_id = _create(home, right)
    _create(home, wrong)
    _create(home, new)
    _fill(home, right)
    args = ("keys", "rotate", "--new-key-file", str(new))
    output = _error(home, wrong, *args, code=1, monkeypatch=monkeypatch, capsys=capsys)
    assert f"encrypted with key id {right_id}" in output
    missing = _error(
        home,
        tmp_path / "nope.key",
        "keys",
        "status",
        code=1,
        monkeypatch=monkeypatch,
        capsys=capsys,
    )
    assert "cannot read encryption key file" in missing


def test_encrypt_existing_seals_files_written_before_the_key(tmp_path: Path) -> None:
    home, key = tmp_path / "ws", tmp_path / "k.key"
    key_id = _create(home, key)
    _fill(home, None)
    status = json.loads(_run(home, key, "keys", "status", "--json"))
    assert list(status) == ["plaintext"]
    assert f"{status['plaintext']} plaintext file(s) encrypted" in _run(
        home, key, "keys", "encrypt-existing"
    )
    assert json.loads(_run(home, key, "keys", "status", "--json")) == {key_id: status["plaintext"]}
