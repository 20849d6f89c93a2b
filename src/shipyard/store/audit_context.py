"""Who the audit trail names for the changes made in this context.

A direct store access (SDK, CLI) is audited as its ``actor`` argument (the
OS user by default). The server sets the caller here for the duration of a
request, and ``record_event`` prefers it: every route's change is recorded
under the token or user that asked for it, not the server's OS user, without
threading the caller through every service function. Starlette copies the
context into the threads that run sync routes, so it holds there too.
"""

from __future__ import annotations

from contextvars import ContextVar

REQUEST_ACTOR: ContextVar[str | None] = ContextVar("shipyard_request_actor", default=None)


def actor_for(default: str) -> str:
    return REQUEST_ACTOR.get() or default
