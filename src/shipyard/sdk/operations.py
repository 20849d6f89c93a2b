"""Operations: a ``Client`` method declared once, reached directly or over HTTP.

``@operation(Permission.X, model="name")`` on a ``Client`` method records what
the server needs to expose it (the permission, which argument narrows a
scoped token) and makes the method back-end aware: with a direct client the
body runs here, against the store; with a remote client
(``SHIPYARD_URL``) the call is sent to the server, whose direct client runs
the same body with the caller's token and audit identity. The route, the
permission-table entry, the OpenAPI schema and the remote call are all
generated from the method's signature and type hints (``server/ops_api.py``,
``sdk/remote.py``), so the SDK, the CLI and the control API cannot drift.

Arguments that carry data rather than values (a DataFrame, a local file or
folder) are named in ``uploads``: a remote client uploads them as artifacts
and the server hands the method a local copy.
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys
import types
import typing
from collections import abc
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from shipyard.security.permissions import Permission

F = TypeVar("F", bound=Callable[..., Any])

#: Where every operation's route lives: ``POST /api/ops/<name>[/<narrowing value>]``.
OPS_PREFIX = "/api/ops"


@dataclass(frozen=True)
class Operation:
    """One ``Client`` method as the wire sees it."""

    name: str
    function: Callable[..., Any]
    permissions: tuple[Permission, ...]
    model: str | None = None  # the argument holding a model name (narrows scoped tokens)
    deployment: str | None = None  # the argument holding a deployment name
    uploads: tuple[str, ...] = ()  # arguments holding a DataFrame, file or folder
    in_path: tuple[str, ...] = ()  # more arguments the permission depends on (an alias)

    @property
    def path_params(self) -> tuple[str, ...]:
        narrowing = self.model or self.deployment
        return ((narrowing,) if narrowing else ()) + self.in_path

    @property
    def path(self) -> str:
        """The route template: arguments the permission depends on (a model or deployment
        name, an alias) travel in the path, where the server's one authorization point
        reads them before the body."""
        return OPS_PREFIX + f"/{self.name}" + "".join(f"/{{{p}}}" for p in self.path_params)

    @functools.cached_property
    def signature(self) -> inspect.Signature:
        return inspect.signature(self.function)

    @functools.cached_property
    def hints(self) -> dict[str, Any]:
        """Resolved type hints, including names imported only for type checking."""
        return typing.get_type_hints(self.function, globalns=_namespace(self.function.__module__))

    @functools.cached_property
    def wire_names(self) -> frozenset[str]:
        """Names of the parameters that travel, computed once: the remote back end asks
        for every argument of every call (recomputing cost ~30 us per argument)."""
        return frozenset(p.name for p in self.wire_parameters())

    def wire_parameters(self) -> Iterator[inspect.Parameter]:
        """The parameters that travel: not ``self``, not local callbacks (progress bars)."""
        for parameter in self.signature.parameters.values():
            if parameter.name == "self" or parameter.kind is parameter.VAR_KEYWORD:
                continue
            if _is_callback(self.hints.get(parameter.name)):
                continue
            yield parameter


class RemoteCall(typing.Protocol):
    """What a remote back end provides to the operation wrappers."""

    def call(self, op: Operation, arguments: dict[str, Any]) -> Any: ...


def operation(
    *permissions: Permission,
    model: str | None = None,
    deployment: str | None = None,
    uploads: tuple[str, ...] = (),
    in_path: tuple[str, ...] = (),
) -> Callable[[F], F]:
    """Declare a ``Client`` method an operation (see the module docstring)."""

    def declare(function: F) -> F:
        op = Operation(
            function.__name__, function, permissions, model, deployment, uploads, in_path
        )

        @functools.wraps(function)
        def dispatch(self: Any, *args: Any, **kwargs: Any) -> Any:
            remote: RemoteCall | None = self._remote
            if remote is None:
                return function(self, *args, **kwargs)
            bound = op.signature.bind(self, *args, **kwargs)
            arguments = dict(bound.arguments)
            arguments.pop("self")
            extra = arguments.pop("flavor_options", None)  # **kwargs travel as one dict
            if extra:
                arguments["flavor_options"] = extra
            return remote.call(op, arguments)

        dispatch.__shipyard_operation__ = op  # type: ignore[attr-defined]
        return typing.cast(F, dispatch)

    return declare


def local_only(reason: str) -> Callable[[F], F]:
    """A method that needs the store in this process (key files, a Redis consumer that
    serves models): a remote client says so instead of failing somewhere inside."""

    def declare(function: F) -> F:
        @functools.wraps(function)
        def guard(self: Any, *args: Any, **kwargs: Any) -> Any:
            if self._remote is not None:
                from shipyard.errors import InvalidInput

                raise InvalidInput(
                    f"{function.__name__} runs where the store is, not through a server: {reason}"
                )
            return function(self, *args, **kwargs)

        guard.__shipyard_local_only__ = reason  # type: ignore[attr-defined]
        return typing.cast(F, guard)

    return declare


@functools.cache
def operations_of(cls: type) -> dict[str, Operation]:
    """Every operation a client class declares, by name."""
    found: dict[str, Operation] = {}
    for name in dir(cls):
        op = getattr(getattr(cls, name, None), "__shipyard_operation__", None)
        if isinstance(op, Operation):
            found[name] = op
    return found


def _is_callback(hint: Any) -> bool:
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = typing.get_args(hint) if union else (hint,)
    return any(
        option is abc.Callable or typing.get_origin(option) is abc.Callable for option in options
    )


@functools.cache
def _namespace(module_name: str) -> dict[str, Any]:
    """The module's globals plus its ``if TYPE_CHECKING:`` imports, which the client
    modules keep out of ``import shipyard`` (monitoring, datasets and explanations
    pull in scipy and pyarrow); resolving an operation's types pays for them once."""
    module = sys.modules[module_name]
    namespace = dict(vars(module))
    tree = ast.parse(inspect.getsource(module))
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            block = ast.Module(body=node.body, type_ignores=[])
            exec(compile(block, module.__file__ or module_name, "exec"), namespace)
    return namespace
