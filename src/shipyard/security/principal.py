"""Who is calling: a role, optionally narrowed to named models and deployments."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.security.permissions import Permission, Role, role_allows


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind a request (a token, its user) or a direct store access (the OS user).

    ``models`` / ``deployments``: ``None`` means every one; a set narrows the
    token to those names for any route that names a model or deployment.
    """

    name: str
    role: Role
    token: str | None = None
    models: frozenset[str] | None = None
    deployments: frozenset[str] | None = None

    @property
    def actor(self) -> str:
        """How the audit trail names this caller."""
        if self.token is None:
            return self.name
        return (
            f"{self.name} (token {self.token})"
            if self.name != self.token
            else f"token:{self.token}"
        )

    @property
    def narrowed(self) -> bool:
        return self.models is not None or self.deployments is not None

    def denial(
        self, permission: Permission, *, model: str | None = None, deployment: str | None = None
    ) -> str | None:
        """Why this caller may not do it (a message naming the missing permission), or None.

        A narrowed token reaches only routes about the models and deployments it names:
        lists and everything else are out of its reach.
        """
        if not role_allows(self.role, permission):
            return f"role {self.role.value!r} lacks the {permission.value!r} permission"
        if not self.narrowed:
            return None
        if deployment is not None:
            if self.deployments is not None and deployment in self.deployments:
                return None
            return f"this token is limited to {self._scope()}"
        if model is not None:
            if self.models is not None and model in self.models:
                return None
            return f"this token is limited to {self._scope()}"
        return f"this token is limited to {self._scope()}"

    def _scope(self) -> str:
        parts = []
        if self.models is not None:
            parts.append(f"models {sorted(self.models)}")
        if self.deployments is not None:
            parts.append(f"deployments {sorted(self.deployments)}")
        return " and ".join(parts)
