"""Every HTTP client Shipyard makes, configured in one place.

Webhook deliveries, the quickstart's traffic and (later) the SDK's remote back
end all open their clients here, so one setting - ``SHIPYARD_CA_BUNDLE`` -
decides which certificate authorities an ``https://`` server may be signed by.
Without it the system's trust store is used; verification is never turned off.
"""

from __future__ import annotations

import ssl
from typing import Any

import httpx

from shipyard.config import HttpSettings
from shipyard.errors import InvalidInput


def ssl_context(settings: HttpSettings) -> ssl.SSLContext:
    """A client context verifying servers against the bundle, or the system store without one.

    A bundle replaces the system store (as ``REQUESTS_CA_BUNDLE`` does): trusting a
    private CA should not silently add every public one, nor the other way round.
    """
    bundle = settings.ca_bundle
    if bundle is None:
        context = ssl.create_default_context()
    else:
        if not bundle.is_file():
            raise InvalidInput(f"CA bundle {str(bundle)!r} does not exist or is not a file")
        try:
            context = ssl.create_default_context(cafile=str(bundle))
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise InvalidInput(
                f"CA bundle {str(bundle)!r} holds no usable PEM certificate: {exc}"
            ) from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def _options(settings: HttpSettings | None, kwargs: dict[str, Any]) -> dict[str, Any]:
    settings = settings or HttpSettings()
    kwargs.setdefault("timeout", settings.http_timeout_s)
    return {"verify": ssl_context(settings), **kwargs}


def http_client(settings: HttpSettings | None = None, **kwargs: Any) -> httpx.Client:
    """A blocking ``httpx.Client`` verifying TLS per ``settings``; kwargs go to httpx."""
    return httpx.Client(**_options(settings, kwargs))


def async_http_client(settings: HttpSettings | None = None, **kwargs: Any) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` verifying TLS per ``settings``; kwargs go to httpx."""
    return httpx.AsyncClient(**_options(settings, kwargs))
