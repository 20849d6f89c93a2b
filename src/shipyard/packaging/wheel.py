"""Shipyard's own wheel for an image: Shipyard is not on PyPI under this name.

The wheel is built from the source the running distribution was installed
from (its ``direct_url.json``: an editable or local-folder install), so the
image runs the code that was tested here. A distribution installed from a
wheel file that still exists is copied as it is.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

from shipyard.errors import ShipyardError

DISTRIBUTION = "shipyard"


def build_wheel(out: Path) -> Path:
    """Put a wheel of the installed Shipyard into ``out``; return its path."""
    source = _installed_from()
    out.mkdir(parents=True, exist_ok=True)
    if source.is_file() and source.suffix == ".whl":
        return Path(shutil.copy2(source, out / source.name))
    if not (source / "pyproject.toml").is_file():
        raise ShipyardError(f"cannot build Shipyard's wheel: {source} has no pyproject.toml")
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
