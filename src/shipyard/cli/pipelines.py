"""``shipyard pipelines ...`` and ``shipyard worker``: continuous training."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from typing import Annotated

import typer

from shipyard.cli.app import console, state
from shipyard.cli.output import print_json, table, when
from shipyard.errors import InvalidInput
from shipyard.store.pipeline_records import PipelineRunRecord

pipelines_app = typer.Typer(
    help="Pipelines: retrain, gate, register and roll out, by trigger or by hand.",
    no_args_is_help=True,
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
STATUS_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "rolled_back": "red",
    "rejected": "yellow",
    "awaiting_approval": "yellow",
    "deploying": "cyan",
    "running": "cyan",
    "queued": "dim",
    "cached": "green",
    "waiting": "cyan",
    "pending": "dim",
}


def _styled(status: str) -> str:
    style = STATUS_STYLE.get(status, "")
    return f"[{style}]{status}[/]" if style else status


def _params(pairs: list[str]) -> dict[str, str]:
    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--param takes KEY=VALUE, got {pair!r}")
        params[key.strip()] = value
    return params


@pipelines_app.command("register")
def register(
    name: str,
    source: Annotated[str, typer.Argument(help="A .py file or an importable module.")],
) -> None:
    """Check and register a pipeline (and its triggers) from a file or module."""
    record = state.client.register_pipeline(name, source)
    steps = " → ".join(s["name"] for s in record.definition["steps"])
    console.print(
        f"registered pipeline [bold]{name}[/] v{record.version} "
        f"(code sha256 {record.code_sha256[:12]}…): {steps}"
    )
    for trigger in state.client.pipeline_triggers(name):
        console.print(f"  trigger {trigger.key} (cool-down {trigger.spec['cooldown_s']:g}s)")


@pipelines_app.command("list")
def list_pipelines(as_json: JsonFlag = False) -> None:
    """Registered pipelines, their steps and triggers."""
    records = state.client.list_pipelines()
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    triggers = state.client.pipeline_triggers()
    table(
        None,
        ["name", "version", "steps", "triggers", "source", "updated"],
        [
            (
                r.name,
                r.version,
                " → ".join(s["name"] for s in r.definition["steps"]),
                ", ".join(t.key for t in triggers if t.pipeline == r.name) or "-",
                r.source,
                when(r.updated_at),
            )
            for r in records
        ],
    )


@pipelines_app.command("triggers")
def triggers(
    name: Annotated[str | None, typer.Argument()] = None, as_json: JsonFlag = False
) -> None:
    """Triggers, when each last started a run, and how many signals it suppressed."""
    records = state.client.pipeline_triggers(name)
    if as_json:
        print_json([t.to_dict() for t in records])
        return
    table(
        None,
        ["pipeline", "trigger", "cool-down", "last fired", "suppressed"],
        [
            (
                t.pipeline,
                t.key,
                f"{t.spec['cooldown_s']:g}s",
                when(t.last_fired_at or None),
                t.suppressed,
            )
            for t in records
        ],
    )


@pipelines_app.command("run")
def run(
    name: str,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE, repeatable.")
    ] = None,
    detach: Annotated[
        bool, typer.Option("--detach", help="Only queue it; a serve/worker process runs it.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run a pipeline now, here (until it ends or waits for an approval or a rollout)."""
    record = state.client.run_pipeline(name, _params(param or []), wait=not detach)
    _show(record, as_json=as_json, logs=False)


@pipelines_app.command("runs")
def runs(
    name: Annotated[str | None, typer.Argument()] = None,
    status: Annotated[str | None, typer.Option(help="Only runs in this status.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    as_json: JsonFlag = False,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many newest runs.")] = 0,
) -> None:
    """Recent runs: trigger, status, outcome."""
    records = state.client.pipeline_runs(name, status=status, limit=limit, offset=offset)
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    table(
        None,
        ["run", "pipeline", "status", "trigger", "started", "ended", "outcome / error"],
        [
            (
                r.id,
                r.pipeline,
                _styled(r.status),
                _trigger_text(r),
                when(r.created_at),
                when(r.ended_at),
                (r.error or r.outcome)[:120],
            )
            for r in records
        ],
    )


