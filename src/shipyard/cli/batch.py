"""``shipyard batch predict|jobs``: score files in resumable, parallel batch jobs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from shipyard.batch.job import BatchProgress
from shipyard.cli.app import console, err_console, state
from shipyard.cli.output import print_json, table, when

batch_app = typer.Typer(
    help="Batch scoring of files: chunked, parallel (local or Dask), resumable.",
    no_args_is_help=True,
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


class _RowsPerSecond(TextColumn):
    def __init__(self) -> None:
        super().__init__("")

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        self.text_format = f"{speed:,.0f} rows/s" if speed else "- rows/s"
        return super().render(task)


@contextmanager
def _progress(show: bool) -> Iterator[Callable[[BatchProgress], None] | None]:
    """Rows, rows/s and ETA on stderr (``--json`` output on stdout stays clean)."""
    if not show:
        yield None
        return
    with Progress(
        TextColumn("scoring"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        _RowsPerSecond(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("rows", total=None)

        def update(progress: BatchProgress) -> None:
            bar.update(task, completed=progress.rows_done, total=progress.rows_total)

        yield update


@batch_app.command("predict")
def predict(
    target: Annotated[str, typer.Argument(help="models:/NAME/VERSION|@ALIAS, or a deployment.")],
    input: Annotated[
        str,
        typer.Option(
            "--input", help="CSV/Parquet file, folder, glob, fsspec URL or datasets:/NAME/V."
        ),
    ],
    output: Annotated[str, typer.Option("--output", help="Folder (or fsspec URL) for parts.")],
    id_column: Annotated[
        str | None, typer.Option(help="Input column copied to the output (default: row number).")
    ] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per partition.")] = 100_000,
    workers: Annotated[int, typer.Option(min=1, help="Local worker processes.")] = 1,
    scheduler: Annotated[
        str | None, typer.Option(help="Dask scheduler address (tcp://HOST:PORT).")
    ] = None,
    max_error_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of rejected rows that fails the job.")
    ] = 0.01,
    job: Annotated[
        str | None, typer.Option(help="Job name; rerun with the same name to resume.")
    ] = None,
    model_threads: Annotated[
        int | None,
        typer.Option(
            min=1, help="Native threads per worker (default: cores / workers; 1 on Dask)."
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Score every row of the input; bad rows go to OUTPUT/rejects.parquet."""
    with _progress(show=not as_json and err_console.is_terminal) as update:
        record = state.client.batch_predict(
            target,
            input,
            output,
            id_column=id_column,
            chunk_rows=chunk_rows,
            workers=workers,
            scheduler=scheduler,
            max_error_rate=max_error_rate,
            job=job,
            model_threads=model_threads,
            progress=update,
        )
    if as_json:
        print_json(record.to_public())
        return
    speed = f", {record.rows_per_s:,.0f} rows/s" if record.rows_per_s else ""
    console.print(
        f"batch job [bold]{record.name}[/] {record.status}: {record.rows_done:,} rows with "
        f"{record.model} v{record.version}{speed}, {record.rows_rejected:,} rejected "
        f"-> {record.output}"
    )


@batch_app.command("jobs")
def jobs(
    limit: Annotated[int, typer.Option(min=1, help="How many recent jobs.")] = 20,
    as_json: JsonFlag = False,
) -> None:
    """Recent jobs: status, rows done, rows/s, rejected rows, error."""
    records = state.client.batch_jobs(limit=limit)
    if as_json:
        print_json([r.to_public() for r in records])
        return
    table(
        None,
        ["job", "status", "model", "rows done", "rows/s", "rejected", "started", "error"],
        [
            (
                r.name,
                r.status,
                f"{r.model} v{r.version}",
                f"{r.rows_done:,}" + (f" / {r.rows_total:,}" if r.rows_total else ""),
                f"{r.rows_per_s:,.0f}" if r.rows_per_s else "-",
                f"{r.rows_rejected:,}",
                when(r.created_at),
                r.error[:80],
            )
            for r in records
        ],
    )
