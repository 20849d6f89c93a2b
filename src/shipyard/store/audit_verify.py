"""Recompute the audit chain and name the first row that does not fit.

Rows are read in id order in one streaming query. For each row: its
``prev_hash`` must be the previous row's ``hash`` (else a row was deleted,
reordered or re-hashed) and its ``hash`` must be recomputable from its own
fields (else it was edited). What the chain cannot show alone: the newest rows
deleted, or the whole chain rewritten from some row on. A checkpoint
(``HASH@ID`` from ``chain_head``, kept elsewhere) catches both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shipyard.store.audit import AUDIT_TABLE, count_events
from shipyard.store.audit_chain import GENESIS, HASHED_FIELDS, AuditCheck, AuditHead, chain_hash

Progress = Callable[[int, int], None]
_PROGRESS_EVERY = 1000


def verify_chain(
    session: Session,
    *,
    checkpoint: AuditHead | None = None,
    progress: Progress | None = None,
    after: AuditHead | None = None,
) -> AuditCheck:
    """Check every row; ``progress(done, total)`` is called now and then when given.

    ``after``: a head verified before (by whoever calls); only the rows after it are
    checked, chained from its hash, once the row it names still has that hash. What that
    cannot see: rows before it edited since (a full check, without ``after``, does)."""
    total = count_events(session) if progress is not None else 0
    columns = [AUDIT_TABLE.c[name] for name in (*HASHED_FIELDS, "prev_hash", "hash")]
    query = select(*columns).order_by(AUDIT_TABLE.c.id)
    expected_prev, prev_id, checked = GENESIS, None, 0
    if after is not None:
        moved = _against(session, after, 0)
        if not moved.ok:
            return moved
        query = query.where(AUDIT_TABLE.c.id > after.id)
        expected_prev, prev_id = after.hash, after.id
    rows = session.execute(query).yield_per(1000)
    for row in rows.mappings():
        if row["prev_hash"] != expected_prev:
            return _broken_link(session, row, prev_id, checked)
        if chain_hash(row["prev_hash"], row) != row["hash"]:
            return AuditCheck(
                ok=False,
                rows_checked=checked,
                bad_row_id=row["id"],
                problem="edited",
                message=f"row {row['id']} was edited: its fields no longer match its hash",
            )
        expected_prev, prev_id, checked = row["hash"], row["id"], checked + 1
        if progress is not None and checked % _PROGRESS_EVERY == 0:
            progress(checked, total)
    if progress is not None:
        progress(checked, total)
    if checkpoint is not None:
        return _against(session, checkpoint, checked)
    return AuditCheck(ok=True, rows_checked=checked)


def _broken_link(session: Session, row: Any, prev_id: int | None, checked: int) -> AuditCheck:
    row_id = row["id"]
    linked_to = session.scalar(
        select(AUDIT_TABLE.c.id).where(AUDIT_TABLE.c.hash == row["prev_hash"]).limit(1)
    )
    after = f"row {prev_id}" if prev_id is not None else "the start of the trail"
    if linked_to is not None and linked_to > row_id:
        return AuditCheck(
            ok=False,
            rows_checked=checked,
            bad_row_id=row_id,
            problem="reordered",
            message=f"row {row_id} chains from row {linked_to}, which comes after it: "
            "rows were reordered",
        )
    if linked_to is None and (prev_id is None or row_id != prev_id + 1):
        missing = f"before row {row_id}" if prev_id is None else f"between {after} and row {row_id}"
        return AuditCheck(
            ok=False,
            rows_checked=checked,
            bad_row_id=row_id,
            problem="deleted",
            message=f"rows were deleted {missing}",
        )
    return AuditCheck(
        ok=False,
        rows_checked=checked,
        bad_row_id=row_id,
        problem="broken_link",
        message=f"row {row_id} does not chain from {after}: a row was edited and re-hashed, "
        "or rows were deleted and renumbered",
    )


def _against(session: Session, checkpoint: AuditHead, checked: int) -> AuditCheck:
    stored = session.scalar(select(AUDIT_TABLE.c.hash).where(AUDIT_TABLE.c.id == checkpoint.id))
    if stored is None:
        return AuditCheck(
            ok=False,
            rows_checked=checked,
            bad_row_id=checkpoint.id,
            problem="deleted",
            message=f"checkpoint row {checkpoint.id} is gone: the newest rows were deleted",
        )
    if stored != checkpoint.hash:
        return AuditCheck(
            ok=False,
            rows_checked=checked,
            bad_row_id=checkpoint.id,
            problem="broken_link",
            message=f"row {checkpoint.id} no longer has the checkpoint's hash: "
            "the chain was rewritten at or before it",
        )
    return AuditCheck(ok=True, rows_checked=checked)