@pipelines_app.command("show")
def show(
    run_id: int,
    logs: Annotated[bool, typer.Option("--logs", help="Print every step's log.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """One run: trigger, parameters, code version, and each step's status, time and outputs."""
    _show(state.client.get_pipeline_run(run_id), as_json=as_json, logs=logs)


@pipelines_app.command("approve")
def approve(
    run_id: int, comment: Annotated[str, typer.Option(help="Why (recorded).")] = ""
) -> None:
    """Let a run waiting for approval go on; a serve/worker process continues it."""
    record = state.client.approve_pipeline_run(run_id, comment=comment)
    console.print(f"run {run_id} approved by {state.client.actor}: {_styled(record.status)}")


@pipelines_app.command("reject")
def reject(run_id: int, comment: Annotated[str, typer.Option(help="Why (recorded).")] = "") -> None:
    """Stop a run waiting for approval; nothing more is deployed."""
    record = state.client.reject_pipeline_run(run_id, comment=comment)
    console.print(f"run {run_id} {_styled(record.status)}: {record.outcome}")


@pipelines_app.command("retry")
def retry(
    run_id: int,
    detach: Annotated[bool, typer.Option("--detach", help="Only queue it.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Run a failed run again from the step that failed."""
    _show(state.client.retry_pipeline_run(run_id, wait=not detach), as_json=as_json, logs=False)


@pipelines_app.command("delete")
def delete(name: str) -> None:
    """Unregister a pipeline and its triggers (its runs stay in the history)."""
    state.client.delete_pipeline(name)
    console.print(f"pipeline {name} deleted")


def _trigger_text(record: PipelineRunRecord) -> str:
    trigger = record.trigger
    source = trigger.get("source", "?")
    if source == "manual":
        return f"manual ({trigger.get('by', '?')})"
    if source == "alert":
        return f"alert {trigger.get('monitor')}/{trigger.get('rule')}"
    if source == "dataset":
        return f"dataset {trigger.get('dataset')}"
    return str(trigger.get("trigger", source))


def _show(record: PipelineRunRecord, *, as_json: bool, logs: bool) -> None:
    if as_json:
        print_json(record.to_dict())
        return
    console.print(
        f"pipeline run [bold]{record.id}[/] of {record.pipeline} v{record.pipeline_version} "
        f"(code {record.code_sha256[:12]}…, attempt {record.attempt}): {_styled(record.status)}"
    )
    console.print(f"  trigger: {_trigger_text(record)}   started {when(record.created_at)}")
    params = {k: v for k, v in record.params.items() if not k.startswith("_")}
    console.print(f"  params: {json.dumps(params, default=str)}")
    approval = record.params.get("_approval")
    if approval:
        verdict = "approved" if approval["approved"] else "rejected"
        console.print(f"  {verdict} by {approval['by']} at {when(approval['at'])}")
    table(
        None,
        ["step", "status", "seconds", "outputs", "error"],
        [
            (
                s.name,
                _styled(s.status),
                "-" if s.duration_s is None else f"{s.duration_s:.2f}",
                _outputs_text(s.outputs),
                s.error[:160],
            )
            for s in record.steps
        ],
    )
    if record.outcome:
        console.print(f"  outcome: {record.outcome}")
    if record.error:
        console.print(f"  [red]error[/]: {record.error}")
    if record.status == "awaiting_approval":
        console.print(
            f"  waiting for approval before {record.waiting.get('step')}: "
            f"shipyard pipelines approve {record.id}  (or reject)"
        )
    elif record.status == "deploying":
        console.print(
            f"  rolling out (rollout {record.waiting.get('rollout')}); a serve/worker process "
            f"finishes it: shipyard rollout status {record.waiting.get('deployment')}"
        )
    elif record.status == "failed":
        console.print(f"  retry from the failed step: shipyard pipelines retry {record.id}")
    if logs:
        for step in record.steps:
            if step.logs:
                console.rule(step.name)
                console.print(step.logs, markup=False, highlight=False)


def _outputs_text(outputs: dict[str, object]) -> str:
    value = outputs.get("value", outputs.get("waiting"))
    if isinstance(value, dict):
        if "$dataset" in value:
            return f"datasets:/{value['$dataset']}/{value['version']}"
        if "$model" in value:
            return f"models:/{value['$model']}/{value['version']}"
        if "$run" in value:
            return f"run {str(value['$run'])[:12]}"
        if "passed" in value:
            failed = [c["name"] for c in value.get("checks", []) if not c["passed"]]
            return "gate passed" if value["passed"] else f"gate failed: {', '.join(failed)}"
        if "rollout" in value:
            return f"rollout {value['rollout']} {value.get('status', 'running')}"
    text = json.dumps(value, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def worker(
    tick: Annotated[float, typer.Option(help="Seconds between trigger checks.")] = 1.0,
) -> None:
    """Run the pipeline scheduler and an executor without serving (apart from `serve`)."""
    from shipyard.pipelines.scheduler import PipelineExecutor, PipelineScheduler

    client = state.client
    holder = f"{socket.gethostname()}-{os.getpid()}-worker"

    async def main() -> None:
        scheduler = PipelineScheduler(client.store, holder, tick_s=tick)
        executor = PipelineExecutor(client, holder, poll_s=tick)
        scheduler.start()
        executor.start()
        console.print(f"pipeline worker {holder} running (Ctrl+C stops it)")
        # A pod is stopped with SIGTERM: finish the current step and hand the rest back
        # (the executor's close), as Ctrl+C does, instead of dying mid-step.
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await stop.wait()
        finally:
            await scheduler.close()
            await asyncio.to_thread(executor.close)

    with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C: main's finally has run
        asyncio.run(main())
    console.print("worker stopped")
