"""One SDK suite, two back ends: every test here that takes ``sdk`` runs against a
direct client (its own workspace) and against a remote client talking to a real
``shipyard serve`` (auth on, as users start it) with an admin token.

The central server is shared by the session, so remote tests name what they
create uniquely (``unique``) instead of relying on an empty workspace.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipyard import Client
from shipyard.config import StoreSettings
from tests.server.processes import start_server, stop_server


@dataclass(frozen=True)
class Central:
    """A running server, its workspace, and a token per role (user ``trainer``)."""

    url: str
    home: Path
    tokens: dict[str, str]

    def client(self, role: str = "admin", cache: Path | None = None) -> Client:
        return Client(cache, url=self.url, token=self.tokens[role])


@pytest.fixture(scope="session")
def central(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Central]:
    home = tmp_path_factory.mktemp("central") / "ws"
    tokens = {}
    with Client(settings=StoreSettings(home=home, user="setup")) as admin:
        for role in ("admin", "deployer", "scientist", "viewer"):
            admin.add_user(f"{role}-user", role)
            tokens[role] = admin.create_token(f"sdk-{role}", role, user=f"{role}-user").token
    process, url = start_server(home, auth=True)
    try:
        yield Central(url, home, tokens)
    finally:
        stop_server(process)


@pytest.fixture(params=["direct", "remote"])
def sdk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Client]:
    if request.param == "direct":
        client = Client(settings=StoreSettings(home=tmp_path / "ws", user="tester"))
    else:
        central: Central = request.getfixturevalue("central")
        client = central.client("admin", cache=tmp_path / "client-cache")
    with client:
        yield client


@pytest.fixture
def unique() -> str:
    """A suffix that keeps names apart on the shared server."""
    return uuid.uuid4().hex[:8]
