"""``shipyard deployments create|list|show|update|delete``."""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli.app import console, state
from shipyard.cli.output import print_json, table, when
from shipyard.deploy.policy import ServingConfig

deployments_app = typer.Typer(
    help="Named endpoints that serve model versions.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _target(policy: dict) -> str:
    target = policy.get("target", {})
    if target.get("alias"):
        return f"{target['model']}@{target['alias']}"
    if target.get("version"):
        return f"{target['model']}/{target['version']}"
    return f"{target.get('model')} (latest)"


@deployments_app.command("create")
def create(
    name: str,
    model: Annotated[
        str, typer.Option("--model", "-m", help="fraud@champion, fraud/3 or fraud (latest).")
    ],
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    batching: Annotated[bool, typer.Option(help="Adaptive micro-batching.")] = True,
    max_batch_size: Annotated[int, typer.Option(help="Largest batch.")] = 64,
    max_wait_ms: Annotated[float, typer.Option(help="Longest wait to fill a batch.")] = 2.0,
    as_json: JsonFlag = False,
) -> None:
    """Create a deployment serving MODEL."""
    deployment = state.client.create_deployment(
        name,
        model,
        description=description,
        serving=ServingConfig(batching, max_batch_size, max_wait_ms),
    )
    if as_json:
        print_json(deployment.to_dict())
    else:
        console.print(
            f"deployment [bold]{name}[/] → {_target(deployment.policy)}; serve it with "
            f"[cyan]shipyard serve[/] and POST /v1/deployments/{name}/predict"
        )


@deployments_app.command("list")
def list_deployments(as_json: JsonFlag = False) -> None:
    deployments = state.client.list_deployments()
    if as_json:
        print_json([d.to_dict() for d in deployments])
        return
    table(
        f"{len(deployments)} deployment(s)",
        ["name", "serves", "batching", "updated"],
        [
            (
                d.name,
                _target(d.policy),
                f"≤{d.config['max_batch_size']} / {d.config['max_wait_ms']} ms"
                if d.config.get("batching")
                else "off",
                when(d.updated_at),
            )
            for d in deployments
        ],
    )


@deployments_app.command("show")
def show(name: str, as_json: JsonFlag = False) -> None:
    deployment = state.client.get_deployment(name)
    if as_json:
        print_json(deployment.to_dict())
        return
    version = state.client.resolve_model_uri(
        f"models:/{_target(deployment.policy)}".replace(" (latest)", "/latest")
    )
    console.print(f"[bold]{name}[/] → {_target(deployment.policy)} (now {version.uri})")
    console.print(f"serving config {deployment.config}")


@deployments_app.command("update")
def update(
    name: str,
    model: Annotated[str | None, typer.Option("--model", "-m")] = None,
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
) -> None:
    """Point a deployment at another model, version or alias."""
    deployment = state.client.update_deployment(name, model=model, description=description)
    console.print(f"deployment [bold]{name}[/] → {_target(deployment.policy)}")


@deployments_app.command("delete")
def delete(name: str) -> None:
    state.client.delete_deployment(name)
    console.print(f"deleted deployment {name}")
