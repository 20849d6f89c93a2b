"""Shipyard's wheel is rebuilt when its source changes and reused while it does not."""

from __future__ import annotations

import os
from pathlib import Path

from shipyard.packaging.wheel import _fingerprint


def test_the_fingerprint_follows_source_edits_and_ignores_caches(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    module = tmp_path / "src" / "mod.py"
    module.write_text("A = 1\n")
    before = _fingerprint(tmp_path)
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "x").write_text("ignored")
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "y").write_text("ignored")
    assert _fingerprint(tmp_path) == before
    module.write_text("A = 2\n")
    os.utime(module, ns=(1, 1))
    assert _fingerprint(tmp_path) != before
