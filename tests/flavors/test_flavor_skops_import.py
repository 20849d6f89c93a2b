"""The cached skops import gives skops exactly the trusted names a normal import does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = """
import json, sys, time
from shipyard.flavors.skops_import import import_skops
import_skops()
from skops.io import _trusted_types
print(json.dumps(list(_trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES)))
"""

NORMAL = """
import json
from skops.io import _trusted_types
print(json.dumps(list(_trusted_types.SKLEARN_ESTIMATOR_TYPE_NAMES)))
"""


@pytest.mark.slow
def test_cached_import_matches_a_normal_one(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}

    def run(code: str) -> list[str]:
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout
        return json.loads(out)

    normal = run(NORMAL)
    first = run(PROBE)  # writes the cache
    cached_files = list((tmp_path / "shipyard").glob("skops-trusted-*.json"))
    assert len(cached_files) == 1
    second = run(PROBE)  # takes the fast path
    assert normal == first == second and len(normal) > 100


@pytest.mark.slow
def test_a_corrupt_cache_falls_back_to_a_normal_import(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    subprocess.run(
        [sys.executable, "-c", PROBE], env=env, check=True, capture_output=True, timeout=120
    )
    cache = next((tmp_path / "shipyard").glob("skops-trusted-*.json"))
    cache.write_text("not json")
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    assert len(json.loads(out)) > 100
