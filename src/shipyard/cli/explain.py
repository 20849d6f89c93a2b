"""``shipyard models explain MODEL_URI --input FILE``: explanations offline, in this process."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from shipyard.cli.app import console, err_console, state
from shipyard.cli.output import fmt_number, print_json, table
from shipyard.cli.sample import read_sample


def explain_command(
    uri: Annotated[str, typer.Argument(help="models:/NAME/VERSION or models:/NAME@alias")],
    input: Annotated[Path, typer.Option("--input", "-i", help="CSV or Parquet rows")],
    rows: Annotated[int, typer.Option("--rows", help="Explain at most this many rows.")] = 1000,
    method: Annotated[
        str | None, typer.Option(help="tree_shap, linear_exact or sampled (default: best)")
    ] = None,
    top: Annotated[int, typer.Option(help="Attributions shown per row.")] = 3,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Why the model answers what it does: base value + attribution per input column.

    Exact for tree ensembles (TreeSHAP) and linear models; sampled (approximate)
    for other models. Every row shows the residual |base + sum - output|.
    """
    frame = read_sample(input, max_rows=rows)
    with Progress(
        TextColumn("explaining"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("explain", total=len(frame))
        explanation = state.client.explain(
            uri,
            frame,
            method=method,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    explained = explanation.to_rows()
    if as_json:
        print_json({"model": uri, "explanations": explained})
        return
    first = explained[0]
    approximate = " (approximate)" if explanation.approximate else " (exact)"
    console.print(
        f"{uri}: {explanation.method}{approximate}, {explanation.output_space} space, "
        f"base value {_short(first['base_value'])}, max residual "
        f"{fmt_number(float(explanation.residual.max()))}",
        highlight=False,
    )
    table(
        None,
        ["row", "output", "residual", f"top {top} attributions"],
        [
            (i, _short(r["output"]), fmt_number(r["residual"]), _top(r["attributions"], top))
            for i, r in enumerate(explained)
        ],
    )


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v:.4g}" for k, v in value.items())
    return f"{value:.4g}"


def _top(attributions: dict[str, Any], count: int) -> str:
    if attributions and isinstance(next(iter(attributions.values())), dict):
        return "; ".join(f"{k}: {_top(v, count)}" for k, v in attributions.items())
    ranked = sorted(attributions.items(), key=lambda kv: -abs(kv[1]))[:count]
    return ", ".join(f"{c} {v:+.3g}" for c, v in ranked)
