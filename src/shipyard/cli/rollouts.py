"""``shipyard rollout start|status|pause|resume|promote|abort`` and ``shipyard webhooks``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli.app import console, refuse_unused, state
from shipyard.cli.output import print_json, read_spec, table, when
from shipyard.deploy.analysis import Thresholds
from shipyard.deploy.rollouts import RolloutSpec, parse_duration
from shipyard.errors import InvalidInput

rollout_app = typer.Typer(
    help="Change a deployment step by step under automated analysis.", no_args_is_help=True
)
webhooks_app = typer.Typer(
    help="Send deployment and rollout events to HTTP endpoints.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@rollout_app.command("start")
def start(
    deployment: str,
    to: Annotated[str | None, typer.Option("--to", help="fraud@challenger or fraud/4.")] = None,
    strategy: Annotated[str | None, typer.Option(help="canary [default: canary]")] = None,
    steps: Annotated[
        str | None, typer.Option(help="Traffic percentages, ending at 100 [default: 5,25,50,100].")
    ] = None,
    interval: Annotated[
        str | None, typer.Option(help="Minimum time per step, e.g. 60s [default: 60s].")
    ] = None,
    deadline: Annotated[
        str | None,
        typer.Option(help="Longest wait for enough traffic per step (default 10 x interval)."),
    ] = None,
    on_deadline: Annotated[
        str | None, typer.Option(help="fail (roll back) or pause [default: fail].")
    ] = None,
    min_agreement: Annotated[float | None, typer.Option(help="Agreement threshold.")] = None,
    max_divergence: Annotated[float | None, typer.Option(help="JS distance threshold.")] = None,
    min_samples: Annotated[int | None, typer.Option(help="Comparisons needed per check.")] = None,
    spec: Annotated[
        Path | None, typer.Option("--spec", help="A YAML or JSON rollout spec.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Start a rollout of DEPLOYMENT to a new version; the server's controller runs it."""
    if spec is not None:
        refuse_unused(
            "--spec (put them in the spec file; only --to overrides it)",
            strategy=strategy,
            steps=steps,
            interval=interval,
            deadline=deadline,
            on_deadline=on_deadline,
            min_agreement=min_agreement,
            max_divergence=max_divergence,
            min_samples=min_samples,
        )
        data = read_spec(spec, "rollout")
        if to is not None:
            data["to"] = to
        rollout_spec = RolloutSpec.from_dict(data)
    else:
        if to is None:
            raise InvalidInput("name the new version with --to (or give --spec)")
        interval_s = parse_duration(interval or "60s")
        steps = steps or "5,25,50,100"
        overrides = {
            k: v
            for k, v in {
                "min_agreement": min_agreement,
                "max_divergence": max_divergence,
                "min_compared": min_samples,
            }.items()
            if v is not None
        }
        try:
            weights = tuple(float(s) for s in steps.split(","))
        except ValueError:
            raise InvalidInput(f"--steps must be numbers like 5,25,50,100, got {steps!r}") from None
        rollout_spec = RolloutSpec(
            to=to,
            strategy=strategy or "canary",
            steps=weights,
            interval_s=interval_s,
            deadline_s=parse_duration(deadline) if deadline else interval_s * 10,
            on_deadline=on_deadline or "fail",
            thresholds=Thresholds.from_dict(overrides),
        )
    record = state.client.start_rollout(deployment, rollout_spec)
    if as_json:
        print_json(record.to_dict())
        return
    console.print(
        f"rollout {record.id} of [bold]{deployment}[/]: v{record.baseline_version} → "
        f"v{record.candidate_version}, steps {list(rollout_spec.steps)}; "
        "`shipyard serve` runs it — follow with "
        f"[cyan]shipyard rollout status {deployment}[/]"
    )


@rollout_app.command("status")
def status(deployment: str, as_json: JsonFlag = False) -> None:
    """The latest rollout: state, every step, check value, decision and reason."""
    client = state.client
    record = client.rollout(deployment)
    events = client.rollout_events(record.id)
    checks = client.rollout_checks(deployment) if record.status in ("running", "paused") else []
    if as_json:
        print_json(
            {
                "rollout": record.to_dict(),
                "events": [e.to_dict() for e in events],
                "checks": [c.to_dict() for c in checks],
            }
        )
        return
    steps = record.spec["steps"]
    console.print(
        f"rollout {record.id} of [bold]{deployment}[/]: [bold]{record.status}[/] "
        f"v{record.baseline_version} → v{record.candidate_version}, step "
        f"{record.step_index + 1}/{len(steps)} ({steps[record.step_index]:g}%)"
        + (f" — {record.reason}" if record.reason else "")
    )
    rows = []
    for event in events:
        detail = event.details.get("reason") or ""
        if event.kind == "advance":
            detail = f"{event.details['from_step']:g}% → {event.details['to_step']:g}%"
        rows.append((when(event.at), event.kind, event.actor, detail))
    table("history", ["when", "event", "by", "detail"], rows)
    if checks:
        table(
            "current step checks",
            ["check", "status", "value", "threshold", "samples"],
            [
                (
                    c.name,
                    c.status,
                    "-" if c.value is None else f"{c.value:.4g}",
                    c.threshold,
                    f"{c.samples}/{c.min_samples}",
                )
                for c in checks
            ],
        )


def _action(name: str, verb: str) -> None:
    method = getattr(state.client, f"{verb}_rollout")
    record = method(name)
    console.print(f"rollout {record.id} of {name}: {record.status}")


@rollout_app.command("pause")
def pause(deployment: str) -> None:
    """Stop advancing (traffic stays where it is)."""
    _action(deployment, "pause")


@rollout_app.command("resume")
def resume(deployment: str) -> None:
    _action(deployment, "resume")


@rollout_app.command("promote")
def promote(deployment: str) -> None:
    """Finish now: move the alias (or version) to the new version."""
    _action(deployment, "promote")


@rollout_app.command("abort")
def abort(deployment: str) -> None:
    """Stop and return to the original policy."""
    _action(deployment, "abort")


@webhooks_app.command("add")
def add_webhook(
    url: str,
    events: Annotated[
        list[str] | None,
        typer.Option("--event", help="Action prefixes, e.g. rollout. (default: all)"),
    ] = None,
) -> None:
    webhook_id = state.client.add_webhook(url, events)
    console.print(f"webhook {webhook_id} → {url}")


@webhooks_app.command("list")
def list_webhooks(as_json: JsonFlag = False) -> None:
    hooks = state.client.list_webhooks()
    if as_json:
        print_json([{"id": i, "url": u, "events": e} for i, u, e in hooks])
        return
    table(None, ["id", "url", "events"], [(i, u, ", ".join(e)) for i, u, e in hooks])


@webhooks_app.command("remove")
def remove_webhook(webhook_id: int) -> None:
    state.client.remove_webhook(webhook_id)
    console.print(f"removed webhook {webhook_id}")
