"""What a stream consumer or status call can fail with, in the ShipyardError tree."""

from __future__ import annotations

from shipyard.errors import NotFound, ShipyardError


class StreamUnavailable(ShipyardError):
    """Redis cannot be reached (the URL in the message has its password hidden)."""


class StreamNotFound(NotFound):
    def __init__(self, stream: str, group: str | None = None) -> None:
        what = f"group {group!r} of stream {stream!r}" if group else f"stream {stream!r}"
        super().__init__(f"{what} does not exist")
