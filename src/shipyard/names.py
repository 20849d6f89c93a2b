"""Rules for user-chosen names, checked once at the edge of every write.

Names appear in URIs (``models:/fraud@champion``), paths and URLs, so they
are restricted to letters, digits, ``_``, ``-`` and ``.``.
"""

from __future__ import annotations

import re

from shipyard.errors import InvalidInput

# No ".." anywhere: every dot is followed by another character or ends the name.
NAME_PATTERN = r"^[A-Za-z0-9](?:[A-Za-z0-9_\-]|\.[A-Za-z0-9_\-])*\.?$"
NAME_MAX_LENGTH = 256
_NAME = re.compile(NAME_PATTERN)
ALIAS_PATTERN = r"^[A-Za-z][A-Za-z0-9_\-]{0,127}$"
_ALIAS = re.compile(ALIAS_PATTERN)
RESERVED_ALIASES = frozenset({"latest"})


def check_name(name: str, what: str = "model") -> str:
    if not isinstance(name, str) or len(name) > NAME_MAX_LENGTH or not _NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid {what} name {name!r}: use 1-256 letters, digits, '_', '-' or '.', "
            "starting with a letter or digit"
        )
    return name


def check_alias(alias: str) -> str:
    if not isinstance(alias, str) or not _ALIAS.fullmatch(alias):
        raise InvalidInput(
            f"invalid alias {alias!r}: use 1-128 letters, digits, '_' or '-', "
            "starting with a letter"
        )
    if alias.lower() in RESERVED_ALIASES:
        raise InvalidInput(f"alias {alias!r} is reserved (models:/NAME/latest is built in)")
    return alias
