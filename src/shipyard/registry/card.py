"""The model card: a Markdown page generated for every version."""

from __future__ import annotations

import datetime as dt
import platform
from typing import Any

from shipyard.entities import Run
from shipyard.signature import Signature


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def render_card(
    *,
    name: str,
    version: int,
    flavor: str,
    sha256: str,
    size: int,
    signature: Signature,
    requirements: list[str],
    metrics: dict[str, float],
    run: Run | None,
    description: str,
    created_at: int,
    created_by: str,
    derived: dict[str, Any] | None = None,
) -> str:
    lines = [
        f"# Model card: {name} v{version}",
        "",
        description or "_No description yet: set one with `shipyard models describe`._",
        "",
        "## Summary",
        "",
        "| field | value |",
        "|---|---|",
        f"| URI | `models:/{name}/{version}` |",
        f"| flavor | {flavor} |",
        f"| registered | {_when(created_at)} by {_cell(created_by)} |",
        f"| artifact | sha256 `{sha256}` ({size:,} bytes) |",
        f"| python | {platform.python_version()} |",
    ]
    if signature.outputs is not None:
        lines.append(f"| task | {signature.outputs.task} |")
        if signature.outputs.classes is not None:
            lines.append(f"| classes | {', '.join(map(str, signature.outputs.classes))} |")
    if derived is not None:
        lines += ["", "## Derived from", "", f"Converted from `{derived['source']}`."]
        lines += ["", "| field | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in derived.items() if k != "source"]
    if run is not None:
        lines += [
            "",
            "## Training run",
            "",
            f"Run `{run.id}` ({_cell(run.name)}) in experiment `{run.experiment}`, "
            f"status {run.status}, git commit `{run.git_commit or 'unknown'}`.",
        ]
        if run.params:
            lines += ["", "| param | value |", "|---|---|"]
            lines += [f"| {_cell(k)} | {_cell(v)} |" for k, v in run.params.items()]
        if run.inputs:
            lines += ["", "Data: " + ", ".join(f"`{i.dataset}` v{i.version}" for i in run.inputs)]
    if metrics:
        lines += ["", "## Metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| {_cell(k)} | {v:.6g} |" for k, v in sorted(metrics.items())]
    lines += [
        "",
        "## Input signature",
        "",
        "| column | dtype | nullable | values seen |",
        "|---|---|---|---|",
    ]
    for column in signature.inputs:
        if column.categories is not None:
            seen = ", ".join(map(str, column.categories[:10]))
            if len(column.categories) > 10:
                seen += f", … ({len(column.categories)} levels)"
        elif column.minimum is not None:
            seen = f"{column.minimum:.6g} … {column.maximum:.6g}"
        else:
            seen = ""
        lines.append(
            f"| {_cell(column.name)} | {column.dtype} | {'yes' if column.nullable else 'no'} "
            f"| {_cell(seen)} |"
        )
    if requirements:
        lines += ["", "## Requirements", "", "```", *requirements, "```"]
    lines += [
        "",
        "## Intended use and limitations",
        "",
        "_Describe who should use this model, for what, and where it must not be used._",
        "",
    ]
    return "\n".join(lines)


def importance_section(
    ranked: list[tuple[str, float]], *, rows: int, method: str, output_space: str, source: str
) -> str:
    """The card's "Global feature importance" section (computed after registration, from
    the prediction log, so it is appended when the card is read)."""
    lines = [
        "## Global feature importance",
        "",
        f"Mean |attribution| ({method}, {output_space} space) over {rows:,} logged "
        f"predictions of {_cell(source)}.",
        "",
        "| rank | column | mean \\|attribution\\| |",
        "|---|---|---|",
    ]
    lines += [f"| {i} | {_cell(c)} | {v:.6g} |" for i, (c, v) in enumerate(ranked, 1)]
    return "\n".join(lines) + "\n"
