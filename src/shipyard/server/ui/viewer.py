"""Who is looking at a dashboard page, and what they may do there.

Built per request from what the auth layer found (``request.state``): the principal, the
session cookie (absent when a bearer token was sent instead) and its CSRF token. ``can``
answers from the one permission table, so a button is shown exactly when the server
would accept the request it sends.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from shipyard.security.principal import Principal
from shipyard.server.route_permissions import ROUTES, denial
from shipyard.server.ui.errors import CsrfRefused
from shipyard.server.ui.sessions import (
    COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    LOCAL,
    Session,
    SessionCodec,
)


@dataclass
class Viewer:
    principal: Principal | None  # None: the server runs with --no-auth
    session: Session | None  # None: authenticated by a bearer header (no CSRF needed)
    csrf: str
    issued: Session | None = None  # a --no-auth session made by this request: set its cookie

    @property
    def name(self) -> str:
        return self.principal.actor if self.principal else "local (no auth)"

    @property
    def role(self) -> str:
        return self.principal.role.value if self.principal else "admin (no auth)"

    def can(self, method: str, template: str, **params: str) -> bool:
        """Whether the route ``(method, template)`` would accept this viewer."""
        rule = ROUTES[(method, template)]
        if self.principal is None:
            return True
        return denial(self.principal, rule, params) is None


def viewer_of(request: Request) -> Viewer:
    codec: SessionCodec = request.app.state.ui_sessions
    auth: bool = request.app.state.ui_auth
    if auth:
        principal: Principal | None = request.state.principal
        session: Session | None = getattr(request.state, "ui_session", None)
        return Viewer(principal, session, codec.csrf_token(session) if session else "")
    # --no-auth: still a (local) session, so that forms carry a CSRF token
    session = codec.verify(request.cookies.get(COOKIE))
    issued = None
    if session is None or session.subject != LOCAL:
        session = issued = codec.issue(LOCAL)
    return Viewer(None, session, codec.csrf_token(session), issued)


def check_csrf(request: Request, viewer: Viewer, form: dict[str, str]) -> None:
    """Refuse a state-changing request that carries no valid CSRF token for its session.

    A bearer-token caller (no cookie involved) cannot be forged by another site."""
    if request.app.state.ui_auth and viewer.session is None:
        return
    codec: SessionCodec = request.app.state.ui_sessions
    presented = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if viewer.issued is not None or not codec.csrf_ok(viewer.session, presented):
        raise CsrfRefused("missing or wrong CSRF token: reload the page and try again")
