"""MLflow page tokens: opaque to the client, an offset for Shipyard."""

from __future__ import annotations

import base64

from shipyard.errors import InvalidInput

MAX_RESULTS = 50_000


def offset_of(token: str | None) -> int:
    if not token:
        return 0
    try:
        offset = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("offset:"))
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(f"invalid page_token {token!r}") from None
    if offset < 0:
        raise InvalidInput(f"invalid page_token {token!r}")
    return offset


def token_for(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def check_max_results(value: int, limit: int = MAX_RESULTS) -> int:
    if not 1 <= value <= limit:
        raise InvalidInput(f"max_results must be between 1 and {limit}, got {value}")
    return value
