"""Rendering for the CLI: Rich tables for people, ``--json`` for scripts."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from rich.table import Table

from shipyard.cli.app import console
from shipyard.errors import InvalidInput


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))


def when(ms: int | None) -> str:
    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000).strftime("%Y-%m-%d %H:%M:%S")


def table(title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*["" if cell is None else str(cell) for cell in row])
    console.print(grid)


def fmt_number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def read_spec(path: Path, what: str) -> dict[str, Any]:
    """A YAML or JSON mapping from a file, with a one-line error naming the problem."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise InvalidInput(f"cannot read {what} spec {str(path)!r}: {exc}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise InvalidInput(f"{what} spec {str(path)!r} does not parse: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"{what} spec {str(path)!r} must be a mapping")
    return data
