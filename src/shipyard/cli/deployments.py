"""``shipyard deployments create|list|show|update|delete``."""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli.app import console, refuse_unused, state
from shipyard.cli.output import print_json, table, when
from shipyard.deploy.policy import (
    ABPolicy,
    BanditPolicy,
    BlueGreenPolicy,
    CanaryPolicy,
    Policy,
    ServingConfig,
    ShadowPolicy,
    SinglePolicy,
    parse_weights,
    policy_from_dict,
    ref_label,
    single,
)
from shipyard.errors import InvalidInput
from shipyard.registry.uri import parse_model_spec

deployments_app = typer.Typer(
    help="Named endpoints that serve model versions.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def _target(policy: dict) -> str:
    """A one-line description of any policy."""
    parsed = policy_from_dict(policy)
    if isinstance(parsed, SinglePolicy):
        return ref_label(parsed.target)
    if isinstance(parsed, CanaryPolicy | ABPolicy | BanditPolicy):
        arms = ", ".join(f"{ref_label(a.target)}={a.weight:.3g}%" for a in parsed.arms)
        key = f" by {parsed.key}" if isinstance(parsed, ABPolicy) else ""
        if isinstance(parsed, BanditPolicy):
            key = f" (experiment {parsed.experiment})"
        return f"{parsed.kind} {arms}{key}"
    if isinstance(parsed, ShadowPolicy):
        return (
            f"{ref_label(parsed.primary)} shadowed by {', '.join(map(ref_label, parsed.shadows))}"
        )
    assert isinstance(parsed, BlueGreenPolicy)
    return f"blue {ref_label(parsed.blue)} / green {ref_label(parsed.green)}, {parsed.active} live"


@deployments_app.command("create")
def create(
    name: str,
    model: Annotated[
        str, typer.Option("--model", "-m", help="fraud@champion, fraud/3 or fraud (latest).")
    ],
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    batching: Annotated[bool, typer.Option(help="Adaptive micro-batching.")] = True,
    max_batch_size: Annotated[int | None, typer.Option(help="Largest batch [default: 64].")] = None,
    max_wait_ms: Annotated[
        float | None, typer.Option(help="Longest wait to fill a batch [default: 2.0].")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Create a deployment serving MODEL."""
    if not batching:
        refuse_unused("--no-batching", max_batch_size=max_batch_size, max_wait_ms=max_wait_ms)
    defaults = ServingConfig()
    deployment = state.client.create_deployment(
        name,
        model,
        description=description,
        serving=ServingConfig(
            batching,
            max_batch_size if max_batch_size is not None else defaults.max_batch_size,
            max_wait_ms if max_wait_ms is not None else defaults.max_wait_ms,
        ),
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


@deployments_app.command("policy")
def set_policy(
    name: str,
    single_target: Annotated[str | None, typer.Option("--single", help="fraud@champion")] = None,
    canary: Annotated[str | None, typer.Option(help="fraud/1=90,fraud/2=10")] = None,
    ab: Annotated[str | None, typer.Option("--ab", help="fraud/1=50,fraud/2=50")] = None,
    key: Annotated[
        str | None,
        typer.Option(help="A/B key: header:NAME or field:COLUMN [default: header:X-Shipyard-Key]"),
    ] = None,
    primary: Annotated[
        str | None, typer.Option(help="Shadow policy: the answering version")
    ] = None,
    shadow: Annotated[list[str] | None, typer.Option(help="Shadow version(s)")] = None,
    blue: Annotated[str | None, typer.Option(help="Blue-green: blue version")] = None,
    green: Annotated[str | None, typer.Option(help="Blue-green: green version")] = None,
    active: Annotated[
        str | None, typer.Option(help="Blue-green: blue or green [default: blue]")
    ] = None,
) -> None:
    """Set the traffic policy: exactly one of --single, --canary, --ab, --shadow, --blue."""
    chosen = [o for o in (single_target, canary, ab, shadow, blue) if o]
    if len(chosen) != 1:
        raise InvalidInput(
            "give exactly one of --single, --canary, --ab, --shadow (with "
            "--primary), --blue (with --green)"
        )
    if not ab:
        refuse_unused("a policy other than --ab", key=key)
    if not shadow:
        refuse_unused("a policy other than --shadow", primary=primary)
    if not blue:
        refuse_unused("a policy other than --blue", green=green, active=active)
    policy: Policy
    if single_target:
        policy = single(single_target)
    elif canary:
        policy = CanaryPolicy(parse_weights(canary))
    elif ab:
        policy = ABPolicy(parse_weights(ab), key or "header:X-Shipyard-Key")
    elif shadow:
        if primary is None:
            raise InvalidInput("a shadow policy needs --primary")
        policy = ShadowPolicy(parse_model_spec(primary), tuple(map(parse_model_spec, shadow)))
    else:
        if green is None or blue is None:
            raise InvalidInput("a blue-green policy needs --blue and --green")
        policy = BlueGreenPolicy(parse_model_spec(blue), parse_model_spec(green), active or "blue")
    deployment = state.client.set_policy(name, policy)
    console.print(f"deployment [bold]{name}[/] → {_target(deployment.policy)}")


@deployments_app.command("switch")
def switch(name: str) -> None:
    """Blue-green: move all traffic to the other version (takes effect within a second)."""
    deployment = state.client.switch_deployment(name)
    console.print(f"deployment [bold]{name}[/] → {_target(deployment.policy)}")


@deployments_app.command("expectations")
def expectations(
    name: str,
    dataset: Annotated[
        str | None,
        typer.Argument(help="Dataset whose expectations also check serving input; omit to stop"),
    ] = None,
) -> None:
    """Validate requests to NAME against a dataset's expectations too."""
    state.client.set_deployment_expectations(name, dataset)
    console.print(
        f"deployment {name}: "
        + (
            f"requests checked against {dataset}'s expectations"
            if dataset
            else "dataset expectations off"
        )
    )


@deployments_app.command("delete")
def delete(name: str) -> None:
    state.client.delete_deployment(name)
    console.print(f"deleted deployment {name}")
