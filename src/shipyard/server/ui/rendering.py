"""The Jinja2 environment and the one way a dashboard page becomes a response."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from shipyard.errors import ShipyardError
from shipyard.server.errors import http_status
from shipyard.server.ui.errors import CsrfRefused, SignInFailed
from shipyard.server.ui.sessions import COOKIE, CSRF_FIELD, Session
from shipyard.server.ui.viewer import Viewer

TEMPLATES = Path(__file__).parent / "templates"
MAX_FORM_BYTES = 16 * 1024


def _when(ms: int | None) -> str:
    if not ms:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _number(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return str(value)
    if abs(value) >= 10**digits:  # 3600.0 reads "3600", not "3.6e+03"
        return f"{value:.0f}"
    return f"{value:.{digits}g}"


def build_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["number"] = _number
    env.globals["csrf_field"] = CSRF_FIELD
    return env


def set_session_cookie(response: Response, request: Request, session: Session) -> None:
    response.set_cookie(
        COOKIE,
        session.cookie,
        max_age=max(1, session.expires_at - int(dt.datetime.now(dt.UTC).timestamp())),
        path="/ui",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def render(
    request: Request,
    viewer: Viewer | None,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> HTMLResponse:
    env: Environment = request.app.state.ui_templates
    html = env.get_template(template).render(viewer=viewer, path=request.url.path, **context)
    response = HTMLResponse(html, status_code=status)
    response.headers["cache-control"] = "no-store"
    response.headers["x-frame-options"] = "DENY"
    response.headers["content-security-policy"] = (
        "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    )
    if viewer is not None and viewer.issued is not None:
        set_session_cookie(response, request, viewer.issued)
    return response


def status_of(error: ShipyardError) -> int:
    if isinstance(error, CsrfRefused):
        return 403
    if isinstance(error, SignInFailed):
        return 401
    return http_status(error)


def render_error(request: Request, viewer: Viewer | None, error: ShipyardError) -> HTMLResponse:
    status = status_of(error)
    message = str(error) if status < 500 else "internal error; details are in the server log"
    return render(
        request,
        viewer,
        "error.html",
        {"status": status, "message": message, "cli": ""},
        status=status,
    )


async def read_form(request: Request) -> dict[str, str]:
    """A small urlencoded form (no multipart dependency for two fields)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise CsrfRefused("form too large")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
