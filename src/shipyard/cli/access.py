"""``shipyard users`` and ``shipyard tokens``: who may call the server, and with what role.

These commands open the workspace directly: whoever can do that is trusted
(there is no default password), and ``tokens create --role admin`` on the
machine holding the workspace is how the first credential is made.
"""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli.app import console, state
from shipyard.cli.output import print_json, table, when
from shipyard.deploy.rollouts import parse_duration

users_app = typer.Typer(help="Users: people and services that hold tokens.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens: shown once, stored as a hash.", no_args_is_help=True)


@users_app.command("add")
def add_user(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: Annotated[str, typer.Option(help="viewer, predictor, scientist, deployer or admin.")],
) -> None:
    """Add a user with a role (their tokens may not exceed it)."""
    user = state.client.add_user(name, role)
    console.print(f"user [bold]{user.name}[/] added with role {user.role}")


@users_app.command("list")
def list_users(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every user, with role and whether it is disabled."""
    users = state.client.list_users()
    if json_out:
        print_json([u.__dict__ for u in users])
        return
    table(
        None,
        ["user", "role", "disabled", "created"],
        [(u.name, u.role, "yes" if u.disabled else "", when(u.created_at)) for u in users],
    )


@users_app.command("disable")
def disable_user(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Disable a user: every token of theirs stops working on every server within a second."""
    state.client.disable_user(name)
    console.print(f"user [bold]{name}[/] disabled")


@users_app.command("enable")
def enable_user(name: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Enable a disabled user again."""
    state.client.enable_user(name)
    console.print(f"user [bold]{name}[/] enabled")


@tokens_app.command("create")
def create_token(
    name: Annotated[str, typer.Option("--name", help="A name to list and revoke it by.")],
    role: Annotated[str, typer.Option(help="viewer, predictor, scientist, deployer or admin.")],
    user: Annotated[str | None, typer.Option(help="The user it acts for.")] = None,
    model: Annotated[
        list[str] | None, typer.Option("--model", help="Limit it to this model (repeatable).")
    ] = None,
    deployment: Annotated[
        list[str] | None,
        typer.Option("--deployment", help="Limit it to this deployment (repeatable)."),
    ] = None,
    expires: Annotated[
        str | None, typer.Option(help="Lifetime, e.g. 12h, 30d (default: none).")
    ] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create a token. It is printed once and never again: store it in a secret manager."""
    created = state.client.create_token(
        name,
        role,
        user=user,
        models=model or None,
        deployments=deployment or None,
        expires_in_s=parse_duration(expires) if expires is not None else None,
    )
    if json_out:
        print_json(created.to_public())
        return
    console.print(f"token [bold]{name}[/] ({created.record.role}) - shown once, copy it now:")
    console.print(created.token, highlight=False, soft_wrap=True)


@tokens_app.command("list")
def list_tokens(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every token: role, scope, expiry, last use (never the token itself)."""
    tokens = state.client.list_tokens()
    if json_out:
        print_json([t.to_public() for t in tokens])
        return
    rows = []
    for t in tokens:
        scope = ", ".join(
            [f"model {m}" for m in t.models or ()]
            + [f"deployment {d}" for d in t.deployments or ()]
        )
        status = "revoked" if t.revoked_at else ""
        rows.append(
            (
                t.name,
                t.display,
                t.role,
                t.user or "",
                scope or "all",
                when(t.expires_at),
                when(t.last_used_at),
                status,
            )
        )
    table(None, ["name", "token", "role", "user", "scope", "expires", "last used", ""], rows)


@tokens_app.command("revoke")
def revoke_token(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: every server refuses it within a second."""
    state.client.revoke_token(name)
    console.print(f"token [bold]{name}[/] revoked")
