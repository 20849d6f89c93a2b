"""One exception tree for everything Shipyard raises on purpose.

Interfaces map these to exit codes (CLI) or status codes (HTTP); the domain
code only says *what* was wrong, naming the missing or wrong thing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Remedy:
    """What the caller can pass to get past an error, in words each interface can render.

    ``parameter`` is the operation's keyword argument (``sample_input``); the SDK shows
    it as ``sample_input=X_test[:50]``, the CLI as its own option (``--sample-input FILE``).
    Keeping it apart from the message is what lets one error suit every adapter.
    """

    advice: str
    parameter: str
    example: str

    def render(self, argument: str) -> str:
        return f"{self.advice}: {argument}"

    @property
    def python(self) -> str:
        return f"{self.parameter}={self.example}"


class ShipyardError(Exception):
    """Base of every error Shipyard raises deliberately.

    ``reason`` says what was wrong; ``remedy``, when set, says which argument fixes it.
    ``str(error)`` renders both for Python callers.
    """

    def __init__(self, *args: object, remedy: Remedy | None = None) -> None:
        self.reason = str(args[0]) if args else ""
        self.remedy = remedy
        if remedy is not None:
            args = (f"{self.reason}; {remedy.render(remedy.python)}", *args[1:])
        super().__init__(*args)


class NotFound(ShipyardError):
    """Something the caller named does not exist."""


class ExperimentNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"experiment {name!r} does not exist")
        self.name = name


class RunNotFound(NotFound):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id!r} does not exist")
        self.run_id = run_id


class ModelNotFound(NotFound):
    """A model, or a version / alias of it, does not exist."""

    def __init__(self, name: str, *, version: int | None = None, alias: str | None = None) -> None:
        if alias is not None:
            message = f"model {name!r} has no alias {alias!r}"
        elif version is not None:
            message = f"model {name!r} has no version {version}"
        else:
            message = f"model {name!r} does not exist"
        super().__init__(message)
        self.name = name
        self.version = version
        self.alias = alias


class DeploymentNotFound(NotFound):
    def __init__(self, name: str) -> None:
        super().__init__(f"deployment {name!r} does not exist")
        self.name = name


class InvalidInput(ShipyardError):
    """The caller passed a value that cannot be used; the message says where."""


class InvalidURI(InvalidInput):
    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(f"invalid model URI {uri!r}: {reason}")
        self.uri = uri


class InvalidFilter(InvalidInput):
    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"invalid filter {expression!r}: {reason}")
        self.expression = expression


class SignatureError(InvalidInput):
    """A sample input could not yield a signature, or data does not fit one."""


class UnsupportedModel(InvalidInput):
    """No registered flavor knows how to save this object."""


class MissingDependency(ShipyardError):
    """An optional library is needed; the message names the extra to install."""

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package} is not installed; install it with: pip install 'shipyard[{extra}]'"
        )
        self.package = package
        self.extra = extra


class Conflict(ShipyardError):
    """The request contradicts what is already stored (e.g. a param logged twice)."""


class IntegrityError(ShipyardError):
    """Stored bytes do not match their recorded hash: never load them."""

    def __init__(self, key: str, expected: str, actual: str) -> None:
        super().__init__(
            f"artifact {key!r} failed verification: hash mismatch "
            f"(expected sha256 {expected}, got {actual})"
        )
        self.key = key
        self.expected = expected
        self.actual = actual


class TamperedArtifact(IntegrityError):
    """An encrypted artifact failed authentication: altered, truncated or swapped for another."""

    def __init__(self, key: str, detail: str) -> None:
        ShipyardError.__init__(
            self,
            f"artifact {key!r} failed verification: {detail} "
            "(the file was altered, truncated or swapped)",
        )
        self.key = key
        self.expected = ""
        self.actual = ""
        self.detail = detail


class StoreError(ShipyardError):
    """The metadata store or artifact store could not do what was asked."""


class EncryptionKeyError(StoreError):
    """The encryption key is missing, unreadable or not the one an artifact was written with."""
