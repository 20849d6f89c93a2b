"""``shipyard optimize``: compile a scikit-learn version to ONNX behind a parity gate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from shipyard.cli.app import console, err_console, state
from shipyard.cli.output import print_json, table

#: The phases ``Client.optimize`` reports, in order, with what the bar says.
PHASES = {
    "sample": "reading the sample",
    "convert": "converting with skl2onnx",
    "parity": "checking parity",
    "quantize": "quantizing",
    "latency": "timing 1 and 1,000 rows",
    "register": "registering the version",
}


@contextmanager
def _progress(show: bool) -> Iterator[Callable[[str], None] | None]:
    """One bar over the phases on stderr (``--json`` output on stdout stays clean)."""
    if not show:
        yield None
        return
    with Progress(
        TextColumn("{task.description:<26}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=len(PHASES))
        done: set[str] = set()

        def update(phase: str) -> None:
            done.add(phase)
            bar.update(task, completed=len(done) - 1, description=PHASES.get(phase, phase))

        yield update


def optimize(
    model_uri: Annotated[str, typer.Argument(help="models:/NAME/VERSION or models:/NAME@ALIAS.")],
    to: Annotated[str, typer.Option("--to", help="Target format.")] = "onnx",
    sample: Annotated[
        str | None,
        typer.Option(
            "--sample",
            help="Rows to check parity on: datasets:/NAME/V or a CSV/Parquet file "
            "(default: the version's reference data).",
        ),
    ] = None,
    max_diff: Annotated[
        float,
        typer.Option("--max-diff", min=0.0, help="Largest |Δprobability| (|Δprediction|) allowed."),
    ] = 1e-5,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Register an ONNX version of a scikit-learn version if it answers the same.

    At least 1,000 rows (NaN rows included where the model takes them) must agree
    within --max-diff with no label flip; otherwise nothing is registered and the
    worst rows are shown.
    """
    with _progress(show=not as_json and err_console.is_terminal) as update:
        result = state.client.optimize(
            model_uri, sample=sample, max_diff=max_diff, to=to, progress=update
        )
    if as_json:
        print_json(result.to_dict())
        return
    latency = result.latency
    console.print(
        f"registered [bold]{result.version.uri}[/] (onnx, {result.input_dtype} inputs) "
        f"derived from {result.source}",
        highlight=False,
    )
    console.print(f"parity: {result.parity.summary()}", highlight=False)
    table(
        "latency, one thread (medians)",
        ["rows", "scikit-learn ms", "onnx ms", "speed-up"],
        [
            (
                1,
                f"{latency.source_1_row_ms:.3f}",
                f"{latency.onnx_1_row_ms:.3f}",
                f"{latency.speedup_1_row:.1f}x",
            ),
            (
                "1,000",
                f"{latency.source_1000_rows_ms:.2f}",
                f"{latency.onnx_1000_rows_ms:.2f}",
                f"{latency.speedup_1000_rows:.1f}x",
            ),
        ],
    )
    console.print(f"quantization: {result.quantization['status']}", highlight=False)
