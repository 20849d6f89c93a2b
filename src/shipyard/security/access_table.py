"""Every serving process's in-memory view of the tokens: no database query per request.

Built from the store and rebuilt when the store revision moves (every token
or user change bumps it), polled like the routing table: a revoked token, an
expired one or a disabled user's stops working on every worker within one
poll interval. A request costs a SHA-256 and a dict lookup (about a
microsecond). When tokens were last used is collected here and written in
one batch per interval, never per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from shipyard.entities import TokenRecord
from shipyard.security import tokens
from shipyard.security.permissions import Role
from shipyard.security.principal import Principal
from shipyard.store import Store
from shipyard.store.revision import read_revision

logger = logging.getLogger(__name__)


MAX_VERIFIED = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    expires_at_ms: int | None
    token_hash: str


def _entry(record: TokenRecord) -> _Entry:
    return _Entry(
        Principal(
            name=record.user or record.name,
            role=Role(record.role),
            token=record.name,
            models=frozenset(record.models) if record.models is not None else None,
            deployments=frozenset(record.deployments) if record.deployments is not None else None,
        ),
        record.expires_at,
        record.token_hash,
    )


class AccessTable:
    def __init__(self, store: Store, *, poll_interval_s: float = 0.5) -> None:
        self.store = store
        self.poll_interval_s = poll_interval_s
        self.revision = -1
        self._entries: dict[str, _Entry] = {}
        # Authorization headers already verified against this very table: a repeat
        # caller costs one dict lookup instead of a checksum and a SHA-256 (the predict
        # path's budget is microseconds). Replaced, not updated, on every reload, so a
        # revoked token cannot outlive the table it was verified against.
        self._verified: dict[str, _Entry] = {}
        self._used: dict[str, int] = {}
        self._watcher: asyncio.Task[None] | None = None
        self._last_touch = time.monotonic()

    def load(self) -> None:
        """Read every live token (not revoked, user not disabled) into a fresh dict."""
        revision = read_revision(self.store.db)
        disabled = {u.name for u in self.store.access.users() if u.disabled}
        entries = {
            record.token_hash: _entry(record)
            for record in self.store.access.tokens()
            if record.revoked_at is None and (record.user is None or record.user not in disabled)
        }
        self._entries = entries  # the atomic switch
        self._verified = {}
        self.revision = revision

    def authenticate(self, authorization: str | None) -> Principal | None:
        """The principal of an ``Authorization: Bearer shp_...`` header, or None."""
        if not authorization:
            return None
        entry = self._verified.get(authorization)
        if entry is None:
            entry = self._verify(authorization)
            if entry is None:
                return None
        now_ms = int(time.time() * 1000)
        if entry.expires_at_ms is not None and now_ms >= entry.expires_at_ms:
            return None
        self._used[entry.token_hash] = now_ms
        return entry.principal

    def authenticate_hash(self, token_hash: str) -> Principal | None:
        """The principal of a live token known by its SHA-256 (a dashboard session), or None.

        The same table and expiry check as ``authenticate``: a revoked token, a disabled
        user or an expired token ends the session as it ends the token."""
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        now_ms = int(time.time() * 1000)
        if entry.expires_at_ms is not None and now_ms >= entry.expires_at_ms:
            return None
        self._used[entry.token_hash] = now_ms
        return entry.principal

    def expires_at_ms(self, token_hash: str) -> int | None:
        """When a live token expires (None: never, or unknown)."""
        entry = self._entries.get(token_hash)
        return entry.expires_at_ms if entry is not None else None

    def _verify(self, authorization: str) -> _Entry | None:
        if not authorization.startswith(("Bearer ", "bearer ")):
            return None
        token = authorization[7:].strip()
        if not tokens.well_formed(token):
            return None
        entry = self._entries.get(tokens.token_hash(token))
        if entry is not None and len(self._verified) < MAX_VERIFIED:
            self._verified[authorization] = entry
        return entry

    # -- watching ------------------------------------------------------------------
    def start_watching(self) -> None:
        if self._watcher is None:
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval_s)
            try:
                revision = await asyncio.to_thread(read_revision, self.store.db)
                if revision != self.revision:
                    await asyncio.to_thread(self.load)
                if time.monotonic() - self._last_touch >= 30:
                    await self.flush_last_used()
            except Exception as exc:  # a store hiccup must not stop serving
                logger.warning("token table refresh failed: %s", exc)

    async def flush_last_used(self) -> None:
        used, self._used = self._used, {}
        self._last_touch = time.monotonic()
        if used:
            await asyncio.to_thread(self.store.access.touch_tokens, used)

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
        with contextlib.suppress(Exception):
            await self.flush_last_used()
