"""Who and where a mutation comes from, set once per request instead of passed down.

The HTTP server knows the request id, the client's address and (once it
authenticates) the principal; the store functions that write audit rows are
several calls below it. The server wraps each request in::

    with audit_context(request_id=rid, client_address=peer, actor=principal_name):
        ...  # every audit row written in here carries these

``actor``, when set, overrides the actor the caller passed (the SDK passes the
OS user of direct store access), so the authenticated principal is what the
audit records no matter which code path made the change. The values live in a
``ContextVar``, so concurrent requests (threads or tasks) never see each
other's, and Starlette's threadpool carries them into sync endpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class AuditContext:
    request_id: str | None = None
    client_address: str | None = None
    actor: str | None = None


_NONE = AuditContext()
_CURRENT: ContextVar[AuditContext | None] = ContextVar("shipyard_audit_context", default=None)


def current_audit_context() -> AuditContext:
    return _CURRENT.get() or _NONE


@contextmanager
def audit_context(
    *, request_id: str | None = None, client_address: str | None = None, actor: str | None = None
) -> Iterator[AuditContext]:
    """Attach these values to every audit row written inside the block."""
    context = AuditContext(request_id=request_id, client_address=client_address, actor=actor)
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)
