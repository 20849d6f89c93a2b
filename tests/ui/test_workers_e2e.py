"""A dashboard session made on one worker of a real two-worker server works on all of them
(the workers share the workspace's session key), and ends with its token."""

from __future__ import annotations

import time

import httpx
import pytest

from shipyard import Client
from shipyard.server.ui.sessions import COOKIE
from tests.server.processes import start_server, stop_server

pytestmark = pytest.mark.slow


def test_a_session_works_on_every_worker_until_its_token_is_revoked(workspace: Client) -> None:
    token = workspace.create_token("ui-e2e", "viewer")
    process, url = start_server(workspace.settings.home, "--workers", "2", auth=True)
    try:
        # a new connection per request spreads the requests over both workers
        with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)) as http:
            signed_in = http.post(f"{url}/ui/login", data={"token": token.token})
            assert signed_in.status_code == 303, signed_in.text
            cookie = {"cookie": f"{COOKIE}={signed_in.cookies[COOKIE]}"}
            http.cookies.clear()
            answers = {http.get(f"{url}/ui", headers=cookie).status_code for _ in range(30)}
            assert answers == {200}
            workspace.revoke_token("ui-e2e")
            time.sleep(1.0)
            answers = {http.get(f"{url}/ui", headers=cookie).status_code for _ in range(30)}
            assert answers == {303}  # to the sign-in page, from every worker
    finally:
        stop_server(process)
