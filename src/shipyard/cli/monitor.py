"""``shipyard feedback upload`` and ``shipyard monitor drift|quality``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli.app import console, refuse_unused, state
from shipyard.cli.output import fmt_number, print_json, read_spec, table, when
from shipyard.deploy.rollouts import parse_duration
from shipyard.errors import InvalidInput

feedback_app = typer.Typer(
    help="Ground-truth labels and business outcomes for served predictions.",
    no_args_is_help=True,
)
monitor_app = typer.Typer(
    help="Drift and model quality of what a deployment serves.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Window = Annotated[str | None, typer.Option("--window", "-w", help="e.g. 24h (default: all)")]


@feedback_app.command("upload")
def upload(
    path: Path,
    deployment: Annotated[str, typer.Option("--deployment", "-d")],
    outcome: Annotated[
        list[str] | None,
        typer.Option(
            "--outcome",
            "-o",
            help="A column that holds a business outcome (repeatable); columns named "
            "outcome.<name> are outcomes anyway.",
        ),
    ] = None,
) -> None:
    """Feedback from a CSV/Parquet file: request_id (and row), a label column and/or
    outcome columns (e.g. outcome.clicked, outcome.revenue)."""
    count = state.client.upload_feedback(deployment, path, outcomes=tuple(outcome or ()))
    console.print(f"{count:,} feedback row(s) stored for {deployment}")


@monitor_app.command("drift")
def drift(deployment: str, window: Window = None, as_json: JsonFlag = False) -> None:
    """Per-feature and prediction drift of the window against the version's reference,
    beside each feature's global importance (mean |attribution|) once computed."""
    result = state.client.drift(deployment, window_s=parse_duration(window) if window else None)
    importance = state.client.serving_importance(deployment)
    if as_json:
        print_json({**result.to_dict(), "importance": importance.to_dict() if importance else None})
        return
    verdict = "[red]DRIFT[/]" if result.drifted else "[green]no dataset drift[/]"
    console.print(
        f"{deployment}: {verdict} — {len(result.drifted_columns)} of "
        f"{len(result.columns)} column(s) drifted (share {result.share:.2f}, "
        f"threshold {result.threshold:g})"
    )
    ranks = {c: i for i, (c, _) in enumerate(importance.ranked(), 1)} if importance else {}
    values = importance.values if importance else {}
    share = {c: v / (sum(values.values()) or 1.0) for c, v in values.items()}
    table(
        None,
        ["column", "method", "statistic", "p-value", "threshold", "drift", "n", "importance"],
        [
            (
                r.column,
                r.method,
                fmt_number(r.statistic),
                fmt_number(r.p_value),
                r.threshold,
                _drift_cell(r.drifted, share.get(r.column, 0.0)),
                r.n_current,
                f"#{ranks[r.column]} {share[r.column]:.0%}" if r.column in ranks else "",
            )
            for r in result.columns
        ],
    )
    if importance is None:
        console.print(
            "importance: not computed yet (the server computes it from the prediction log)"
        )


def _drift_cell(drifted: bool, share: float) -> str:
    """A drifting feature that carries a tenth of the model's attribution or more is flagged."""
    if not drifted:
        return ""
    return "[bold red]yes, matters[/]" if share >= 0.1 else "yes"


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


