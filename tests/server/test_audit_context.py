"""The hook the server uses: an audit context set around a request reaches the store.

FastAPI runs sync endpoints on a thread pool; the context must follow them
there, or audit rows written by a request would lose its id and address.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from shipyard import Client
from shipyard.store.audit_context import audit_context


def test_an_audit_context_around_a_request_reaches_a_sync_endpoint(
    sqlite_client: Client,
) -> None:
    api = FastAPI()

    @api.post("/hooks")
    def add_hook() -> dict[str, int]:  # sync: runs in the thread pool
        return {"id": sqlite_client.add_webhook("https://example.com/x")}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await api(scope, receive, send)
            return
        headers = dict(scope["headers"])
        client_host, client_port = scope["client"]
        with audit_context(
            request_id=headers.get(b"x-request-id", b"").decode() or None,
            client_address=f"{client_host}:{client_port}",
            actor="token:ci",
        ):
            await api(scope, receive, send)

    with TestClient(app) as http:
        assert http.post("/hooks", headers={"x-request-id": "r-42"}).status_code == 200
    entry = sqlite_client.audit_log(limit=1)[0]
    assert (entry.action, entry.actor, entry.request_id) == ("webhook.add", "token:ci", "r-42")
    assert entry.client_address is not None and entry.client_address.startswith("testclient")
    assert sqlite_client.verify_audit().ok
