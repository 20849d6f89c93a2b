"""``models:/NAME/VERSION``, ``models:/NAME@ALIAS`` and ``models:/NAME/latest``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from shipyard.errors import InvalidURI

_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[^/@]+))$")


@dataclass(frozen=True)
class ModelRef:
    name: str
    version: int | None = None  # None with alias None means "latest"
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias is not None:
            return f"models:/{self.name}@{self.alias}"
        return f"models:/{self.name}/{self.version if self.version is not None else 'latest'}"


def parse_model_uri(uri: str) -> ModelRef:
    if not isinstance(uri, str):
        raise InvalidURI(str(uri), "a model URI is a string")
    if not uri.startswith("models:/"):
        raise InvalidURI(
            uri, "expected models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME/latest"
        )
    match = _URI.match(uri)
    if match is None:
        raise InvalidURI(
            uri, "expected models:/NAME/VERSION, models:/NAME@ALIAS or models:/NAME/latest"
        )
    name, version, alias = match.group("name"), match.group("version"), match.group("alias")
    if alias is not None:
        return ModelRef(name, alias=alias)
    if version == "latest":
        return ModelRef(name)
    if version is None or not version.isdigit() or int(version) < 1:
        raise InvalidURI(uri, f"version must be a positive integer or 'latest', got {version!r}")
    return ModelRef(name, version=int(version))


def parse_model_spec(spec: str) -> ModelRef:
    """CLI shorthand: ``fraud``, ``fraud@champion``, ``fraud/3`` or a full URI."""
    if spec.startswith("models:/"):
        return parse_model_uri(spec)
    return parse_model_uri(
        f"models:/{spec}" if ("/" in spec or "@" in spec) else f"models:/{spec}/latest"
    )
