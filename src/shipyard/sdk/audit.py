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

_CHECKPOINT = re.compile(r"^(?P<hash>[0-9a-f]{64})@(?P<id>[0-9]+)$")


def since_ms(since: str | dt.datetime | dt.timedelta) -> int:
    """A point in time as epoch milliseconds: ``"1h"`` (ago), a timedelta (ago) or a datetime."""
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
    ) -> list[AuditEntry]:
        """Audit rows, newest first: ``since`` ``"1h"``/a datetime, ``action`` a prefix."""
        if limit < 1:
            raise InvalidInput(f"limit must be at least 1, got {limit}")
        start = since_ms(since) if since is not None else None
        with self.store.db.read() as session:
            return list_events(
                session, limit=limit, since_ms=start, actor=actor, action_prefix=action
            )

    @operation(P.MANAGE_ACCESS)
    def verify_audit(
        self, *, against: str | AuditHead | None = None, progress: Progress | None = None
    ) -> AuditCheck:
        """Recompute the hash chain; ``against`` is a checkpoint (``HASH@ID``) kept elsewhere,
        which also catches the newest rows deleted or the chain rewritten up to it."""
        checkpoint = parse_checkpoint(against) if isinstance(against, str) else against
        with self.store.db.read() as session:
            return verify_chain(session, checkpoint=checkpoint, progress=progress)

    @operation(P.MANAGE_ACCESS)
    def audit_head(self) -> AuditHead | None:
        """The newest row's id and hash (None for an empty trail): a checkpoint to keep."""
        with self.store.db.read() as session:
            return chain_head(session)