@monitor_app.command("create")
def create(
    name: str,
    deployment: Annotated[str | None, typer.Option("--deployment", "-d")] = None,
    window: Annotated[
        str | None, typer.Option("--window", "-w", help="e.g. 1h [default: 1h]")
    ] = None,
    every: Annotated[str | None, typer.Option("--every", help="Schedule [default: 5m]")] = None,
    rule: Annotated[
        list[str] | None, typer.Option("--rule", help="'drift_share >= 0.3' (repeatable)")
    ] = None,
    severity: Annotated[
        str | None,
        typer.Option(help="Of each --rule: info, warning or critical [default: warning]"),
    ] = None,
    for_: Annotated[
        str | None, typer.Option("--for", help="How long each --rule must hold [default: 0s]")
    ] = None,
    spec: Annotated[Path | None, typer.Option("--spec", help="YAML/JSON monitor spec")] = None,
) -> None:
    """Create a monitor; `shipyard serve` runs it on its schedule."""
    if spec is not None:
        refuse_unused(
            "--spec (put them in the spec file; only --deployment overrides it)",
            window=window,
            every=every,
            rule=rule,
            severity=severity,
            for_=for_,
        )
        data = read_spec(spec, "monitor")
        if deployment:
            data["deployment"] = deployment
    else:
        if deployment is None:
            raise InvalidInput("name the deployment with --deployment (or give --spec)")
        if not rule:
            refuse_unused("no --rule (they describe each --rule)", severity=severity, for_=for_)
        data = {
            "deployment": deployment,
            "window_s": parse_duration(window or "1h"),
            "interval_s": parse_duration(every or "5m"),
            "rules": [
                {
                    "when": r,
                    "severity": severity or "warning",
                    "for_s": parse_duration(for_ or "0s"),
                }
                for r in rule or []
            ],
        }
    record = state.client.create_monitor(name, data)
    console.print(
        f"monitor [bold]{name}[/] on {record.deployment}: every "
        f"{record.spec['interval_s']:g} s over {record.spec['window_s']:g} s, "
        f"{len(record.spec['rules'])} rule(s)"
    )


@monitor_app.command("list")
def list_monitors(as_json: JsonFlag = False) -> None:
    records = state.client.list_monitors()
    if as_json:
        print_json([r.to_dict() for r in records])
        return
    table(
        None,
        ["monitor", "deployment", "every s", "window s", "rules"],
        [
            (
                r.name,
                r.deployment,
                r.spec["interval_s"],
                r.spec["window_s"],
                "; ".join(f"{x['metric']} {x['op']} {x['threshold']}" for x in r.spec["rules"]),
            )
            for r in records
        ],
    )


@monitor_app.command("run")
def run_now(name: str, as_json: JsonFlag = False) -> None:
    """Evaluate a monitor now and advance its alerts."""
    values = state.client.run_monitor(name)
    if as_json:
        print_json(values)
        return
    table(
        f"monitor {name}",
        ["metric", "value"],
        [(k, fmt_number(v)) for k, v in sorted(values.items())],
    )


@monitor_app.command("results")
def results(
    name: str,
    metric: Annotated[str | None, typer.Option()] = None,
    limit: Annotated[int, typer.Option()] = 50,
    as_json: JsonFlag = False,
) -> None:
    """The stored time series of a monitor's values."""
    rows = state.client.monitor_results(name, metric, limit)
    if as_json:
        print_json(rows)
        return
    table(
        None,
        ["when", "metric", "value"],
        [(when(r["at"]), r["metric"], fmt_number(r["value"])) for r in rows],
    )


@monitor_app.command("alerts")
def alerts(
    monitor: Annotated[str | None, typer.Argument()] = None,
    open_only: Annotated[bool, typer.Option("--open")] = False,
    as_json: JsonFlag = False,
) -> None:
    records = state.client.alerts(monitor, open_only=open_only)
    if as_json:
        print_json([a.to_dict() for a in records])
        return
    table(
        None,
        ["id", "monitor", "rule", "severity", "status", "since", "message"],
        [
            (a.id, a.monitor, a.rule, a.severity, a.status, when(a.started_at), a.message)
            for a in records
        ],
    )


@monitor_app.command("report")
def report(
    deployment: str,
    window: Window = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write HTML here [default: DEPLOYMENT-report.html]"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the report's data as JSON (with --out: as well).")
    ] = False,
) -> None:
    """A self-contained HTML report and/or its data as JSON: distributions, drift, quality."""
    from shipyard.monitoring.report import render_html

    data = state.client.monitor_report(
        deployment, window_s=parse_duration(window) if window else None
    )
    if out is not None or not as_json:
        target = out or Path(f"{deployment}-report.html")
        target.write_text(render_html(data))
        if not as_json:  # stdout stays pure JSON for scripts
            console.print(f"wrote {target} ({data['rows']:,} rows)")
    if as_json:
        print_json(data)
