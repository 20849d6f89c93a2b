"""``shipyard``: the command line. Commands translate; the SDK does the work."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from shipyard import __version__
from shipyard.cli.ab import ab_app
from shipyard.cli.access import tokens_app, users_app
from shipyard.cli.app import console, handle_error, state
from shipyard.cli.audit import audit_app
from shipyard.cli.batch import batch_app
from shipyard.cli.build import build
from shipyard.cli.datasets import datasets_app, lineage
from shipyard.cli.deployments import deployments_app
from shipyard.cli.k8s import k8s
from shipyard.cli.keys import keys_app
from shipyard.cli.models import models_app
from shipyard.cli.monitor import feedback_app, monitor_app
from shipyard.cli.observability import alerts, grafana
from shipyard.cli.optimize import optimize
from shipyard.cli.pipelines import pipelines_app, worker
from shipyard.cli.quickstart import quickstart
from shipyard.cli.rollouts import rollout_app, webhooks_app
from shipyard.cli.runs import experiments_app, runs_app
from shipyard.cli.serve import serve
from shipyard.cli.stream import stream_app
from shipyard.errors import ShipyardError

app = typer.Typer(
    name="shipyard",
    help="Shipyard: track, register, serve, deploy, monitor and retrain models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(runs_app, name="runs")
app.add_typer(experiments_app, name="experiments")
app.add_typer(models_app, name="models")
app.add_typer(deployments_app, name="deployments")
app.add_typer(rollout_app, name="rollout")
app.add_typer(ab_app, name="ab")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(feedback_app, name="feedback")
app.add_typer(monitor_app, name="monitor")
app.add_typer(datasets_app, name="datasets")
app.add_typer(pipelines_app, name="pipelines")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")
app.add_typer(audit_app, name="audit")
app.add_typer(batch_app, name="batch")
app.add_typer(stream_app, name="stream")
app.command("k8s")(k8s)
app.command("alerts")(alerts)
app.command("grafana")(grafana)
app.command("build")(build)
app.command("lineage")(lineage)
app.command("optimize")(optimize)
app.command("quickstart")(quickstart)
app.command("serve")(serve)
app.command("worker")(worker)


def _version(value: bool) -> None:
    if value:
        console.print(f"shipyard {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home", envvar="SHIPYARD_HOME", help="Workspace folder (default ./.shipyard)."
        ),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            envvar="SHIPYARD_URL",
            help="A central `shipyard serve` to work through (https://host:8000) "
            "instead of a local store.",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="SHIPYARD_TOKEN",
            help="API token for --url (shp_...).",
            show_default=False,
            show_envvar=True,
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Log what happens.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    state.begin(home, url, token)


def run() -> None:
    """Console-script entry point: Shipyard errors become one line and an exit code."""
    try:
        app()
    except ShipyardError as error:
        handle_error(error)
