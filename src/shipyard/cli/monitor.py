"""``shipyard feedback upload`` and ``shipyard monitor drift|quality``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli.app import console, state
from shipyard.cli.output import fmt_number, print_json, table
from shipyard.deploy.rollouts import parse_duration

feedback_app = typer.Typer(help="Ground-truth labels for served predictions.", no_args_is_help=True)
monitor_app = typer.Typer(
    help="Drift and model quality of what a deployment serves.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Window = Annotated[str | None, typer.Option("--window", "-w", help="e.g. 24h (default: all)")]


@feedback_app.command("upload")
def upload(path: Path, deployment: Annotated[str, typer.Option("--deployment", "-d")]) -> None:
    """Labels from a CSV/Parquet file with request_id, label (and row) columns."""
    count = state.client.upload_feedback(deployment, path)
    console.print(f"{count:,} label(s) stored for {deployment}")


@monitor_app.command("drift")
def drift(deployment: str, window: Window = None, as_json: JsonFlag = False) -> None:
    """Per-feature and prediction drift of the window against the version's reference."""
    result = state.client.drift(deployment, window_s=parse_duration(window) if window else None)
    if as_json:
        print_json(result.to_dict())
        return
    verdict = "[red]DRIFT[/]" if result.drifted else "[green]no dataset drift[/]"
    console.print(
        f"{deployment}: {verdict} — {len(result.drifted_columns)} of "
        f"{len(result.columns)} column(s) drifted (share {result.share:.2f}, "
        f"threshold {result.threshold:g})"
    )
    table(
        None,
        ["column", "method", "statistic", "p-value", "threshold", "drift", "n"],
        [
            (
                r.column,
                r.method,
                fmt_number(r.statistic),
                fmt_number(r.p_value),
                r.threshold,
                "yes" if r.drifted else "",
                r.n_current,
            )
            for r in result.columns
        ],
    )


@monitor_app.command("quality")
def quality(
    deployment: str,
    window: Window = None,
    by: Annotated[str | None, typer.Option(help="version, arm or an input column")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Realized quality where labels arrived, and the label-free estimate (CBPE)."""
    results = state.client.model_quality(
        deployment, window_s=parse_duration(window) if window else None, by=by
    )
    if as_json:
        print_json([r.to_dict() for r in results])
        return
    names = sorted({k for r in results for k in r.metrics})
    table(
        None,
        ["group", "rows", "labelled", *names, "estimated accuracy"],
        [
            (
                r.group,
                r.rows,
                r.labelled,
                *[fmt_number(r.metrics.get(n)) for n in names],
                fmt_number(r.estimated.get("accuracy")),
            )
            for r in results
        ],
    )
