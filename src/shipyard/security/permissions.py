"""The one permission table: which role may do what.

Every HTTP route names one ``Permission`` (``server/route_permissions.py``);
a role holds a set of them; a token may be narrowed to named models and
deployments. Nothing else decides access, so this table, the README's
table and the role x route test are the same thing seen three ways.
"""

from __future__ import annotations

from enum import StrEnum

from shipyard.errors import InvalidInput


class Role(StrEnum):
    VIEWER = "viewer"
    PREDICTOR = "predictor"
    SCIENTIST = "scientist"
    DEPLOYER = "deployer"
    ADMIN = "admin"


class Permission(StrEnum):
    READ = "read"  # everything but secrets: runs, models, deployments, monitors, pipelines
    READ_PREDICTIONS = "read_predictions"  # logged inputs and outputs, drift and quality
    PREDICT = "predict"  # the three predict protocols and model metadata
    FEEDBACK = "feedback"  # labels and outcomes for served predictions
    WRITE_RUNS = "write_runs"  # runs, datasets
    REGISTER = "register"  # register versions, tags, non-protected aliases
    SET_PROTECTED_ALIAS = "set_protected_alias"  # champion and the other protected aliases
    DEPLOY = "deploy"  # deployments, policies, rollouts, monitors
    RUN_PIPELINES = "run_pipelines"  # start, approve, reject, retry pipeline runs
    MANAGE_WEBHOOKS = "manage_webhooks"  # webhooks hold secrets
    MANAGE_ACCESS = "manage_access"  # users, tokens, keys


#: Aliases only a deployer may move: they decide what production serves.
PROTECTED_ALIASES = frozenset({"champion", "production", "prod"})

_VIEWER = {Permission.READ, Permission.READ_PREDICTIONS}
_PREDICTOR = {Permission.PREDICT, Permission.FEEDBACK}
_SCIENTIST = _VIEWER | {Permission.WRITE_RUNS, Permission.REGISTER}
_DEPLOYER = _SCIENTIST | {
    Permission.PREDICT,
    Permission.FEEDBACK,
    Permission.SET_PROTECTED_ALIAS,
    Permission.DEPLOY,
    Permission.RUN_PIPELINES,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.VIEWER: frozenset(_VIEWER),
    Role.PREDICTOR: frozenset(_PREDICTOR),
    Role.SCIENTIST: frozenset(_SCIENTIST),
    Role.DEPLOYER: frozenset(_DEPLOYER),
    Role.ADMIN: frozenset(Permission),
}


def role_allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[role]


def parse_role(text: str) -> Role:
    """A role from its name, with an error that lists the valid ones."""
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise InvalidInput(
            f"unknown role {text!r}; roles: {', '.join(r.value for r in Role)}"
        ) from None
