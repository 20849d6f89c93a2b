"""Shipyard's own wheel for an image: Shipyard is not on PyPI under this name.

The wheel is built from the source the running distribution was installed
from (its ``direct_url.json``: an editable or local-folder install), so the
image runs the code that was tested here. A distribution installed from a
wheel file that still exists is copied as it is.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from shipyard.errors import ShipyardError

DISTRIBUTION = "shipyard"


#: Wheels built in this process, by source folder and fingerprint: contexts for several
#: deployments (or bake and fetch of one) build the wheel once while the source is unchanged.
_built: dict[tuple[Path, str], tuple[Path, str]] = {}  # -> (wheel, its sha256)
_NOT_SOURCE = frozenset({"build", "dist", "__pycache__", "node_modules"})


def build_wheel(out: Path) -> Path:
    """Put a wheel of the installed Shipyard into ``out``; return its path."""
    source = _installed_from()
    out.mkdir(parents=True, exist_ok=True)
    if source.is_file() and source.suffix == ".whl":
        return Path(shutil.copy2(source, out / source.name))
    if not (source / "pyproject.toml").is_file():
        raise ShipyardError(f"cannot build Shipyard's wheel: {source} has no pyproject.toml")
    key = (source, _fingerprint(source))
    earlier, sha256 = _built.get(key, (None, ""))
    if earlier is not None and earlier.is_file() and _sha256(earlier) == sha256:
        return Path(shutil.copy2(earlier, out / earlier.name))
    wheel = _pip_wheel(source, out)
    _built[key] = (wheel, _sha256(wheel))
    return wheel


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fingerprint(source: Path) -> str:
    """Names, sizes and modification times of the source files (not hidden folders,
    build outputs or caches): any edit changes it."""
    digest = hashlib.sha256()
    for folder, dirs, files in os.walk(source):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_SOURCE)
        for name in sorted(files):
            stat = os.stat(os.path.join(folder, name))
            digest.update(f"{folder}/{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _pip_wheel(source: Path, out: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
        capture_output=True,
        text=True,
        check=False,
    )
    wheels = sorted(out.glob(f"{DISTRIBUTION}-*.whl"))
    if result.returncode != 0 or not wheels:
        detail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise ShipyardError(
            f"cannot build Shipyard's wheel from {source}: pip wheel failed: " + " / ".join(detail)
        )
    return wheels[-1]


def _installed_from() -> Path:
    """The folder (or wheel file) the running Shipyard was installed from."""
    try:
        distribution = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError as exc:
        raise ShipyardError(
            "cannot build Shipyard's wheel: Shipyard runs without being installed; "
            "pip install the project (pip install -e /path/to/shipyard)"
        ) from exc
    text = distribution.read_text("direct_url.json")
    url = json.loads(text).get("url", "") if text else ""
    if not url.startswith("file://"):
        raise ShipyardError(
            "cannot build Shipyard's wheel: the installed distribution does not record a local "
            "source folder or wheel (direct_url.json); install Shipyard from its source "
            "folder (pip install /path/to/shipyard) and build again"
        )
    path = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
    if not path.exists():
        raise ShipyardError(f"cannot build Shipyard's wheel: its source {path} no longer exists")
    return path
