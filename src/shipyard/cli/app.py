"""The root Typer app, its global options, and how errors become exit codes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from shipyard.config import load_settings
from shipyard.errors import (
    Conflict,
    IntegrityError,
    InvalidInput,
    MissingDependency,
    NotFound,
    ShipyardError,
)
from shipyard.sdk.client import Client

# Exit codes: 0 ok, 1 other Shipyard error, 2 bad input/usage, 3 not found, 4 integrity.
EXIT_CODES: tuple[tuple[type[ShipyardError], int], ...] = (
    (NotFound, 3),
    (IntegrityError, 4),
    (InvalidInput, 2),
    (Conflict, 2),
    (MissingDependency, 2),
)

#: How the CLI spells the SDK keyword arguments that errors name as their remedy.
OPTIONS_FOR_PARAMETERS = {
    "sample_input": "--sample-input FILE (CSV or Parquet rows)",
    "trust": "--trust",
    "sample": "--sample datasets:/NAME/V or a CSV/Parquet file",
}

console = Console()
err_console = Console(stderr=True)


class CliState:
    """Options shared by every command; the client is opened on first use.

    ``begin`` is called by the root callback of every invocation, so a state
    left by an earlier invocation in the same process (tests) is never reused.
    With ``--url`` (``SHIPYARD_URL``) commands go through that server with
    ``--token``; ``serve`` and ``quickstart`` always open the store themselves.
    """

    def __init__(self) -> None:
        self.home: Path | None = None
        self.url: str | None = None
        self.token: str | None = None
        self._client: Client | None = None

    def begin(self, home: Path | None, url: str | None = None, token: str | None = None) -> None:
        if self._client is not None:
            self._client.close()
        self.home = home
        self.url = url or None
        self.token = token or None
        self._client = None

    @property
    def client(self) -> Client:
        if self._client is None:
            if self.url:
                self._client = Client(self.home, url=self.url, token=self.token)
            else:
                self._client = Client(settings=load_settings(self.home))
        return self._client

    @property
    def local_client(self) -> Client:
        """A client on the store itself, whatever ``--url`` says (the server's own)."""
        if self.url:
            fail("this command runs where the store is; unset SHIPYARD_URL / drop --url")
        return self.client


state = CliState()


def refuse_unused(context: str, **options: object) -> None:
    """Refuse options the command would accept and then ignore in this combination.

    Each keyword is an option's parameter name; ``None`` means it was not given,
    so options that can be refused default to ``None``, not to their value.
    """
    given = ["--" + name.replace("_", "-") for name, value in options.items() if value is not None]
    if given:
        raise InvalidInput(f"{', '.join(given)} cannot be combined with {context}")


def exit_code_for(error: ShipyardError) -> int:
    for kind, code in EXIT_CODES:
        if isinstance(error, kind):
            return code
    return 1


def _print_error(message: str) -> None:
    # Escaped: messages hold text like "shipyard[postgres]" that Rich would eat as markup.
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    _print_error(message)
    raise typer.Exit(code)


def error_message(error: ShipyardError) -> str:
    """The error in CLI words: a remedy names the command's option, not the SDK keyword."""
    remedy = error.remedy
    if remedy is None or remedy.parameter not in OPTIONS_FOR_PARAMETERS:
        return str(error)
    return f"{error.reason}; {remedy.render(OPTIONS_FOR_PARAMETERS[remedy.parameter])}"


def handle_error(error: ShipyardError) -> NoReturn:
    """One line, no traceback: what was wrong, and a non-zero exit code."""
    _print_error(error_message(error))
    sys.exit(exit_code_for(error))
