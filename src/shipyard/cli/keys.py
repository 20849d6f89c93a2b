"""``shipyard keys create|status|rotate|encrypt-existing``: encryption at rest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shipyard.cli.app import console, err_console, state
from shipyard.cli.output import print_json, table
from shipyard.sdk.keys import create_key_file

keys_app = typer.Typer(help="Encryption keys for artifacts at rest.", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich bar on stderr, so ``--json`` output on stdout stays clean."""
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


@keys_app.command("create")
def create(
    out: Annotated[Path, typer.Option("--out", help="Where to write the key (must not exist).")],
    as_json: JsonFlag = False,
) -> None:
    """Make a new random 256-bit key file (mode 0600); the key itself is never printed."""
    key_id = create_key_file(out)
    if as_json:
        print_json({"path": str(out), "key_id": key_id})
        return
    console.print(f"key {key_id} written to {out} (mode 0600)")
    console.print(f"use it with: export SHIPYARD_ENCRYPTION_KEY_FILE={out.resolve()}")


@keys_app.command("status")
def status(as_json: JsonFlag = False) -> None:
    """How many stored files each key id wraps, and how many are plaintext."""
    counts = state.client.encryption_status()
    if as_json:
        print_json(counts)
        return
    table("artifact files by key", ["key id", "files"], [[k, f"{v:,}"] for k, v in counts.items()])


@keys_app.command("rotate")
def rotate(
    new_key_file: Annotated[
        Path, typer.Option("--new-key-file", help="Key file to re-wrap every data key with.")
    ],
    as_json: JsonFlag = False,
) -> None:
    """Re-wrap every artifact's data key with a new key; payloads are not rewritten.

    Run it with the current key configured; re-run it after an interruption. Then set
    SHIPYARD_ENCRYPTION_KEY_FILE to the new file.
    """
    with _progress("re-wrapping data keys") as advance:
        report = state.client.rotate_encryption_key(new_key_file, progress=advance)
    if as_json:
        print_json(
            {
                "key_id": report.key_id,
                "rewrapped": report.rewrapped,
                "current": report.current,
                "plaintext": report.plaintext,
            }
        )
        return
    console.print(
        f"{report.rewrapped:,} file(s) re-wrapped with key {report.key_id}, "
        f"{report.current:,} already were, {report.plaintext:,} plaintext"
    )
    console.print(f"now set SHIPYARD_ENCRYPTION_KEY_FILE={new_key_file.resolve()}")


@keys_app.command("encrypt-existing")
def encrypt_existing() -> None:
    """Encrypt the files stored before a key was configured (each verified first)."""
    with _progress("encrypting plaintext files") as advance:
        count = state.client.encrypt_existing_artifacts(progress=advance)
    console.print(f"{count:,} plaintext file(s) encrypted")
