"""Entry point for uvicorn workers: ``shipyard.server.asgi:app_factory``.

Each worker process builds its own app from the environment (``SHIPYARD_*``),
which ``shipyard serve`` sets before starting them.
"""

from __future__ import annotations

from shipyard.config import HttpSettings, ServerSettings, StoreSettings
from shipyard.server.auth import AuthApp


def app_factory() -> AuthApp:
    from shipyard.server.app import create_app

    return create_app(ServerSettings(), StoreSettings(), http_settings=HttpSettings())
