"""The ``shipyard.Client`` methods for the audit trail: read it, verify it, checkpoint it."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

from shipyard.deploy.rollouts import parse_duration
from shipyard.errors import InvalidInput
from shipyard.sdk.operations import operation
from shipyard.security.permissions import Permission as P
from shipyard.store.audit import AuditEntry, chain_head, list_events, now_ms
from shipyard.store.audit_chain import AuditCheck, AuditHead
from shipyard.store.audit_verify import Progress, verify_chain

if TYPE_CHECKING:
    from shipyard.store import Store

_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_CHECKPOINT = re.compile(r"^(?P<hash>[0-9a-f]{64})@(?P<id>[0-9]+)$")


def since_ms(since: str | dt.datetime | dt.timedelta) -> int:
    """A point in time as epoch milliseconds: ``"1h"`` (ago), a timedelta (ago), a datetime
    or an ISO time such as ``"2026-12-01 05:00"`` (UTC unless it names its offset)."""
    if isinstance(since, str) and _ISO_DATE.match(since.strip()):
        try:
            since = dt.datetime.fromisoformat(since.strip())
        except ValueError:
            raise InvalidInput(
                f"cannot read time {since!r}; use e.g. 2026-12-01 05:00 (UTC) or 1h (ago)"
            ) from None
        if since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
    if isinstance(since, dt.datetime):
        return int(since.timestamp() * 1000)
    seconds = since.total_seconds() if isinstance(since, dt.timedelta) else parse_duration(since)
    if seconds < 0:
        raise InvalidInput(f"since must not be negative, got {since!r}")
    return now_ms() - int(seconds * 1000)


def parse_checkpoint(text: str) -> AuditHead:
    """``HASH@ID`` as printed by ``shipyard audit head``."""
    match = _CHECKPOINT.match(text.strip().lower())
    if match is None:
        raise InvalidInput(
            f"cannot read checkpoint {text!r}; expected HASH@ID as printed by `shipyard audit head`"
        )
    return AuditHead(id=int(match["id"]), hash=match["hash"])


def parse_target(text: str | None) -> tuple[str | None, str | None]:
    """``"model cancer"`` -> (``model``, ``cancer``); ``"model"`` -> (``model``, None): what
    ``shipyard audit log`` prints in its object column."""
    if text is None or not text.strip():
        return None, None
    kind, _, name = text.strip().partition(" ")
    return kind, name.strip() or None


class AuditMethods:
    store: Store

    @operation(P.MANAGE_ACCESS)
    def audit_log(
        self,
        *,
        since: str | dt.datetime | dt.timedelta | None = None,
        actor: str | None = None,
        action: str | None = None,
        limit: int = 100,
        until: str | dt.datetime | dt.timedelta | None = None,
        target: str | None = None,
        offset: int = 0,
    ) -> list[AuditEntry]:
        """Audit rows, newest first: ``since``/``until`` ``"1h"`` (ago) or a datetime,
        ``action`` a prefix, ``target`` what changed as ``"TYPE ID"`` (``"model cancer"``)
        or ``"TYPE"``; ``offset`` skips that many rows (a page of ``limit``)."""
        if limit < 1:
            raise InvalidInput(f"limit must be at least 1, got {limit}")
        if offset < 0:
            raise InvalidInput(f"offset must not be negative, got {offset}")
        start = since_ms(since) if since is not None else None
        end = since_ms(until) if until is not None else None
        object_type, object_id = parse_target(target)
        with self.store.db.read() as session:
            return list_events(
                session,
                limit=limit,
                offset=offset,
                since_ms=start,
                until_ms=end,
                actor=actor,
                action_prefix=action,
                object_type=object_type,
                object_id=object_id,
            )

    @operation(P.MANAGE_ACCESS)
    def verify_audit(
        self,
        *,
        against: str | AuditHead | None = None,
        progress: Progress | None = None,
        after: str | AuditHead | None = None,
    ) -> AuditCheck:
        """Recompute the hash chain; ``against`` is a checkpoint (``HASH@ID``) kept elsewhere,
        which also catches the newest rows deleted or the chain rewritten up to it.
        ``after``, a checkpoint verified before: check only the rows since (it must still
        be in the chain with its hash)."""
        checkpoint = parse_checkpoint(against) if isinstance(against, str) else against
        start = parse_checkpoint(after) if isinstance(after, str) else after
        with self.store.db.read() as session:
            return verify_chain(session, checkpoint=checkpoint, progress=progress, after=start)

    @operation(P.MANAGE_ACCESS)
    def audit_head(self) -> AuditHead | None:
        """The newest row's id and hash (None for an empty trail): a checkpoint to keep."""
        with self.store.db.read() as session:
            return chain_head(session)
