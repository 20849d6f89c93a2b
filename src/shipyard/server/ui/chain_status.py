"""The audit hash chain's verify status for the Audit page, kept fast on big trails.

Verifying reads and hashes every row (about 20 us a row on SQLite: 1 s for 50,000 rows),
so the page does not verify the whole chain on every load. Per process it keeps the last
head it verified (id and hash); a later load checks only the rows appended since, through
the same Client operation as ``shipyard audit verify`` (``verify_audit(after=head)``, which
first makes sure that row still has its hash). A check of more than ``inline_rows`` rows
(the first full check of a big trail, or one asked for with ``?verify=full``) runs in a
background thread; meanwhile the page says it is checking, and its live region shows the
result once it is there. What an incremental check cannot see, rows edited before the
verified head, the page says too, with when the last full check ran and what it cost.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from shipyard.sdk.client import Client
from shipyard.store.audit_chain import AuditCheck, AuditHead

logger = logging.getLogger(__name__)

#: Rows verified while the page waits (about 100 ms); more go to the background.
INLINE_ROWS = 5000


@dataclass(frozen=True)
class ChainStatus:
    """What the page says about the chain. ``check`` None: a check is still running."""

    check: AuditCheck | None
    head: AuditHead | None
    rows: int  # verified in all up to ``head`` (pending: rows being checked)
    full_at_ms: int  # when the whole chain was last checked (pending: when it started)
    full_ms: float  # what that cost
    took_ms: float  # what this load's check cost
    incremental: bool  # this load checked only the rows since the last verified head

    @property
    def pending(self) -> bool:
        return self.check is None


def _now_ms() -> int:
    return int(time.time() * 1000)


class ChainVerifier:
    """This process's last verified head and the check running in the background, if any."""

    def __init__(self, inline_rows: int = INLINE_ROWS) -> None:
        self.inline_rows = inline_rows
        self._lock = threading.Lock()
        self._last: ChainStatus | None = None
        self._running: ChainStatus | None = None  # a background check's placeholder

    def status(self, client: Client, *, full: bool = False) -> ChainStatus:
        head = client.audit_head()
        with self._lock:
            if self._running is not None:
                return self._running
            last = self._last
            ok = last is not None and last.check is not None and last.check.ok
            if not full and ok and last is not None and last.head == head:
                return ChainStatus(
                    last.check, head, last.rows, last.full_at_ms, last.full_ms, 0.0, True
                )
            after = last.head if not full and ok and last is not None else None
            todo = (head.id if head else 0) - (after.id if after else 0)
            if todo <= self.inline_rows:
                self._last = _verify(client, head, after, last)
                return self._last
            self._running = ChainStatus(None, head, todo, _now_ms(), 0.0, 0.0, after is not None)
            threading.Thread(
                target=self._background, args=(client, head, after, last), daemon=True
            ).start()
            return self._running

    def _background(
        self,
        client: Client,
        head: AuditHead | None,
        after: AuditHead | None,
        last: ChainStatus | None,
    ) -> None:
        """A long check, off the request path; pages read the placeholder meanwhile."""
        try:
            status = _verify(client, head, after, last)
        except Exception:  # the page says nothing new; the next load tries again
            logger.exception("could not verify the audit chain")
            status = None
        with self._lock:
            if status is not None:
                self._last = status
            self._running = None


def _verify(
    client: Client, head: AuditHead | None, after: AuditHead | None, last: ChainStatus | None
) -> ChainStatus:
    """Verify all rows, or those after ``after`` (verified before, in ``last``), timed.
    A broken chain is kept as the result: the next load checks it in full again."""
    started = time.perf_counter()
    check = client.verify_audit(after=after) if after is not None else client.verify_audit()
    took = (time.perf_counter() - started) * 1000
    if after is not None and check.ok and last is not None:
        rows = head.id if head is not None else 0  # ids are gapless from 1
        return ChainStatus(check, head, rows, last.full_at_ms, last.full_ms, took, True)
    return ChainStatus(check, head, check.rows_checked, _now_ms(), took, took, False)
