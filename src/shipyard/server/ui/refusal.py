"""The page a browser sees when the auth layer refuses a dashboard request (no template
engine on that path: it runs before any route, for every refusal)."""

from __future__ import annotations

from html import escape


def refusal_page(status: int, message: str) -> bytes:
    title = "Sign in required" if status == 401 else "Not allowed"
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{title} · Shipyard</title>"
        '<link rel="stylesheet" href="/ui/static/app.css"></head><body><main>'
        f"<h1>{status} {title}</h1>"
        f'<p class="error" role="alert">{escape(message, quote=False)}</p>'
        '<p><a href="/ui">Back to the overview</a> · '
        '<a href="/ui/login">Sign in as someone else</a></p>'
        "</main></body></html>"
    ).encode()
