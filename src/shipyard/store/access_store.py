"""SQL for users and API tokens. Every change bumps the store revision, which is
how serving processes learn within one poll interval that a token was revoked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from shipyard.entities import TokenRecord, UserRecord
from shipyard.errors import Conflict, NotFound
from shipyard.store.audit import now_ms, record_event
from shipyard.store.database import Database
from shipyard.store.revision import bump_revision
from shipyard.store.schema import ApiToken, User


def _user(row: User) -> UserRecord:
    return UserRecord(row.name, row.role, bool(row.disabled), row.created_at)


def _token(row: ApiToken) -> TokenRecord:
    return TokenRecord(
        row.name,
        row.token_hash,
        row.display,
        row.role,
        row.user,
        tuple(row.models) if row.models is not None else None,
        tuple(row.deployments) if row.deployments is not None else None,
        row.created_at,
        row.created_by,
        row.expires_at,
        row.last_used_at,
        row.revoked_at,
    )


class AccessStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- users -----------------------------------------------------------------
    def add_user(self, name: str, role: str, *, actor: str) -> UserRecord:
        try:
            with self.db.write() as session:
                if session.get(User, name) is not None:
                    raise Conflict(f"user {name!r} already exists")
                row = User(name=name, role=role, disabled=False, created_at=now_ms())
                session.add(row)
                session.flush()
                record_event(
                    session,
                    actor=actor,
                    action="user.add",
                    object_type="user",
                    object_id=name,
                    details={"role": role},
                )
                bump_revision(session)
                return _user(row)
        except SqlIntegrityError as exc:
            raise Conflict(f"user {name!r} already exists") from exc

    def users(self) -> list[UserRecord]:
        with self.db.read() as session:
            return [_user(r) for r in session.scalars(select(User).order_by(User.name))]

    def get_user(self, name: str) -> UserRecord:
        with self.db.read() as session:
            row = session.get(User, name)
            if row is None:
                raise NotFound(f"user {name!r} does not exist")
            return _user(row)

    def set_user_disabled(self, name: str, disabled: bool, *, actor: str) -> UserRecord:
        with self.db.write() as session:
            row = session.get(User, name)
            if row is None:
                raise NotFound(f"user {name!r} does not exist")
            before = bool(row.disabled)
            row.disabled = disabled
            record_event(
                session,
                actor=actor,
                action="user.disable" if disabled else "user.enable",
                object_type="user",
                object_id=name,
                details={"before": {"disabled": before}, "after": {"disabled": disabled}},
            )
            bump_revision(session)
            session.flush()
            return _user(row)

    # -- tokens ----------------------------------------------------------------
    def add_token(self, record: TokenRecord, *, actor: str) -> TokenRecord:
        try:
            with self.db.write() as session:
                if session.get(ApiToken, record.name) is not None:
                    raise Conflict(f"a token named {record.name!r} already exists")
                if record.user is not None:
                    user = session.get(User, record.user)
                    if user is None:
                        raise NotFound(f"user {record.user!r} does not exist")
                    if user.disabled:
                        raise Conflict(f"user {record.user!r} is disabled")
                session.add(
                    ApiToken(
                        name=record.name,
                        token_hash=record.token_hash,
                        display=record.display,
                        role=record.role,
                        user=record.user,
                        models=list(record.models) if record.models is not None else None,
                        deployments=(
                            list(record.deployments) if record.deployments is not None else None
                        ),
                        created_at=record.created_at,
                        created_by=record.created_by,
                        expires_at=record.expires_at,
                    )
                )
                public = record.to_public()
                record_event(
                    session,
                    actor=actor,
                    action="token.create",
                    object_type="token",
                    object_id=record.name,
                    details={k: public[k] for k in ("role", "user", "models", "deployments")}
                    | {"expires_at": record.expires_at},
                )
                bump_revision(session)
                return record
        except SqlIntegrityError as exc:
            raise Conflict(f"a token named {record.name!r} already exists") from exc

    def tokens(self) -> list[TokenRecord]:
        with self.db.read() as session:
            return [_token(r) for r in session.scalars(select(ApiToken).order_by(ApiToken.name))]

    def revoke_token(self, name: str, *, actor: str) -> TokenRecord:
        with self.db.write() as session:
            row = session.get(ApiToken, name)
            if row is None:
                raise NotFound(f"token {name!r} does not exist")
            if row.revoked_at is None:
                row.revoked_at = now_ms()
                record_event(
                    session,
                    actor=actor,
                    action="token.revoke",
                    object_type="token",
                    object_id=name,
                    details={},
                )
                bump_revision(session)
            session.flush()
            return _token(row)

    def record_denials(self, denials: Sequence[Any], dropped: int = 0) -> None:
        """One audit row per denied request (``security.denials.Denial``), in one transaction."""
        with self.db.write() as session:
            for denial in denials:
                record_event(
                    session,
                    actor=denial.actor,
                    action="access.denied",
                    object_type="route",
                    object_id=f"{denial.method} {denial.route}",
                    details={
                        "status": denial.status,
                        "reason": denial.reason,
                        "client": denial.client,
                        "request_id": denial.request_id,
                    },
                    request_id=denial.request_id,
                    client_address=denial.client,
                )
            if dropped:
                record_event(
                    session,
                    actor="server",
                    action="access.denied_dropped",
                    object_type="route",
                    object_id="*",
                    details={"count": dropped},
                )

    def touch_tokens(self, last_used: dict[str, int]) -> None:
        """Record when tokens were last used (batched by the server, not per request)."""
        if not last_used:
            return
        with self.db.write() as session:
            for token_hash, at in last_used.items():
                session.execute(
                    update(ApiToken)
                    .where(ApiToken.token_hash == token_hash)
                    .values(last_used_at=at)
                )
