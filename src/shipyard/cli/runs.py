"""``shipyard runs list|show|compare|history`` and ``shipyard experiments list``."""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli.app import console, state
from shipyard.cli.output import fmt_number, print_json, table, when

runs_app = typer.Typer(help="Search, inspect and compare tracked runs.", no_args_is_help=True)
experiments_app = typer.Typer(help="Experiments group runs.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@runs_app.command("list")
def list_runs(
    experiment: Annotated[
        list[str] | None, typer.Option("--experiment", "-e", help="Experiment name(s).")
    ] = None,
    filter: Annotated[
        str | None,
        typer.Option("--filter", "-f", help="e.g. \"metrics.auc > 0.9 and params.C = '1.0'\""),
    ] = None,
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", "-o", help="e.g. 'metrics.auc DESC'")
    ] = None,
    max_results: Annotated[int, typer.Option("--max", "-n", help="At most this many.")] = 100,
    as_json: JsonFlag = False,
) -> None:
    """Runs matching a filter, newest first unless ordered otherwise."""
    runs = state.client.search_runs(experiment or None, filter, order_by, max_results)
    if as_json:
        print_json([run.to_dict() for run in runs])
        return
    metric_keys = sorted({k for run in runs for k in run.metrics})[:6]
    rows = [
        [run.id[:12], run.experiment, run.name, run.status, when(run.start_time)]
        + [fmt_number(run.metrics.get(k)) for k in metric_keys]
        for run in runs
    ]
    columns = ["run", "experiment", "name", "status", "started", *metric_keys]
    table(f"{len(runs)} run(s)", columns, rows)


def _full_run_id(run_id: str) -> str:
    """Accept the 12-character prefix that ``runs list`` prints."""
    if len(run_id) == 32 or not run_id or any(c not in "0123456789abcdef" for c in run_id):
        return run_id
    matches = [
        r.id for r in state.client.search_runs(None, f"run_id LIKE '{run_id}%'", max_results=2)
    ]
    return matches[0] if len(matches) == 1 else run_id


@runs_app.command("show")
def show_run(run_id: str, as_json: JsonFlag = False) -> None:
    """Everything recorded for one run."""
    run = state.client.get_run(_full_run_id(run_id))
    if as_json:
        print_json(run.to_dict())
        return
    console.print(f"[bold]run {run.id}[/] ({run.name}) in experiment [bold]{run.experiment}[/]")
    console.print(
        f"status {run.status}, started {when(run.start_time)}, "
        f"ended {when(run.end_time)}, by {run.user}"
    )
    if run.error:
        console.print(f"[red]error:[/] {run.error}", highlight=False)
    console.print(f"source {run.source or '-'}  git {run.git_commit or '-'}", highlight=False)
    if run.params:
        table("params", ["key", "value"], sorted(run.params.items()))
    if run.metrics:
        table(
            "metrics (latest)",
            ["key", "value"],
            [(k, fmt_number(v)) for k, v in sorted(run.metrics.items())],
        )
    if run.tags:
        table("tags", ["key", "value"], sorted(run.tags.items()))
    if run.artifacts:
        table(
            "artifacts",
            ["path", "sha256", "bytes"],
            [(a.path, a.sha256[:16], a.size) for a in run.artifacts],
        )
    if run.inputs:
        table(
            "inputs",
            ["dataset", "version", "digest"],
            [(i.dataset, i.version, i.digest or "-") for i in run.inputs],
        )


@runs_app.command("compare")
def compare_runs(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    as_json: JsonFlag = False,
) -> None:
    """Params and metrics of several runs side by side; differing params are marked."""
    comparison = state.client.compare_runs([_full_run_id(r) for r in run_ids])
    if as_json:
        print_json(comparison.to_dict())
        return
    headers = ["", *[f"{r.name} ({r.id[:8]})" for r in comparison.runs]]
    rows = []
    for key, values in comparison.params.items():
        differs = len({v for v in values}) > 1
        rows.append([f"params.{key}{' *' if differs else ''}", *[v or "-" for v in values]])
    for key, numbers in comparison.metrics.items():
        rows.append([f"metrics.{key}", *[fmt_number(v) for v in numbers]])
    table("comparison (* = params that differ)", headers, rows)


@runs_app.command("history")
def metric_history(run_id: str, key: str, as_json: JsonFlag = False) -> None:
    """Every logged point of one metric."""
    points = state.client.get_metric_history(_full_run_id(run_id), key)
    if as_json:
        print_json([p.__dict__ for p in points])
        return
    table(
        f"{key}: {len(points)} point(s)",
        ["step", "value", "time"],
        [(p.step, fmt_number(p.value), when(p.timestamp)) for p in points],
    )


@experiments_app.command("list")
def list_experiments(as_json: JsonFlag = False) -> None:
    """All experiments."""
    experiments = state.client.list_experiments()
    if as_json:
        print_json([e.__dict__ for e in experiments])
        return
    table(
        None, ["id", "name", "created"], [(e.id, e.name, when(e.created_at)) for e in experiments]
    )
