"""The Audit page (admins: the permission of ``shipyard audit``): the audit trail, filtered
and paged in the store, with the hash chain's verify status.

Verifying reads every row, which grows with the trail. The page checks the whole chain
once per process (and whenever asked with ``?verify=full``), timing it; later loads check
only the rows appended since the head it verified (``Client.verify_audit(after=...)``,
which first makes sure that head still has its hash) and say so, with when the last full
check ran and what it cost."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from shipyard.errors import ShipyardError
from shipyard.sdk.client import Client
from shipyard.server.ui.pipeline_pages import page_number
from shipyard.server.ui.rendering import render, render_error
from shipyard.server.ui.viewer import viewer_of
from shipyard.store.audit_chain import AuditCheck, AuditHead

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100
FILTERS = ("actor", "action", "target", "since", "until")


@dataclass(frozen=True)
class ChainStatus:
    """What the page says about the chain: the check, the head it reached, how."""

    check: AuditCheck
    head: AuditHead | None
    rows: int  # rows verified in all, up to ``head``
    full_at_ms: int  # when the whole chain was last checked
    full_ms: float  # what that cost
    took_ms: float  # what this page's check cost
    incremental: bool  # this page checked only the rows since the last verified head


class ChainVerifier:
    """The last verified head of this process, keyed by the newest row (id and hash)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: ChainStatus | None = None

    def status(self, client: Client, *, full: bool = False) -> ChainStatus:
        with self._lock:
            head = client.audit_head()
            last = self._last
            if not full and last is not None and last.check.ok and last.head == head:
                return ChainStatus(
                    last.check,
                    head,
                    last.rows,
                    last.full_at_ms,
                    last.full_ms,
                    0.0,
                    incremental=True,
                )
            started = time.perf_counter()
            incremental = not full and last is not None and last.check.ok and last.head is not None
            if incremental:
                assert last is not None
                check = client.verify_audit(after=last.head)
            else:
                check = client.verify_audit()
            took = (time.perf_counter() - started) * 1000
            if incremental and check.ok:
                assert last is not None
                rows = head.id if head is not None else 0  # ids are gapless from 1
                status = ChainStatus(check, head, rows, last.full_at_ms, last.full_ms, took, True)
            else:
                now = int(time.time() * 1000)
                status = ChainStatus(check, head, check.rows_checked, now, took, took, False)
            # a broken chain is checked in full again next time (it may have been repaired)
            self._last = status
            return status


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
