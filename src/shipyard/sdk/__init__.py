"""The SDK: ``Client`` and the module-level shortcuts built on a default client."""

from __future__ import annotations

import threading
from typing import Any

from shipyard.config import RemoteSettings, StoreSettings
from shipyard.registry.loaded import LoadedModel
from shipyard.sdk.client import Client, RunComparison
from shipyard.sdk.run import ActiveRun

__all__ = [
    "ActiveRun",
    "Client",
    "RunComparison",
    "default_client",
    "load_dataset",
    "load_model",
    "log_dataset",
    "start_run",
]

_default: dict[tuple[str | None, ...], Client] = {}
_lock = threading.Lock()


def default_client() -> Client:
    """A client for what the environment names: the server at ``SHIPYARD_URL`` (with
    ``SHIPYARD_TOKEN``), else the workspace of ``SHIPYARD_HOME`` etc.

    Cached per target, so changing either variable picks a new one.
    """
    remote = RemoteSettings()
    settings = StoreSettings()
    if remote.url:
        token = remote.token.get_secret_value() if remote.token else None
        key: tuple[str | None, ...] = ("remote", remote.url, token)
    else:
        key = (
            settings.resolved_db_url(),
            settings.resolved_artifacts_url(),
            str(settings.encryption_key_file),
            settings.encryption_read_key_files,
        )
    with _lock:
        client = _default.get(key)
        if client is None:
            if remote.url:
                client = Client(url=remote.url, token=token)
            else:
                client = Client(settings=settings)
            _default[key] = client
        return client


def start_run(
    experiment: str = "default",
    *,
    params: dict[str, Any] | None = None,
    tags: dict[str, Any] | None = None,
    name: str | None = None,
) -> ActiveRun:
    """Start a run in the default workspace; use it as a context manager."""
    return default_client().start_run(experiment, params=params, tags=tags, name=name)


def log_dataset(data: Any, *, name: str) -> Any:
    """Add a DataFrame (or file/folder path) as a dataset version in the default workspace."""
    return default_client().add_dataset(name, data)


def load_dataset(uri: str, *, columns: list[str] | None = None) -> Any:
    """Load ``datasets:/NAME/VERSION`` (recorded as an input of the current run)."""
    return default_client().load_dataset(uri, columns=columns)


def load_model(uri: str) -> LoadedModel:
    """Load a registered version by URI from the default workspace."""
    return default_client().load_model(uri)
