"""``shipyard stream consume|status|produce``: thin adapters over the SDK's stream methods."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from shipyard.cli.app import console, err_console, state
from shipyard.cli.output import print_json, table
from shipyard.config import ServerSettings
from shipyard.deploy.rollouts import parse_duration

if TYPE_CHECKING:
    from shipyard.serving.stream import StreamConsumer

stream_app = typer.Typer(
    help="Score Redis Streams with a deployment (consumer groups, exactly-once output).",
    no_args_is_help=True,
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
RedisOption = Annotated[
    str,
    typer.Option(
        "--redis",
        envvar="SHIPYARD_REDIS_URL",
        help="redis://[:PASSWORD@]HOST:PORT/DB (or SHIPYARD_REDIS_URL, to keep a password "
        "off the command line).",
    ),
]
StreamOption = Annotated[str, typer.Option("--stream", help="The input stream's key.")]


class _Counts(ProgressColumn):
    """The consumer's counters, read at each refresh (nothing to update by hand)."""

    def __init__(self, consumer: StreamConsumer) -> None:
        super().__init__()
        self.consumer = consumer

    def render(self, task: Any) -> Text:
        c = self.consumer.counts
        elapsed = task.elapsed or 0.0
        rate = c.scored / elapsed if elapsed > 0 else 0.0
        return Text(
            f"scored {c.scored:,}  dead-lettered {c.dead_lettered:,}  "
            f"reclaimed {c.reclaimed:,}  {rate:,.0f} msg/s"
        )


@stream_app.command("consume")
def consume(
    deployment: str,
    redis: RedisOption,
    stream: StreamOption,
    group: Annotated[str, typer.Option("--group", help="The consumer group (created if new).")],
    consumer: Annotated[
        str | None,
        typer.Option(help="This consumer's name, stable across restarts [default: host name]."),
    ] = None,
    out_stream: Annotated[
        str | None, typer.Option(help="Where results go [default: STREAM:out].")
    ] = None,
    dead_stream: Annotated[
        str | None, typer.Option(help="Where rejected messages go [default: STREAM:dead].")
    ] = None,
    batch: Annotated[int, typer.Option(min=1, help="Messages per read (one model call).")] = 100,
    max_deliveries: Annotated[
        int, typer.Option(min=1, help="Dead-letter a message delivered more often than this.")
    ] = 5,
    min_idle: Annotated[
        str,
        typer.Option(help="Reclaim other consumers' messages pending this long (30s, 2m)."),
    ] = "30s",
    max_in_flight: Annotated[
        int, typer.Option(min=1, help="Batches read but not yet acknowledged.")
    ] = 2,
    new_only: Annotated[
        bool,
        typer.Option(help="A new group starts at the stream's end ($), not its beginning (0)."),
    ] = False,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port.")
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Interface of the metrics port.")] = "127.0.0.1",
    model_threads: Annotated[
        int, typer.Option(min=1, help="OpenMP/BLAS threads for the model.")
    ] = 1,
    max_messages: Annotated[
        int | None, typer.Option(min=1, help="Stop after at least this many messages.")
    ] = None,
    duration: Annotated[str | None, typer.Option(help="Stop after this long (10s, 5m).")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Consume STREAM in GROUP and score each message with DEPLOYMENT until SIGTERM/SIGINT.

    Each message is one input row (one field per column) or an `inputs` field with
    JSON records. Results go to the output stream keyed by the input message id; a
    message is acknowledged only together with its result, so a killed consumer
    loses nothing and each id is answered once.
    """
    settings = ServerSettings(model_threads=model_threads)
    worker = state.client.stream_consumer(
        deployment,
        redis_url=redis,
        stream=stream,
        group=group,
        consumer=consumer,
        out_stream=out_stream,
        dead_stream=dead_stream,
        batch=batch,
        max_deliveries=max_deliveries,
        min_idle_s=parse_duration(min_idle),
        start_id="$" if new_only else "0",
        max_in_flight=max_in_flight,
        metrics_port=metrics_port,
        metrics_host=metrics_host,
        settings=settings,
    )
    seconds = parse_duration(duration) if duration else None
    config = worker.config
    if json_output:
        counts = worker.run(messages=max_messages, seconds=seconds)
        print_json(
            {
                "deployment": deployment,
                "redis": config.safe_url,
                "stream": config.stream,
                "group": config.group,
                "consumer": config.consumer,
                "read": counts.read,
                "scored": counts.scored,
                "dead_lettered": counts.dead_lettered,
                "skipped": counts.skipped,
                "reclaimed": counts.reclaimed,
            }
        )
        return
    err_console.print(
        f"starting consumer [bold]{config.consumer}[/] of group [bold]{config.group}[/] on "
        f"{config.stream} ({config.safe_url}) scores with [bold]{deployment}[/]; "
        f"results to {config.results}",
        highlight=False,
    )
    with Progress(
        SpinnerColumn(), TimeElapsedColumn(), _Counts(worker), console=err_console, transient=True
    ) as progress:
        progress.add_task("consume", total=None)
        counts = worker.run(messages=max_messages, seconds=seconds)
    console.print(
        f"stopped: {counts.scored:,} scored, {counts.dead_lettered:,} dead-lettered, "
        f"{counts.reclaimed:,} reclaimed from idle consumers",
        highlight=False,
    )


@stream_app.command("status")
def status(
    redis: RedisOption,
    stream: StreamOption,
    group: Annotated[
        str | None, typer.Option("--group", help="Show this group only [default: all].")
    ] = None,
    out_stream: Annotated[str | None, typer.Option(help="[default: STREAM:out]")] = None,
    dead_stream: Annotated[str | None, typer.Option(help="[default: STREAM:dead]")] = None,
    json_output: JsonFlag = False,
) -> None:
    """Stream length, each group's lag and pending, consumers, output and dead-letter lengths."""
    result = state.client.stream_status(
        redis, stream, group, out_stream=out_stream, dead_stream=dead_stream
    )
    if json_output:
        print_json(result.to_dict())
        return
    console.print(
        f"{result.stream}: {result.length:,} entries; {result.out_stream}: "
        f"{result.out_length:,}; {result.dead_stream}: {result.dead_length:,}  ({result.redis})",
        highlight=False,
    )
    table(
        None,
        ["group", "lag", "pending", "last delivered", "consumer", "its pending", "idle"],
        [
            (
                g.name if i == 0 else "",
                (g.lag if g.lag is not None else "?") if i == 0 else "",
                g.pending if i == 0 else "",
                g.last_delivered_id if i == 0 else "",
                c.name if c else "-",
                c.pending if c else "",
                f"{c.idle_ms / 1000:.1f}s" if c else "",
            )
            for g in result.groups
            for i, c in enumerate(g.consumers or [None])
        ],
    )


@stream_app.command("produce")
def produce(
    path: Annotated[Path, typer.Argument(help="A .csv or .parquet file; one message per row.")],
    redis: RedisOption,
    stream: StreamOption,
    json_output: JsonFlag = False,
) -> None:
    """Add each row of a file to STREAM (one field per column), for trials and tests."""
    with Progress(
        TextColumn("adding rows"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=json_output,
    ) as progress:
        task = progress.add_task("produce", total=None)
        ids = state.client.stream_produce(
            redis, stream, path, progress=lambda n: progress.advance(task, n)
        )
    if json_output:
        print_json({"stream": stream, "added": len(ids), "first": ids[:1], "last": ids[-1:]})
        return
    console.print(f"added {len(ids):,} messages to {stream}", highlight=False)
