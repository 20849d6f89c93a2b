"""Dashboard sessions: a signed, opaque cookie in place of the token, and its CSRF token.

The cookie holds no secret that works anywhere else: ``v1.<token sha256>.<expiry>.<mac>``,
signed with HMAC-SHA256 under a key every serving process shares (``SHIPYARD_UI_SESSION_KEY``,
else a random key kept in ``<home>/ui-session.key``, mode 0600). The token hash is what the
store keeps too; it cannot be sent as a bearer token. Each request resolves the hash through
the same in-memory ``AccessTable`` as API tokens, so revoking the token, disabling its user
or its expiry ends the session within one poll interval, on every worker, with no
session table to keep in step. The CSRF token is a second MAC over the cookie value: tied
to the session, checked on every state-changing request, never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

COOKIE = "shipyard_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
MAX_AGE_S = 12 * 3600
#: The subject of a session when the server runs with ``--no-auth`` (CSRF still applies).
LOCAL = "local"


@dataclass(frozen=True)
class Session:
    subject: str  # a token's sha256, or LOCAL
    expires_at: int  # unix seconds
    cookie: str


def load_key(configured: str | None, home: Path) -> bytes:
    """The signing key: configured, else created once in the workspace folder, else (a
    read-only folder) a random key of this process alone, with a warning."""
    if configured:
        return hashlib.sha256(configured.encode()).digest()
    try:
        return _key_file(home / "ui-session.key")
    except (OSError, ValueError) as exc:
        logger.warning(
            "dashboard sessions use a key of this process only (%s); set "
            "SHIPYARD_UI_SESSION_KEY so that every worker and replica accepts them",
            type(exc).__name__,
        )
        return secrets.token_bytes(32)


def _key_file(path: Path) -> bytes:
    home = path.parent
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fresh = home / f".ui-session.key.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        try:
            os.link(fresh, path)  # first writer wins; the others read its key
        except FileExistsError:
            pass
        finally:
            fresh.unlink()
    return bytes.fromhex(path.read_text().strip())


class SessionCodec:
    """Issues and verifies session cookies and their CSRF tokens."""

    def __init__(self, key: bytes, *, max_age_s: int = MAX_AGE_S) -> None:
        self._key = key
        self.max_age_s = max_age_s

    def _mac(self, purpose: str, message: str) -> str:
        return hmac.new(self._key, f"{purpose}|{message}".encode(), hashlib.sha256).hexdigest()

    def issue(self, subject: str, *, not_after_s: int | None = None) -> Session:
        expires = int(time.time()) + self.max_age_s
        if not_after_s is not None:
            expires = min(expires, not_after_s)
        body = f"v1.{subject}.{expires}"
        return Session(subject, expires, f"{body}.{self._mac('session', body)}")

    def verify(self, cookie: str | None) -> Session | None:
        """The session a cookie names, or None when forged, malformed or expired."""
        if not cookie or cookie.count(".") != 3:
            return None
        body, _, mac = cookie.rpartition(".")
        if not hmac.compare_digest(mac, self._mac("session", body)):
            return None
        _, subject, expires = body.split(".")
        if not expires.isdigit() or int(expires) <= time.time():
            return None
        return Session(subject, int(expires), cookie)

    def csrf_token(self, session: Session) -> str:
        return self._mac("csrf", session.cookie)

    def csrf_ok(self, session: Session | None, presented: str | None) -> bool:
        if session is None or not presented:
            return False
        return hmac.compare_digest(presented, self.csrf_token(session))


def read_cookie(header: str | None, name: str = COOKIE) -> str | None:
    """One cookie's value from a Cookie header (no parsing library on the auth path)."""
    for part in (header or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None
