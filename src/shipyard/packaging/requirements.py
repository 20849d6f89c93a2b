"""Pinned requirements for an image: exactly what this environment runs and was tested with.

``pip freeze`` would pin the test tools too; Shipyard's declared requirements
(``fastapi>=0.110``) would let pip pick newer, untested releases inside the
image. So the pins are the closure of Shipyard's runtime requirements (plus the
``postgres`` extra a production store needs) and the served versions' recorded
requirements, walked through the installed distributions' metadata, each at
the version installed here. A version that recorded a different version of a
library (trained elsewhere) keeps its own pin: the model was saved with it.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from dataclasses import dataclass, field

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from shipyard.entities import ModelVersion
from shipyard.errors import InvalidInput, ShipyardError

SELF = "shipyard"
#: Extras of Shipyard a serving image always needs (PostgreSQL is the production store).
IMAGE_EXTRAS = ("postgres",)


@dataclass(frozen=True)
class PinnedRequirements:
    """``name==version`` lines for the image, and where a version's pin won."""

    pins: dict[str, str]  # canonical name -> version
    from_versions: dict[str, str] = field(default_factory=dict)  # pins differing from here

    def lines(self) -> list[str]:
        return [f"{name}=={version}" for name, version in sorted(self.pins.items())]


def pin_requirements(versions: Iterable[ModelVersion]) -> PinnedRequirements:
    """The runtime closure of Shipyard and the versions' recorded requirements, pinned."""
    wanted = _version_pins(versions)
    roots: list[tuple[str, frozenset[str]]] = [(SELF, frozenset(IMAGE_EXTRAS))]
    roots += [(name, frozenset()) for name in wanted]
    installed = _closure(roots)
    installed.pop(SELF, None)  # Shipyard goes in as its own wheel
    differing = {n: v for n, v in wanted.items() if installed.get(n) != v}
    return PinnedRequirements({**installed, **wanted}, differing)


def _version_pins(versions: Iterable[ModelVersion]) -> dict[str, str]:
    """Each version's ``name==version`` requirements; two versions disagreeing is an error
    (one image has one scikit-learn)."""
    pins: dict[str, str] = {}
    owners: dict[str, str] = {}
    for version in versions:
        for line in version.requirements:
            name, pinned = _parse_pin(line, version.uri)
            if name in pins and pins[name] != pinned:
                raise ShipyardError(
                    f"{owners[name]} needs {name}=={pins[name]} but {version.uri} needs "
                    f"{name}=={pinned}: one image cannot hold both; re-register one of them "
                    "in the same environment"
                )
            pins[name] = pinned
            owners[name] = version.uri
    return pins


def _parse_pin(line: str, uri: str) -> tuple[str, str]:
    try:
        requirement = Requirement(line)
    except InvalidRequirement as exc:
        raise InvalidInput(f"{uri} records an unreadable requirement {line!r}: {exc}") from exc
    specifiers = list(requirement.specifier)
    if len(specifiers) != 1 or specifiers[0].operator != "==":
        raise InvalidInput(f"{uri} records {line!r}, not a name==version pin")
    return canonicalize_name(requirement.name), specifiers[0].version


def _closure(roots: list[tuple[str, frozenset[str]]]) -> dict[str, str]:
    """Every distribution the roots need here (markers evaluated for this interpreter and
    platform, which the image's base matches), with its installed version."""
    found: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    pending = list(roots)
    while pending:
        name, extras = pending.pop()
        key = (canonicalize_name(name), extras)
        if key in seen:
            continue
        seen.add(key)
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError as exc:
            raise ShipyardError(
                f"{name} is needed in the image but not installed here, so its tested "
                f"version is unknown: pip install {name}"
            ) from exc
        found[key[0]] = distribution.version
        for line in distribution.requires or []:
            requirement = Requirement(line)
            if _applies(requirement, extras):
                pending.append((requirement.name, frozenset(requirement.extras)))
    return found


def _applies(requirement: Requirement, extras: frozenset[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in ("", *extras))
