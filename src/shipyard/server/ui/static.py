"""The dashboard's static files (its stylesheet, its two small scripts and the vendored
uPlot), served
from the package so an installed wheel works offline. Only files present at start are
served: the path never reaches the file system unchecked."""

from __future__ import annotations

from pathlib import Path

from starlette.responses import FileResponse, Response

from shipyard.errors import NotFound

STATIC = Path(__file__).parent / "static"
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}


def static_files() -> dict[str, Path]:
    return {
        str(path.relative_to(STATIC)): path
        for path in STATIC.rglob("*")
        if path.is_file() and path.suffix in _TYPES
    }


def serve_static(files: dict[str, Path], path: str) -> Response:
    found = files.get(path)
    if found is None:
        raise NotFound(f"no static file {path!r}")
    return FileResponse(
        found,
        media_type=_TYPES[found.suffix],
        headers={"cache-control": "public, max-age=3600", "x-content-type-options": "nosniff"},
    )
