"""Token changes reach every worker of a real two-worker server within a second."""

from __future__ import annotations

import time

import httpx
import pytest

from shipyard import Client
from tests.server.processes import start_server, stop_server

pytestmark = pytest.mark.slow


def _refused_by_every_worker(url: str, headers: dict[str, str], tries: int = 40) -> bool:
    """Fresh connections spread over the workers; all of them must answer 401. One client
    without keep-alive: a new connection per request, not a new client (whose TLS context
    alone costs ~60 ms here) per request."""
    with httpx.Client(limits=httpx.Limits(max_keepalive_connections=0)) as http:
        return all(
            http.get(f"{url}/api/models", headers=headers).status_code == 401 for _ in range(tries)
        )


@pytest.mark.parametrize("change", ["revoke", "disable_user"])
def test_a_revoked_token_is_refused_by_every_worker_within_a_second(
    workspace: Client, change: str
) -> None:
    workspace.add_user("dana", "viewer")
    token = workspace.create_token("dana-ci", "viewer", user="dana")
    headers = {"authorization": f"Bearer {token.token}"}
    process, url = start_server(workspace.settings.home, "--workers", "2", auth=True)
    try:
        assert httpx.get(f"{url}/api/models").status_code == 401  # anonymous
        assert httpx.get(f"{url}/health").status_code == 200  # liveness stays open
        answers = {httpx.get(f"{url}/api/models", headers=headers).status_code for _ in range(40)}
        assert answers == {200}
        started = time.monotonic()
        if change == "revoke":
            workspace.revoke_token("dana-ci")
        else:
            workspace.disable_user("dana")
        time.sleep(1.0)
        assert _refused_by_every_worker(url, headers), "a worker still accepted the token"
        assert time.monotonic() - started < 3.0
        predict = httpx.post(
            f"{url}/v1/deployments/cancer/predict", headers=headers, json={"inputs": []}
        )
        assert predict.status_code == 401
    finally:
        stop_server(process)
