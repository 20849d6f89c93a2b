"""Users and tokens: create, list, disable, revoke (the operations every interface calls)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shipyard.entities import TokenRecord, UserRecord
from shipyard.errors import InvalidInput
from shipyard.names import check_name
from shipyard.security import tokens
from shipyard.security.permissions import ROLE_PERMISSIONS, Role, parse_role
from shipyard.store import Store
from shipyard.store.audit import now_ms


@dataclass(frozen=True)
class NewToken:
    """A created token: ``token`` is the only time the secret exists outside its owner."""

    token: str
    record: TokenRecord

    def to_public(self) -> dict[str, object]:
        return {"token": self.token, "name": self.record.name, "role": self.record.role}


def add_user(store: Store, name: str, role: str, *, actor: str) -> UserRecord:
    check_name(name, what="user")
    return store.access.add_user(name, parse_role(role).value, actor=actor)


def set_user_disabled(store: Store, name: str, disabled: bool, *, actor: str) -> UserRecord:
    return store.access.set_user_disabled(name, disabled, actor=actor)


def create_token(
    store: Store,
    name: str,
    role: str,
    *,
    actor: str,
    user: str | None = None,
    models: Sequence[str] | None = None,
    deployments: Sequence[str] | None = None,
    expires_in_s: float | None = None,
) -> NewToken:
    check_name(name, what="token")
    parsed = parse_role(role)
    if expires_in_s is not None and expires_in_s <= 0:
        raise InvalidInput(f"a token's lifetime must be positive, got {expires_in_s} s")
    for scope in (*(models or ()), *(deployments or ())):
        check_name(scope, what="model or deployment")
    if user is not None:
        user_record = store.access.get_user(user)
        if not ROLE_PERMISSIONS[parsed] <= ROLE_PERMISSIONS[Role(user_record.role)]:
            raise InvalidInput(
                f"a token of user {user!r} cannot have role {parsed.value!r}: "
                f"the user's role is {user_record.role!r}"
            )
    secret = tokens.new_token()
    created = now_ms()
    record = TokenRecord(
        name=name,
        token_hash=tokens.token_hash(secret),
        display=tokens.display(secret),
        role=parsed.value,
        user=user,
        models=tuple(sorted(set(models))) if models else None,
        deployments=tuple(sorted(set(deployments))) if deployments else None,
        created_at=created,
        created_by=actor,
        expires_at=created + int(expires_in_s * 1000) if expires_in_s is not None else None,
        last_used_at=None,
        revoked_at=None,
    )
    return NewToken(secret, store.access.add_token(record, actor=actor))
