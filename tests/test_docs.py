"""The README cannot rot: its commands match CI and its Python example runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_readme_opens_with_the_two_setup_commands() -> None:
    first_two = _blocks("bash")[:2]
    assert "shipyard quickstart" in first_two[0]
    assert "'.[test]'" in first_two[1] and "pytest" in first_two[1]
    assert README.index(first_two[0]) < 200  # the README opens with them


def test_ci_runs_the_readmes_test_command() -> None:
    test_command = _blocks("bash")[1].strip()
    assert test_command in (ROOT / ".ci" / "run").read_text()


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path: Path) -> None:
    example = _blocks("python")[0]
    result = subprocess.run(
        [sys.executable, "-c", example],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "SHIPYARD_HOME": str(tmp_path / "ws")},
    )
    assert result.returncode == 0, result.stderr
    assert "Run(" in result.stdout
