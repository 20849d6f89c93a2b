"""``shipyard audit``: read the audit trail, verify its hash chain, print a checkpoint."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from shipyard.cli.app import console, err_console, state
from shipyard.cli.output import print_json, table, when
from shipyard.store.audit_chain import AuditCheck

audit_app = typer.Typer(
    help="The tamper-evident audit trail: who changed what, when.", no_args_is_help=True
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]

#: ``shipyard audit verify`` exits with this when the chain is not intact.
EXIT_TAMPERED = 3


@audit_app.command("log")
def log(
    since: Annotated[
        str | None, typer.Option("--since", help="Only rows newer than this, e.g. 30m, 1h, 7d.")
    ] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="Only this actor's rows.")] = None,
    action: Annotated[
        str | None, typer.Option("--action", help="Only actions starting with this, e.g. alias.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many rows.")] = 100,
    as_json: JsonFlag = False,
    until: Annotated[
        str | None, typer.Option("--until", help="Only rows older than this, e.g. 1h (ago).")
    ] = None,
    target: Annotated[
        str | None,
        typer.Option("--target", help="Only rows about this object: TYPE or 'TYPE NAME'."),
    ] = None,
    offset: Annotated[int, typer.Option("--offset", help="Skip this many newest rows.")] = 0,
) -> None:
    """Audit rows, newest first."""
    entries = state.client.audit_log(
        since=since,
        actor=actor,
        action=action,
        limit=limit,
        until=until,
        target=target,
        offset=offset,
    )
    if as_json:
        print_json([entry.to_dict() for entry in entries])
        return
    # Request and client columns only once the server fills them: a direct-access log
    # stays narrow enough to read.
    remote = any(e.request_id or e.client_address for e in entries)
    columns = ["id", "when", "actor", "action", "object", "details"]
    rows = []
    for e in entries:
        row = [
            str(e.id),
            when(e.at),
            e.actor,
            e.action,
            f"{e.object_type} {e.object_id}",
            json.dumps(e.details, separators=(",", ":"), ensure_ascii=False, default=str),
        ]
        if remote:
            row += [e.request_id or "", e.client_address or ""]
        rows.append([escape(cell) for cell in row])
    table(None, columns + (["request", "client"] if remote else []), rows)


@audit_app.command("verify")
def verify(
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="A checkpoint HASH@ID from `shipyard audit head`, kept elsewhere: also "
            "catches the newest rows deleted or the chain rewritten up to it.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Recompute the hash chain; exit 0 when intact, 3 naming the first bad row otherwise."""
    with Progress(
        TextColumn("verifying audit chain"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
    ) as progress:
        task = progress.add_task("verify", total=None)
        check = state.client.verify_audit(
            against=against,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    _report(check, as_json)


def _report(check: AuditCheck, as_json: bool) -> None:
    if as_json:
        print_json(check.to_dict())
    elif check.ok:
        console.print(f"audit chain intact: {check.rows_checked} rows verified")
    else:
        err_console.print(
            f"[bold red]audit chain broken at row {check.bad_row_id}[/] ({check.problem}): "
            f"{escape(check.message)}; {check.rows_checked} rows before it verified",
            highlight=False,
            soft_wrap=True,
        )
    if not check.ok:
        raise typer.Exit(EXIT_TAMPERED)


@audit_app.command("head")
def head(as_json: JsonFlag = False) -> None:
    """The newest row's id and hash: keep it elsewhere, check later with verify --against."""
    current = state.client.audit_head()
    if as_json:
        print_json(current.to_dict() if current is not None else None)
    elif current is None:
        console.print("the audit trail is empty")
    else:
        console.print(current.token, highlight=False, soft_wrap=True)
