"""The Audit page (admins: the permission of ``shipyard audit``): the audit trail, filtered
and paged in the store (``Client.audit_log``, as ``shipyard audit log``), with the hash
chain's verify status (``chain_status``: as ``shipyard audit verify``, kept fast)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from shipyard.errors import ShipyardError
from shipyard.sdk.client import Client
from shipyard.server.ui.chain_status import ChainVerifier
from shipyard.server.ui.pipeline_pages import page_number
from shipyard.server.ui.rendering import render, render_error
from shipyard.server.ui.viewer import viewer_of

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
FILTERS = ("actor", "action", "target", "since", "until")


@router.get("/ui/audit")
def audit_page(request: Request) -> Response:
    viewer = viewer_of(request)
    client: Client = request.app.state.client
    query = request.query_params
    filters = {k: query.get(k, "").strip() for k in FILTERS}
    try:
        number = page_number(query.get("page"))
        entries = client.audit_log(
            actor=filters["actor"] or None,
            action=filters["action"] or None,
            target=filters["target"] or None,
            since=filters["since"] or None,  # "2h" (ago) or "2026-12-01 05:00" (UTC)
            until=filters["until"] or None,
            limit=PAGE_SIZE + 1,
            offset=(number - 1) * PAGE_SIZE,
        )
        verifier: ChainVerifier = request.app.state.ui_audit_verifier
        chain = verifier.status(client, full=query.get("verify") == "full")
    except ShipyardError as error:
        return render_error(request, viewer, error)
    used = {k: v for k, v in filters.items() if v}
    context: dict[str, Any] = {
        "entries": entries[:PAGE_SIZE],
        "more": len(entries) > PAGE_SIZE,
        "page": number,
        "filters": filters,
        "used": used,
        "chain": chain,
        "cli": _cli(used),
    }
    return render(request, viewer, "audit.html", context)


def _cli(used: dict[str, str]) -> str:
    flags = "".join(
        f" --{k} {v!r}" if " " in v else f" --{k} {v}"
        for k, v in used.items()
        if k in ("actor", "action", "target", "since", "until")
    )
    return f"shipyard audit log{flags} · shipyard audit verify"
