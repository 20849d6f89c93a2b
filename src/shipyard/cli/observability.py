"""``shipyard grafana`` and ``shipyard alerts``: observability as code.

They only write files from the metric catalogue, so they are not SDK
operations: there is nothing to authorise, audit or run remotely, and they
work without a workspace (generate on a laptop, apply to a cluster).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli.app import console
from shipyard.packaging.alerts import AlertThresholds, build_rules, render_rules
from shipyard.packaging.grafana import build_dashboard, render_dashboard

DEFAULTS = AlertThresholds()
Out = Annotated[Path, typer.Option("--out", "-o", help="File to write.", dir_okay=False)]


def grafana(
    out: Out = Path("dashboard.json"),
    deployment: Annotated[
        str | None, typer.Option(help="Pre-select this deployment in the dashboard.")
    ] = None,
) -> None:
    """Write a Grafana dashboard (JSON) over Shipyard's Prometheus metrics."""
    out.write_text(render_dashboard(deployment))
    panels = [p for p in build_dashboard(deployment)["panels"] if p["type"] != "row"]
    console.print(f"wrote {out}: {len(panels)} panels (import it in Grafana, pick the data source)")


def alerts(
    out: Out = Path("rules.yaml"),
    error_ratio: Annotated[
        float, typer.Option(min=0, max=1, help="5xx share.")
    ] = DEFAULTS.error_ratio,
    p99_latency_s: Annotated[
        float, typer.Option(min=0, help="p99 latency, seconds.")
    ] = DEFAULTS.p99_latency_s,
    drift_share: Annotated[
        float, typer.Option(min=0, max=1, help="Drifted columns.")
    ] = DEFAULTS.drift_share,
    estimated_accuracy: Annotated[
        float, typer.Option(min=0, max=1, help="Label-free accuracy floor.")
    ] = DEFAULTS.estimated_accuracy,
    stream_lag: Annotated[
        float, typer.Option(min=0, help="Undelivered entries.")
    ] = DEFAULTS.stream_lag,
    rollout_stuck_minutes: Annotated[
        float, typer.Option(min=0, help="Minutes on one rollout step.")
    ] = DEFAULTS.rollout_stuck_minutes,
    for_minutes: Annotated[
        float, typer.Option(min=0, help="Minutes a breach must last.")
    ] = DEFAULTS.for_minutes,
) -> None:
    """Write Prometheus alerting rules for Shipyard (one rule group, YAML)."""
    thresholds = AlertThresholds(
        error_ratio=error_ratio,
        p99_latency_s=p99_latency_s,
        drift_share=drift_share,
        estimated_accuracy=estimated_accuracy,
        stream_lag=stream_lag,
        rollout_stuck_minutes=rollout_stuck_minutes,
        for_minutes=for_minutes,
    )
    out.write_text(render_rules(thresholds))
    count = len(build_rules(thresholds)["groups"][0]["rules"])
    console.print(f"wrote {out}: {count} alerting rules (check with `promtool check rules`)")
