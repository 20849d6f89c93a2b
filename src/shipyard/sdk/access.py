"""The ``shipyard.Client`` methods for users and API tokens (apart, so client.py stays small)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from shipyard.entities import TokenRecord, UserRecord
from shipyard.sdk.operations import operation
from shipyard.security import service
from shipyard.security.permissions import Permission as P
from shipyard.security.service import NewToken

if TYPE_CHECKING:
    from shipyard.store import Store


class AccessMethods:
    """Users and tokens. Direct store access is the root of trust: whoever can open the
    workspace can make the first admin token (there is no default password)."""

    store: Store

    @property
    def actor(self) -> str:
        raise NotImplementedError  # the Client says who is acting

    @operation(P.MANAGE_ACCESS)
    def add_user(self, name: str, role: str) -> UserRecord:
        return service.add_user(self.store, name, role, actor=self.actor)

    @operation(P.MANAGE_ACCESS)
    def list_users(self) -> list[UserRecord]:
        return self.store.access.users()

    @operation(P.MANAGE_ACCESS)
    def disable_user(self, name: str) -> UserRecord:
        """Disabled users' tokens stop working on every server within a poll interval."""
        return service.set_user_disabled(self.store, name, True, actor=self.actor)

    @operation(P.MANAGE_ACCESS)
    def enable_user(self, name: str) -> UserRecord:
        return service.set_user_disabled(self.store, name, False, actor=self.actor)

    @operation(P.MANAGE_ACCESS)
    def create_token(
        self,
        name: str,
        role: str,
        *,
        user: str | None = None,
        models: Sequence[str] | None = None,
        deployments: Sequence[str] | None = None,
        expires_in_s: float | None = None,
    ) -> NewToken:
        """A new token; ``.token`` is the secret, shown this once and stored only as a hash."""
        return service.create_token(
            self.store,
            name,
            role,
            actor=self.actor,
            user=user,
            models=models,
            deployments=deployments,
            expires_in_s=expires_in_s,
        )

    @operation(P.MANAGE_ACCESS)
    def list_tokens(self) -> list[TokenRecord]:
        return self.store.access.tokens()

    @operation(P.MANAGE_ACCESS)
    def revoke_token(self, name: str) -> TokenRecord:
        return self.store.access.revoke_token(name, actor=self.actor)
