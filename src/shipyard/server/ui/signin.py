"""Signing in to the dashboard: a Shipyard token for a session cookie, and signing out."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from shipyard.errors import ShipyardError
from shipyard.security import tokens
from shipyard.security.access_table import AccessTable
from shipyard.server.ui.errors import CsrfRefused, SignInFailed
from shipyard.server.ui.rendering import read_form, render, set_session_cookie, status_of
from shipyard.server.ui.sessions import COOKIE, SessionCodec

router = APIRouter(include_in_schema=False)


def _cross_site(request: Request) -> bool:
    """A sign-in posted from another site's page (login CSRF): the browser says so in
    ``Sec-Fetch-Site`` or in an ``Origin`` that is not this server."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = request.headers.get("origin")
    return bool(origin) and urlsplit(origin).netloc != request.headers.get("host")


def _next(target: str | None) -> str:
    """Where to go after signing in: a dashboard path only (no open redirect)."""
    if target and (target == "/ui" or target.startswith("/ui/")) and "//" not in target:
        return target
    return "/ui"


@router.get("/ui/login")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    if not request.app.state.ui_auth:
        return RedirectResponse(_next(next), status_code=303)
    return render(
        request,
        None,
        "login.html",
        {"next": _next(next), "error": "", "cli": "shipyard tokens create --name me --role viewer"},
    )


@router.post("/ui/login")
async def sign_in(request: Request) -> Response:
    """Verify the token with the same in-memory table the API uses; on success a signed
    cookie naming the token's hash (never the token) replaces it."""
    form = await read_form(request)
    target = _next(form.get("next"))
    if not request.app.state.ui_auth:
        return RedirectResponse(target, status_code=303)
    table: AccessTable = request.app.state.ui_access
    codec: SessionCodec = request.app.state.ui_sessions
    token = form.get("token", "").strip()
    principal = table.authenticate(f"Bearer {token}") if token else None
    error: ShipyardError | None = None
    if _cross_site(request):
        error = CsrfRefused("sign-in must come from this server's own sign-in page")
    elif principal is None:
        error = SignInFailed("that token is not valid: it may be mistyped, revoked or expired")
    if error is not None:
        return render(
            request,
            None,
            "login.html",
            {"next": target, "error": error.reason, "cli": ""},
            status=status_of(error),
        )
    token_hash = tokens.token_hash(token)
    expires_ms = table.expires_at_ms(token_hash)
    session = codec.issue(token_hash, not_after_s=expires_ms // 1000 if expires_ms else None)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, session)
    return response


@router.post("/ui/logout")
def sign_out(request: Request) -> Response:
    """Forget the session cookie in this browser (revoking the token ends it everywhere)."""
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return response
